package resolve

import (
	"net"
	"net/netip"
	"testing"
)

func TestControlledPrefix(t *testing.T) {
	tests := []struct {
		cidr string
		want string // "" = not a controlled network
	}{
		{"192.168.56.1/24", "192.168.56.0/24"},
		{"172.16.5.1/16", "172.16.0.0/16"},
		{"10.0.0.2/8", ""},
		{"192.168.1.100/24", ""},
		{"fe80::1/64", ""},
	}
	for _, tt := range tests {
		t.Run(tt.cidr, func(t *testing.T) {
			ip, ipn, err := net.ParseCIDR(tt.cidr)
			if err != nil {
				t.Fatal(err)
			}
			ipn.IP = ip // interface addresses carry the host address, not the network
			got, ok := controlledPrefix(ipn)
			if tt.want == "" {
				if ok {
					t.Fatalf("controlledPrefix() = %v, want none", got)
				}
				return
			}
			if !ok || got != netip.MustParsePrefix(tt.want) {
				t.Fatalf("controlledPrefix() = %v, %v; want %s", got, ok, tt.want)
			}
		})
	}
}

func TestControlledPrefix16ByteMask(t *testing.T) {
	ipn := &net.IPNet{IP: net.ParseIP("192.168.56.1"), Mask: net.CIDRMask(120, 128)}
	got, ok := controlledPrefix(ipn)
	if !ok || got != netip.MustParsePrefix("192.168.56.0/24") {
		t.Fatalf("controlledPrefix() = %v, %v; want 192.168.56.0/24", got, ok)
	}
}

func TestInterfaceNetworks(t *testing.T) {
	nets, err := interfaceNetworks()
	if err != nil {
		t.Fatalf("interfaceNetworks() error = %v", err)
	}
	for _, n := range nets {
		if !n.Addr().Is4() || n.Addr().IsLoopback() {
			t.Errorf("unexpected controlled network %v", n)
		}
	}
}
