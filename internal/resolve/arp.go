package resolve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// errNoARPEntry is returned (wrapped) when the ARP table has no complete entry for an IP.
var errNoARPEntry = errors.New("no ARP entry")

// atfComplete is the ARP flag of a resolved entry (ATF_COM); incomplete entries hold a zero MAC.
const atfComplete = 0x2

// readARPFile finds ip's hardware address in a file laid out like Linux's /proc/net/arp.
func readARPFile(path string, ip netip.Addr) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read ARP table: %w", err)
	}
	defer f.Close()
	return parseARP(f, ip)
}

// parseARP finds ip's normalised hardware address in a Linux ARP table:
//
//	IP address       HW type     Flags       HW address            Mask     Device
//	192.168.122.15   0x1         0x2         52:54:00:ab:cd:ef     *        virbr0
func parseARP(r io.Reader, ip netip.Addr) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		a, err := netip.ParseAddr(f[0]) // the header line does not parse
		if err != nil || a.Unmap() != ip {
			continue
		}
		if flags, err := strconv.ParseUint(f[2], 0, 32); err != nil || flags&atfComplete == 0 {
			continue
		}
		mac, ok := normalizeMAC(f[3])
		if !ok || strings.Trim(mac, "0:") == "" {
			continue
		}
		return mac, nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read ARP table: %w", err)
	}
	return "", fmt.Errorf("%w: %s", errNoARPEntry, ip)
}

// normalizeMAC writes a hardware address the way resources store it: lowercase, octets of two
// hex digits separated by ":" (a:B:c:d:e:f → 0a:0b:0c:0d:0e:0f). "-" separators are accepted.
func normalizeMAC(s string) (string, bool) {
	octets := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
	if len(octets) < 6 || strings.Count(s, ":")+strings.Count(s, "-") != len(octets)-1 {
		return "", false
	}
	for i, o := range octets {
		if len(o) > 2 {
			return "", false
		}
		v, err := strconv.ParseUint(o, 16, 8)
		if err != nil {
			return "", false
		}
		octets[i] = fmt.Sprintf("%02x", v)
	}
	return strings.Join(octets, ":"), true
}
