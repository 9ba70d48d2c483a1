package resolve

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleARP = `IP address       HW type     Flags       HW address            Mask     Device
192.168.56.20    0x1         0x2         52:54:00:0A:B:c       *        vboxnet0
192.168.56.21    0x1         0x0         00:00:00:00:00:00     *        vboxnet0
192.168.56.22    0x1         0x6         08:00:27:11:22:33     *        vboxnet0
192.168.56.23    0x1         0x2         00:00:00:00:00:00     *        vboxnet0
garbage
`

func TestParseARP(t *testing.T) {
	tests := []struct {
		ip   string
		want string // "" = no entry
	}{
		{"192.168.56.20", "52:54:00:0a:0b:0c"},
		{"192.168.56.21", ""}, // incomplete
		{"192.168.56.22", "08:00:27:11:22:33"},
		{"192.168.56.23", ""}, // zero MAC
		{"192.168.56.99", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			got, err := parseARP(strings.NewReader(sampleARP), netip.MustParseAddr(tt.ip))
			if tt.want == "" {
				if !errors.Is(err, errNoARPEntry) {
					t.Fatalf("parseARP() = %q, %v; want errNoARPEntry", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseARP() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestReadARPFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arp")
	if err := os.WriteFile(path, []byte(sampleARP), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readARPFile(path, netip.MustParseAddr("192.168.56.22"))
	if err != nil || got != "08:00:27:11:22:33" {
		t.Fatalf("readARPFile() = %q, %v", got, err)
	}
	if _, err := readARPFile(filepath.Join(t.TempDir(), "missing"), netip.MustParseAddr("192.168.56.22")); err == nil {
		t.Fatal("readARPFile() of a missing file: no error")
	}
}

func TestNormalizeMAC(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = invalid
	}{
		{"52:54:00:ab:cd:ef", "52:54:00:ab:cd:ef"},
		{"52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"},
		{"a:b:c:d:e:f", "0a:0b:0c:0d:0e:0f"},
		{"0:1:2:3:4:5", "00:01:02:03:04:05"},
		{"08-00-27-1A-2B-3C", "08:00:27:1a:2b:3c"},
		{"00:11:22:33:44:55:66:77", "00:11:22:33:44:55:66:77"},
		{"", ""},
		{"52:54:00:ab:cd", ""},
		{"52:54:00:ab:cd:efg", ""},
		{"52:54:00:ab:cd:gg", ""},
		{"52:54::ab:cd:ef:01", ""},
		{"525400abcdef", ""},
		{"52:54:00:ab:cd:ef:", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := normalizeMAC(tt.in)
			if tt.want == "" {
				if ok {
					t.Fatalf("normalizeMAC(%q) = %q, want invalid", tt.in, got)
				}
				return
			}
			if !ok || got != tt.want {
				t.Fatalf("normalizeMAC(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
			}
		})
	}
}
