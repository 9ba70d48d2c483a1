//go:build linux

package native

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// tcpListen is the state column of a listening socket in /proc/net/tcp.
const tcpListen = "0A"

// socketTables are the kernel's TCP socket tables of this network namespace.
var socketTables = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// socketOwner finds the socket whose local address is remote and whose peer is local (the
// client end of a connection the node accepted) and returns the uid that owns it.
func socketOwner(remote, local netip.AddrPort) (uint32, bool) {
	remote = unmapAddrPort(remote)
	local = unmapAddrPort(local)
	for _, table := range socketTables {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		uid, ok := findSocket(f, remote, local)
		f.Close()
		if ok {
			return uid, true
		}
	}
	return 0, false
}

// findSocket scans one table in the /proc/net/tcp format:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
func findSocket(r io.Reader, self, peer netip.AddrPort) (uint32, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[3] == tcpListen {
			continue
		}
		l, ok1 := parseSocketAddr(f[1])
		p, ok2 := parseSocketAddr(f[2])
		if !ok1 || !ok2 || l != self || p != peer {
			continue
		}
		uid, err := strconv.ParseUint(f[7], 10, 32)
		if err != nil {
			return 0, false
		}
		return uint32(uid), true
	}
	return 0, false
}

// parseSocketAddr decodes "0100007F:1F90": the address is hex of 32-bit words in the host's
// byte order (one word for IPv4, four for IPv6), the port hex in the usual order.
// IPv4-mapped IPv6 addresses come back as IPv4.
func parseSocketAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

func unmapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}
