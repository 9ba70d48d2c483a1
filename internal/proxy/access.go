package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	socks5 "github.com/armon/go-socks5"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// access decides the one request of one client connection. go-socks5 calls Rewrite (which
// makes the decision and names the redirect), then Allow (which reports it), then Dial.
type access struct {
	p      *Proxy
	ctx    context.Context
	conn   net.Conn
	remote netip.AddrPort
	local  netip.AddrPort

	mu     sync.Mutex
	target net.Conn // the tunnel's far end, once dialled
}

// decisionKey carries the decision from Rewrite to Allow in the request context.
type decisionKey struct{}

var (
	_ socks5.AddressRewriter = (*access)(nil)
	_ socks5.RuleSet         = (*access)(nil)
	_ socks5.NameResolver    = deferredResolver{}
)

// Rewrite checks the request and returns where to connect instead.
func (a *access) Rewrite(ctx context.Context, req *socks5.Request) (context.Context, *socks5.AddrSpec) {
	// The request has been read: what follows may be a long-lived tunnel.
	_ = a.conn.SetDeadline(time.Time{})
	if req.Command != socks5.ConnectCommand {
		return context.WithValue(ctx, decisionKey{}, false), req.DestAddr
	}
	target, ok := a.p.decide(a.ctx, a.remote, a.local, req.DestAddr)
	if !ok {
		return context.WithValue(ctx, decisionKey{}, false), req.DestAddr
	}
	return context.WithValue(ctx, decisionKey{}, true), target
}

// Allow reports the decision Rewrite made; a request it did not see is denied.
func (a *access) Allow(ctx context.Context, _ *socks5.Request) (context.Context, bool) {
	ok, _ := ctx.Value(decisionKey{}).(bool)
	return ctx, ok
}

// dial connects to the redirect (resolving it when it is a name) and registers the connection
// so that Close ends the tunnel.
func (a *access) dial(_ context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(a.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if !a.p.track(c, false) {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	a.mu.Lock()
	a.target = c
	a.mu.Unlock()
	return c, nil
}

// closeTarget forgets the tunnel's far end (go-socks5 has closed it when ServeConn returns).
func (a *access) closeTarget() {
	a.mu.Lock()
	c := a.target
	a.mu.Unlock()
	if c != nil {
		_ = c.Close()
		a.p.untrack(c)
	}
}

// decide applies the access rule to a CONNECT from remote to dest. It returns the address to
// connect to, with the requested port.
func (p *Proxy) decide(ctx context.Context, remote, local netip.AddrPort, dest *socks5.AddrSpec) (*socks5.AddrSpec, bool) {
	key := destinationKey(dest)
	res, err := p.res.Resource(ctx, remote, local)
	if err != nil {
		p.deny(remote, key, dest.Port, "unknown client", nil)
		return nil, false
	}
	maps, err := p.maps.ServiceMappings(ctx, key)
	if err != nil {
		p.log.Error("unable to read the service mappings", "service", key, "err", err)
		p.deny(remote, key, dest.Port, "service mappings unavailable", &res)
		return nil, false
	}
	m, ok := pickMapping(maps, res.ApplicationUID, p.cfg.Location)
	if !ok {
		p.deny(remote, key, dest.Port, "no service mapping", &res)
		return nil, false
	}
	target := &socks5.AddrSpec{Port: dest.Port}
	if ip, err := netip.ParseAddr(m.Redirect); err == nil {
		target.IP = net.IP(ip.AsSlice())
	} else {
		target.FQDN = m.Redirect // resolved when dialled; a failure denies the request
	}
	p.log.Debug("proxy allowed", "client", remote.Addr(), "resource", res.UID,
		"service", key, "mapping", m.UID, "redirect", m.Redirect, "port", dest.Port)
	return target, true
}

func (p *Proxy) deny(remote netip.AddrPort, key string, port int, reason string, res *model.Resource) {
	dest := net.JoinHostPort(key, strconv.Itoa(port))
	attrs := []any{"reason", reason}
	if res != nil {
		attrs = append(attrs, "resource", res.UID)
	}
	p.log.Info(fmt.Sprintf("Denied proxy from %s to %s", remote.Addr(), dest), attrs...)
}

// destinationKey is what a service mapping is looked up by: the FQDN as requested, or the IP.
func destinationKey(dest *socks5.AddrSpec) string {
	if dest.FQDN != "" {
		return dest.FQDN
	}
	if ip, ok := netip.AddrFromSlice(dest.IP); ok {
		return ip.Unmap().String()
	}
	return ""
}

// deferredResolver resolves nothing: go-socks5 would otherwise resolve the requested FQDN
// before the access check, and the check is on the name as requested.
type deferredResolver struct{}

func (deferredResolver) Resolve(ctx context.Context, _ string) (context.Context, net.IP, error) {
	return ctx, nil, nil
}
