//go:build linux

package native

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestParseSocketAddr(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the vectors are those of a little-endian host")
	}
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000000000000000000001000000:0050": "[::1]:80",
		"0000000000000000FFFF00000100007F:0050": "127.0.0.1:80",
		"B80D0120000000000000000001000000:01BB": "[2001:db8::1]:443",
	} {
		got, ok := parseSocketAddr(in)
		if !ok || got != netip.MustParseAddrPort(want) {
			t.Errorf("parseSocketAddr(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:XYZ", "01007F:0050", "zz00007F:0050"} {
		if _, ok := parseSocketAddr(bad); ok {
			t.Errorf("parseSocketAddr(%q) succeeded", bad)
		}
	}
}

func TestFindSocket(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the table is that of a little-endian host")
	}
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F49 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F49 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 0100007F:A000 0100007F:1F49 01 00000000:00000000 00:00000000 00000000  1234        0 3 1 0 20 4 30 10 -1
`
	server := netip.MustParseAddrPort("127.0.0.1:8009")
	client := netip.MustParseAddrPort("127.0.0.1:40960")
	if uid, ok := findSocket(strings.NewReader(table), client, server); !ok || uid != 1234 {
		t.Errorf("findSocket(client end) = %d, %v; want 1234, true", uid, ok)
	}
	if uid, ok := findSocket(strings.NewReader(table), server, netip.MustParseAddrPort("127.0.0.1:1")); ok {
		t.Errorf("findSocket(no such connection) = %d, true", uid)
	}
}

// TestSocketOwner checks the real socket tables with a connection of this process.
func TestSocketOwner(t *testing.T) {
	for _, network := range []struct{ listen, dial string }{
		{"127.0.0.1:0", "tcp4"},
		{"[::1]:0", "tcp6"},
	} {
		t.Run(network.dial, func(t *testing.T) {
			ln, err := net.Listen("tcp", network.listen)
			if err != nil {
				t.Skipf("no %s loopback here: %v", network.dial, err)
			}
			defer ln.Close()
			c, err := net.Dial(network.dial, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			remote := s.RemoteAddr().(*net.TCPAddr).AddrPort()
			local := s.LocalAddr().(*net.TCPAddr).AddrPort()
			uid, ok := socketOwner(remote, local)
			if !ok || uid != uint32(os.Geteuid()) {
				t.Errorf("socketOwner(%v, %v) = %d, %v; want %d, true", remote, local, uid, ok, os.Geteuid())
			}
			// The server's own end is not the peer.
			if _, ok := socketOwner(local, netip.MustParseAddrPort("127.0.0.1:1")); ok {
				t.Error("socketOwner found a connection that does not exist")
			}
		})
	}
}
