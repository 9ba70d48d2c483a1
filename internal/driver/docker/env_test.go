package docker

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestMetadataEnv(t *testing.T) {
	for _, c := range []struct {
		name string
		md   string
		want []string
	}{
		{"empty", `{}`, []string{}},
		{"scalars", `{"A":"label","N":1,"F":1.5,"E":1000000,"B":true,"Z":null}`,
			[]string{"A=label", "B=true", "E=1e+06", "F=1.5", "N=1", "Z="}},
		{"nested", `{"B":{"c":1,"d":{"e":"x"}}}`, []string{"B_c=1", "B_d_e=x"}},
		{"raw values", `{"Q":"it's a \"value\" $HOME\nnext"}`, []string{"Q=it's a \"value\" $HOME\nnext"}},
		{"key cleanup", `{"my-key":"1","9lives":"2","a.b":"3","ü":"4","":"5"}`,
			[]string{"a_b=3", "lives=2", "mykey=1"}},
		{"array", `{"L":["a","b"]}`, []string{"L=[a b]"}},
		{"reserved keys", `{"FISH_META_URL":"http://evil/","FISH_PROXY":"x","FISH_OTHER":"y"}`, []string{"FISH_OTHER=y"}},
		{"collision: last raw key wins", `{"a_b":"1","a.b":"2"}`, []string{"a_b=1"}},
		{"nul", `{"K":"a\u0000b"}`, []string{"K=ab"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var md map[string]any
			if err := json.Unmarshal([]byte(c.md), &md); err != nil {
				t.Fatal(err)
			}
			if got := metadataEnv(md); !slices.Equal(got, c.want) {
				t.Errorf("metadataEnv(%s) = %q, want %q", c.md, got, c.want)
			}
		})
	}
	if got := metadataEnv(map[string]any{"n": json.Number("1.50")}); !slices.Equal(got, []string{"n=1.5"}) {
		t.Errorf("json.Number: %q", got)
	}
}

func TestNodeEnv(t *testing.T) {
	gw := netip.MustParseAddr("172.18.0.1")
	ap := netip.MustParseAddrPort
	for _, c := range []struct {
		name       string
		api, proxy netip.AddrPort
		want       []string
		warn       string
	}{
		{"wildcard", ap("0.0.0.0:8001"), ap("[::]:1080"),
			[]string{"FISH_META_URL=https://172.18.0.1:8001/meta/v1/data/", "FISH_PROXY=socks5://172.18.0.1:1080"}, ""},
		{"gateway", ap("172.18.0.1:8001"), netip.AddrPort{},
			[]string{"FISH_META_URL=https://172.18.0.1:8001/meta/v1/data/"}, ""},
		{"loopback", ap("127.0.0.1:8001"), ap("127.0.0.1:1080"),
			[]string{"FISH_META_URL=https://172.18.0.1:8001/meta/v1/data/", "FISH_PROXY=socks5://172.18.0.1:1080"},
			"api_address 127.0.0.1:8001 listens on loopback only"},
		{"other address", ap("0.0.0.0:8001"), ap("192.0.2.7:1080"),
			[]string{"FISH_META_URL=https://172.18.0.1:8001/meta/v1/data/", "FISH_PROXY=socks5://172.18.0.1:1080"},
			"proxy_address 192.0.2.7:1080 does not listen on the container's gateway 172.18.0.1"},
		{"not listening", netip.AddrPort{}, ap("0.0.0.0:0"), nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			env, warnings := nodeEnv(gw, c.api, c.proxy)
			if !slices.Equal(env, c.want) {
				t.Errorf("env = %q, want %q", env, c.want)
			}
			switch w := strings.Join(warnings, "\n"); {
			case c.warn == "" && w != "":
				t.Errorf("unexpected warnings %q", w)
			case c.warn != "" && !strings.Contains(w, c.warn):
				t.Errorf("warnings %q, want %q", w, c.warn)
			}
		})
	}
}
