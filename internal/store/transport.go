package store

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
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

	mu      sync.Mutex
	active  map[*watchedConn]struct{}
	dropped bool // the HTTPS server is stopping: connections handed over now are closed at once
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
	if l.dropped {
		l.mu.Unlock()
		w.Close()
		return
	}
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
		w.Close()
		return
	}
	select {
	case <-w.done:
	case <-l.closed:
		w.Close()
	}
}

// DropConns closes the connections peers opened to this node, and those handed over later
// (a handshake still running): the HTTPS server is stopping, and waits for them to end.
func (l *StreamLayer) DropConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropped = true
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

// watchedConn tells Handoff when raft is done with a connection. Once closed on purpose, its
// reads end with io.EOF, the end raft expects, and its writes are dropped, rather than failing
// with errors raft would log: the peer sees the connection end either way.
type watchedConn struct {
	net.Conn
	once   sync.Once
	done   chan struct{}
	closed atomic.Bool
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.closed.Load() {
		err = io.EOF
	}
	return n, err
}

func (c *watchedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && c.closed.Load() {
		return len(p), nil
	}
	return n, err
}

func (c *watchedConn) Close() error {
	c.closed.Store(true)
	err := c.Conn.Close()
	c.once.Do(func() { close(c.done) })
	return err
}

// advertised is a net.Addr that prints as the configured string.
type advertised string

func (a advertised) Network() string { return "tcp" }
func (a advertised) String() string  { return string(a) }

// hintTTL is how long a member's word about its new address overrides the configuration.
const hintTTL = 30 * time.Second

// addressBook tells raft where members that came back on a new address are now (they said so
// in their join requests, over mutual TLS). Until a leader records the new address in the
// configuration, raft would dial the old one; and when the member is needed for a quorum, no
// leader can be elected to record it. A hint lasts hintTTL: the member repeats its request
// until it is recorded, after which the configuration is right.
type addressBook struct {
	mu    sync.Mutex
	hints map[raft.ServerID]addressHint
}

type addressHint struct {
	addr raft.ServerAddress
	at   time.Time
}

var _ raft.ServerAddressProvider = (*addressBook)(nil)

func newAddressBook() *addressBook {
	return &addressBook{hints: map[raft.ServerID]addressHint{}}
}

// note records that member id says it is at addr now.
func (b *addressBook) note(id raft.ServerID, addr raft.ServerAddress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hints[id] = addressHint{addr: addr, at: time.Now()}
}

// ServerAddr returns a fresh hint for id; raft falls back to the configured address on error.
func (b *addressBook) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.hints[id]
	if !ok {
		return "", errNoHint
	}
	if time.Since(h.at) > hintTTL {
		delete(b.hints, id)
		return "", errNoHint
	}
	return h.addr, nil
}

var errNoHint = errors.New("no address hint")
