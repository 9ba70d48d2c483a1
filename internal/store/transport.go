package store

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// ALPN protocol names that the node's HTTPS port carries besides HTTP.
const ProtoRaft = "fish-raft"

// StreamLayer carries raft's connections over the node's HTTPS port: the HTTPS server hands
// over the TLS connections that negotiated ProtoRaft (after checking the peer's certificate),
// and Dial opens one to a peer with this node's client certificate.
type StreamLayer struct {
	addr   net.Addr
	dial   func(address string, timeout time.Duration) (net.Conn, error)
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once

	mu     sync.Mutex
	active map[*watchedConn]struct{}
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer makes a stream layer advertising addr and dialling peers with dial.
func NewStreamLayer(addr string, dial func(address string, timeout time.Duration) (net.Conn, error)) *StreamLayer {
	return &StreamLayer{addr: advertised(addr), dial: dial, conns: make(chan net.Conn), closed: make(chan struct{}), active: map[*watchedConn]struct{}{}}
}

// Handoff gives an accepted connection to raft and blocks until raft closes it (the HTTPS
// server closes a connection when its protocol handler returns).
func (l *StreamLayer) Handoff(c net.Conn) {
	w := &watchedConn{Conn: c, done: make(chan struct{})}
	l.mu.Lock()
	l.active[w] = struct{}{}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.active, w)
		l.mu.Unlock()
	}()
	select {
	case l.conns <- w:
	case <-l.closed:
		c.Close()
		return
	}
	select {
	case <-w.done:
	case <-l.closed:
		c.Close()
	}
}

// DropConns closes the connections peers opened to this node (the HTTPS server is stopping);
// raft keeps accepting until the store closes.
func (l *StreamLayer) DropConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for w := range l.active {
		w.Close()
	}
}

func (l *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, errors.New("raft stream layer closed")
	}
}

func (l *StreamLayer) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *StreamLayer) Addr() net.Addr { return l.addr }

func (l *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.dial(string(address), timeout)
}

// watchedConn tells Handoff when raft is done with a connection.
type watchedConn struct {
	net.Conn
	once sync.Once
	done chan struct{}
}

func (c *watchedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.done) })
	return err
}

// advertised is a net.Addr that prints as the configured string.
type advertised string

func (a advertised) Network() string { return "tcp" }
func (a advertised) String() string  { return string(a) }
