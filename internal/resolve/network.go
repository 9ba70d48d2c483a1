package resolve

import (
	"fmt"
	"net"
	"net/netip"
)

// controlled reports whether ip lies in a network this host controls: a subnet of a local
// interface whose IPv4 address ends in .1 (the host side of the host-only and NAT bridges VM
// tools create). The interface list is cached for networksTTL.
func (r *Resolver) controlled(ip netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.netsRead.IsZero() || now.Sub(r.netsRead) >= networksTTL {
		nets, err := r.localNets()
		if err != nil {
			// Keep the previous list; try again after the TTL rather than on every request.
			r.log.Warn("unable to list the local networks", "err", err)
		} else {
			r.nets = nets
		}
		r.netsRead = now
	}
	for _, n := range r.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// interfaceNetworks lists the subnets of the non-loopback interfaces that hold an IPv4 address
// ending in .1. Loopback is left out: nothing behind it is in an ARP table.
func interfaceNetworks() ([]netip.Prefix, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var nets []netip.Prefix
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue // an interface that vanished meanwhile
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			if p, ok := controlledPrefix(ipn); ok {
				nets = append(nets, p)
			}
		}
	}
	return nets, nil
}

// controlledPrefix returns the subnet of an interface address when it is an IPv4 address
// ending in .1.
func controlledPrefix(ipn *net.IPNet) (netip.Prefix, bool) {
	addr, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	addr = addr.Unmap()
	if !addr.Is4() || addr.As4()[3] != 1 {
		return netip.Prefix{}, false
	}
	ones, bits := ipn.Mask.Size()
	if bits == 8*net.IPv6len {
		ones -= 8 * (net.IPv6len - net.IPv4len) // a 16-byte mask of an IPv4 address
	}
	if bits == 0 || ones < 0 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(addr, ones).Masked(), true
}
