// Package proxy runs the SOCKS5 proxy that resources of this node use to reach services.
//
// Only the live resources of this node may use it, identified by the TCP peer of the connection
// (package resolve), and only towards the services an administrator mapped: each CONNECT names
// a destination (an FQDN, not resolved before the check, or an IP), the most relevant service
// mapping for it is chosen by the resource's application and this node's location, and the
// tunnel goes to the mapping's redirect on the requested port. Anything else is denied. The
// protocol is served by github.com/armon/go-socks5, one server value per connection so that the
// access check knows both ends of the connection.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	socks5 "github.com/armon/go-socks5"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/resolve"
)

// Mappings is what the proxy needs from the state.
type Mappings interface {
	// ServiceMappings returns every mapping whose service equals service (exact).
	ServiceMappings(ctx context.Context, service string) ([]model.ServiceMapping, error)
}

// Config is the proxy's configuration.
type Config struct {
	// Address is the listening address, host:port (port 0 picks a free port).
	Address string
	// Location is this node's location name, used to choose service mappings.
	Location string
}

const (
	// handshakeTimeout bounds the time a client takes to send its request; the tunnel that
	// follows may idle as long as it likes.
	handshakeTimeout = 30 * time.Second
	// dialTimeout bounds the connection to a redirect.
	dialTimeout = 30 * time.Second
	// acceptBackoff is the pause after a failed Accept (out of file descriptors, for example).
	acceptBackoff = 100 * time.Millisecond
)

// ErrStarted is returned by Start when the proxy was already started or closed.
var ErrStarted = errors.New("proxy already started")

// Proxy is the SOCKS5 server for resources.
type Proxy struct {
	cfg    Config
	res    *resolve.Resolver
	maps   Mappings
	log    *slog.Logger
	libLog *log.Logger // go-socks5 logs what ServeConn also returns; we log the returned error

	mu      sync.Mutex
	started bool
	closed  bool
	ln      net.Listener
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	conns   map[net.Conn]struct{} // client connections and tunnel targets, closed by Close
	wg      sync.WaitGroup        // the accept loop and the connection goroutines
	stopCtx func() bool           // unregisters the Start context's AfterFunc
}

// New returns a proxy; Start binds it.
func New(cfg Config, res *resolve.Resolver, maps Mappings, log *slog.Logger) *Proxy {
	return &Proxy{
		cfg:    cfg,
		res:    res,
		maps:   maps,
		log:    log.With("component", "proxy"),
		libLog: newDiscardLogger(),
		conns:  map[net.Conn]struct{}{},
	}
}

// Start binds the listener and serves until Close or until ctx is done. It returns the bound
// address. A bind failure is returned: the node logs it and goes on without a proxy (several
// nodes may share one host and its default port).
func (p *Proxy) Start(ctx context.Context) (netip.AddrPort, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed {
		return netip.AddrPort{}, ErrStarted
	}
	ln, err := net.Listen("tcp", p.cfg.Address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("listen on %s: %w", p.cfg.Address, err)
	}
	p.started = true
	p.ln = ln
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.stopCtx = context.AfterFunc(ctx, func() { _ = p.Close() })
	p.wg.Add(1)
	go p.serve(ln)
	return addrPort(ln.Addr()), nil
}

// Close stops accepting, closes the open tunnels and waits for their goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var err error
	if p.ln != nil {
		err = p.ln.Close()
		p.cancel()
		p.stopCtx()
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()

	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// serve accepts connections until the listener is closed.
func (p *Proxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			p.log.Warn("proxy accept failed", "err", err)
			t := time.NewTimer(acceptBackoff)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if !p.track(c, true) {
			_ = c.Close()
			return
		}
		go p.serveConn(c)
	}
}

// track registers a connection for Close; with serving, it also counts its goroutine. It
// reports false when the proxy is closed.
func (p *Proxy) track(c net.Conn, serving bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	if serving {
		p.wg.Add(1)
	}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// serveConn runs the SOCKS5 protocol on one client connection.
func (p *Proxy) serveConn(c net.Conn) {
	defer p.wg.Done()
	defer p.untrack(c)

	a := &access{
		p:      p,
		ctx:    p.ctx,
		conn:   c,
		remote: addrPort(c.RemoteAddr()),
		local:  addrPort(c.LocalAddr()),
	}
	defer a.closeTarget()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))

	srv, err := socks5.New(&socks5.Config{
		Resolver: deferredResolver{},
		Rewriter: a,
		Rules:    a,
		Dial:     a.dial,
		Logger:   p.libLog,
	})
	if err != nil {
		_ = c.Close()
		p.log.Error("unable to create the SOCKS5 server", "err", err)
		return
	}
	if err := srv.ServeConn(c); err != nil {
		p.log.Debug("proxy connection ended", "client", a.remote, "err", err)
	}
}

// addrPort converts a TCP address; other addresses give the zero value.
func addrPort(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

func newDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
