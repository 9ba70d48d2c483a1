package resolve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/resolve/resolvetest"
)

// peerFunc is a driver.PeerIdentifier from a function.
type peerFunc func(remote, local netip.AddrPort) (string, bool)

func (p peerFunc) IdentifyPeer(remote, local netip.AddrPort) (string, bool) { return p(remote, local) }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestResolver returns a resolver whose host has the network 192.168.56.0/24 and an ARP
// table holding arp.
func newTestResolver(t *testing.T, l Lookup, peers []driver.PeerIdentifier, arp map[netip.Addr]string) *Resolver {
	t.Helper()
	r := NewResolver(l, func() []driver.PeerIdentifier { return peers }, discard())
	r.localNets = func() ([]netip.Prefix, error) {
		return []netip.Prefix{netip.MustParsePrefix("192.168.56.0/24")}, nil
	}
	r.arp = func(ip netip.Addr) (string, error) {
		if mac, ok := arp[ip]; ok {
			return mac, nil
		}
		return "", errNoARPEntry
	}
	return r
}

func TestResolverResource(t *testing.T) {
	byIP := model.Resource{UID: uuid.New(), IPAddr: "10.0.0.5", Identifier: "by-ip"}
	byMAC := model.Resource{UID: uuid.New(), HwAddr: "52:54:00:0a:0b:0c", Identifier: "by-mac"}
	outside := model.Resource{UID: uuid.New(), HwAddr: "52:54:00:0d:0e:0f", Identifier: "outside"}
	byPeer := model.Resource{UID: uuid.New(), Identifier: "user-7"}
	lookup := resolvetest.NewLookup(byIP, byMAC, outside, byPeer)

	arp := map[netip.Addr]string{
		netip.MustParseAddr("192.168.56.20"): "52:54:00:0a:0b:0c",
		netip.MustParseAddr("10.9.9.9"):      "52:54:00:0d:0e:0f", // not in a controlled network
	}
	local := netip.MustParseAddrPort("127.0.0.1:8001")
	peers := []driver.PeerIdentifier{
		peerFunc(func(remote, l netip.AddrPort) (string, bool) { return "", false }),
		peerFunc(func(remote, l netip.AddrPort) (string, bool) {
			if remote == netip.MustParseAddrPort("127.0.0.1:40000") && l == local {
				return "user-7", true
			}
			return "", false
		}),
	}
	r := newTestResolver(t, lookup, peers, arp)

	tests := []struct {
		name   string
		remote string
		want   string // identifier; "" = unknown caller
	}{
		{"by IP", "10.0.0.5:1234", "by-ip"},
		{"by IP, IPv4-mapped", "[::ffff:10.0.0.5]:1234", "by-ip"},
		{"by MAC in a controlled network", "192.168.56.20:1234", "by-mac"},
		{"MAC outside controlled networks", "10.9.9.9:1234", ""},
		{"controlled network, no ARP entry", "192.168.56.21:1234", ""},
		{"by peer identifier", "127.0.0.1:40000", "user-7"},
		{"peer identifier declines", "127.0.0.1:40001", ""},
		{"unknown", "10.0.0.6:1234", ""},
		{"no address", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var remote netip.AddrPort
			if tt.remote != "" {
				remote = netip.MustParseAddrPort(tt.remote)
			}
			res, err := r.Resource(context.Background(), remote, local)
			if tt.want == "" {
				if !errors.Is(err, ErrUnknownCaller) {
					t.Fatalf("Resource() = %q, %v; want ErrUnknownCaller", res.Identifier, err)
				}
				return
			}
			if err != nil || res.Identifier != tt.want {
				t.Fatalf("Resource() = %q, %v; want %q", res.Identifier, err, tt.want)
			}
		})
	}

	setIPs := lookup.SetIPs()
	if got := setIPs[byMAC.UID]; got != "192.168.56.20" {
		t.Errorf("IP stored for the resource found by MAC = %q, want 192.168.56.20", got)
	}
	if len(setIPs) != 1 {
		t.Errorf("SetResourceIP calls = %v, want only the one found by MAC", setIPs)
	}
}

func TestResolverIPBeforePeers(t *testing.T) {
	res := model.Resource{UID: uuid.New(), IPAddr: "127.0.0.1", Identifier: "vm"}
	asked := false
	peers := []driver.PeerIdentifier{peerFunc(func(_, _ netip.AddrPort) (string, bool) {
		asked = true
		return "other", true
	})}
	r := newTestResolver(t, resolvetest.NewLookup(res), peers, nil)
	got, err := r.Resource(context.Background(), netip.MustParseAddrPort("127.0.0.1:5"), netip.AddrPort{})
	if err != nil || got.Identifier != "vm" {
		t.Fatalf("Resource() = %q, %v; want vm", got.Identifier, err)
	}
	if asked {
		t.Error("a peer identifier was asked although the IP identified the caller")
	}
}

func TestResolverNetworksCached(t *testing.T) {
	now := time.Unix(1000, 0)
	reads := 0
	r := newTestResolver(t, resolvetest.NewLookup(), nil, nil)
	r.now = func() time.Time { return now }
	r.localNets = func() ([]netip.Prefix, error) {
		reads++
		return []netip.Prefix{netip.MustParsePrefix("192.168.56.0/24")}, nil
	}
	ip := netip.MustParseAddr("192.168.56.9")
	for range 3 {
		if !r.controlled(ip) {
			t.Fatal("controlled() = false, want true")
		}
	}
	if reads != 1 {
		t.Fatalf("interfaces read %d times within the TTL, want 1", reads)
	}
	now = now.Add(networksTTL)
	r.controlled(ip)
	if reads != 2 {
		t.Fatalf("interfaces read %d times after the TTL, want 2", reads)
	}
}

func TestResolverContextCancelled(t *testing.T) {
	r := newTestResolver(t, resolvetest.NewLookup(), nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Resource(ctx, netip.MustParseAddrPort("10.0.0.1:1"), netip.AddrPort{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Resource() error = %v, want context.Canceled", err)
	}
}
