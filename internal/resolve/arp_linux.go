//go:build linux

package resolve

import "net/netip"

// readARP finds ip's hardware address in the kernel's ARP table.
func readARP(ip netip.Addr) (string, error) {
	return readARPFile("/proc/net/arp", ip)
}
