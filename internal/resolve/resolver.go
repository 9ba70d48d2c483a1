// Package resolve identifies the resource behind a network connection, for the services that
// resources reach without credentials: the meta API and the SOCKS5 proxy.
//
// A caller is identified by the TCP peer address only, never by forwarded-for headers (they
// would let anyone impersonate a resource; spec README decision 5). The order is: the
// resource whose ip_addr is the peer IP; else, for a peer inside a network this host controls,
// the resource whose hw_addr is the peer's MAC in the ARP table (its IP is then stored for next
// time); else the drivers that can tell their resources apart by connection (local users share
// the host's addresses). Only resources of this node whose application is ALLOCATED count.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Lookup is what the caller identification needs from the state. Each LiveResourceBy method
// returns this node's resource with that attribute whose application is ALLOCATED, or an
// error when there is none. The resolver does not tell "none" from a failing state: either way
// the step does not identify the caller, so a fault can only refuse a caller, never admit one.
type Lookup interface {
	// LiveResourceByIP finds the live resource with ip_addr == ip.
	LiveResourceByIP(ctx context.Context, ip string) (model.Resource, error)
	// LiveResourceByHwAddr finds the live resource with hw_addr == mac (lowercase, zero-padded).
	LiveResourceByHwAddr(ctx context.Context, mac string) (model.Resource, error)
	// LiveResourceByIdentifier finds the live resource with the driver identifier.
	LiveResourceByIdentifier(ctx context.Context, identifier string) (model.Resource, error)
	// SetResourceIP records the IP a resource was found at through its MAC address.
	SetResourceIP(ctx context.Context, resourceUID model.UID, ip string) error
}

// ErrUnknownCaller is returned (wrapped) when no live resource of this node is behind a
// connection.
var ErrUnknownCaller = errors.New("client IP was not found in the node resources")

// networksTTL is how long the list of controlled networks is reused before the interfaces are
// read again (bridges of VM tools come and go, but rarely).
const networksTTL = 30 * time.Second

// Resolver identifies callers. It is safe for concurrent use.
type Resolver struct {
	lookup Lookup
	peers  func() []driver.PeerIdentifier
	log    *slog.Logger

	// Seams for tests; the defaults read the clock, the interfaces and the OS ARP table.
	now       func() time.Time
	localNets func() ([]netip.Prefix, error)
	arp       func(ip netip.Addr) (string, error)

	mu       sync.Mutex
	nets     []netip.Prefix
	netsRead time.Time // zero: never read
}

// NewResolver returns a resolver over l. peers returns the drivers that identify connections
// themselves; they are asked last, after the IP and MAC lookups. peers may be nil.
func NewResolver(l Lookup, peers func() []driver.PeerIdentifier, log *slog.Logger) *Resolver {
	if peers == nil {
		peers = func() []driver.PeerIdentifier { return nil }
	}
	return &Resolver{
		lookup:    l,
		peers:     peers,
		log:       log.With("component", "resolve"),
		now:       time.Now,
		localNets: interfaceNetworks,
		arp:       readARP,
	}
}

// Resource identifies the live resource of this node behind a connection from remote to local.
// It returns an error wrapping ErrUnknownCaller when there is none, or the context's error.
func (r *Resolver) Resource(ctx context.Context, remote, local netip.AddrPort) (model.Resource, error) {
	ip := remote.Addr().Unmap()
	if !ip.IsValid() {
		return model.Resource{}, fmt.Errorf("%w: no peer address", ErrUnknownCaller)
	}
	remote = netip.AddrPortFrom(ip, remote.Port())
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())

	res, err := r.lookup.LiveResourceByIP(ctx, ip.String())
	if err == nil {
		return res, nil
	}
	r.log.Debug("no live resource by IP", "ip", ip, "err", err)

	if res, ok := r.byHwAddr(ctx, ip); ok {
		return res, nil
	}
	if res, ok := r.byPeer(ctx, remote, local); ok {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return model.Resource{}, err
	}
	return model.Resource{}, fmt.Errorf("%w: %s", ErrUnknownCaller, ip)
}

// byHwAddr identifies a caller in a controlled network by the MAC address the ARP table holds
// for its IP, and stores the IP into the resource so the next lookup is by IP.
func (r *Resolver) byHwAddr(ctx context.Context, ip netip.Addr) (model.Resource, bool) {
	if !ip.Is4() || !r.controlled(ip) {
		return model.Resource{}, false
	}
	mac, err := r.arp(ip)
	if err != nil {
		r.log.Debug("no ARP entry for caller", "ip", ip, "err", err)
		return model.Resource{}, false
	}
	res, err := r.lookup.LiveResourceByHwAddr(ctx, mac)
	if err != nil {
		r.log.Debug("no live resource by MAC", "ip", ip, "mac", mac, "err", err)
		return model.Resource{}, false
	}
	if err := r.lookup.SetResourceIP(ctx, res.UID, ip.String()); err != nil {
		// The caller is identified all the same; it is only found the slow way next time.
		r.log.Warn("unable to store the resource IP", "resource", res.UID, "ip", ip, "err", err)
	} else {
		res.IPAddr = ip.String()
	}
	return res, true
}

// byPeer asks each driver that identifies connections itself.
func (r *Resolver) byPeer(ctx context.Context, remote, local netip.AddrPort) (model.Resource, bool) {
	for _, p := range r.peers() {
		id, ok := p.IdentifyPeer(remote, local)
		if !ok {
			continue
		}
		res, err := r.lookup.LiveResourceByIdentifier(ctx, id)
		if err != nil {
			r.log.Debug("no live resource by identifier", "identifier", id, "err", err)
			continue
		}
		return res, true
	}
	return model.Resource{}, false
}
