//go:build !linux

package resolve

import (
	"fmt"
	"net/netip"
	"runtime"
)

// readARP is not supported on this OS: callers are identified by IP or by their driver only.
func readARP(ip netip.Addr) (string, error) {
	return "", fmt.Errorf("%w: %s: the ARP table is not read on %s", errNoARPEntry, ip, runtime.GOOS)
}
