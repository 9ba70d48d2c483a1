package docker

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// The variables that tell a container where the node is.
const (
	EnvMetaURL = "FISH_META_URL"
	EnvProxy   = "FISH_PROXY"
)

// metadataEnv renders the metadata as KEY=value items for a container's environment: nested
// objects are flattened with "." and the key is cleaned up like the meta API's env format does;
// values are raw (the engine does not parse them). When two paths clean up to the same key, the
// one sorting last wins. Keys reserved for the driver's own variables are skipped.
func metadataEnv(md map[string]any) []string {
	vars := map[string]string{}
	flattenEnv(vars, nil, md)
	delete(vars, EnvMetaURL)
	delete(vars, EnvProxy)
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return env
}

func flattenEnv(vars map[string]string, path []string, obj map[string]any) {
	raw := make([]string, 0, len(obj))
	for k := range obj {
		raw = append(raw, k)
	}
	sort.Strings(raw)
	for _, k := range raw {
		p := append(path[:len(path):len(path)], k)
		if sub, ok := obj[k].(map[string]any); ok {
			flattenEnv(vars, p, sub)
			continue
		}
		if key := envKey(strings.Join(p, ".")); key != "" {
			// The engine rejects nothing, but a NUL would cut the variable short in the process.
			vars[key] = strings.ReplaceAll(envValue(obj[k]), "\x00", "")
		}
	}
}

// envKey cleans a flattened path into a variable name: non-printable characters dropped, "."
// turned into "_", only [A-Za-z0-9_] kept, leading digits removed.
func envKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsPrint(r) {
			continue
		}
		if r == '.' {
			r = '_'
		}
		if r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	return strings.TrimLeft(b.String(), "0123456789")
}

// envValue prints a leaf like the meta API's text formats: strings as they are, numbers as Go
// prints a float64 (1, 1.5, 1e+06), booleans true/false, null empty, arrays Go-style.
func envValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		return fmt.Sprint(v)
	}
}

// nodeEnv returns the FISH_* variables for a container whose network gateway is gw, and the
// warnings about endpoints a container cannot reach. A zero endpoint (not listening) is left out.
func nodeEnv(gw netip.Addr, api, proxy netip.AddrPort) (env, warnings []string) {
	if api.IsValid() && api.Port() != 0 {
		env = append(env, EnvMetaURL+"=https://"+netip.AddrPortFrom(gw, api.Port()).String()+"/meta/v1/data/")
		if w := reachability("api_address", gw, api); w != "" {
			warnings = append(warnings, w)
		}
	}
	if proxy.IsValid() && proxy.Port() != 0 {
		env = append(env, EnvProxy+"=socks5://"+netip.AddrPortFrom(gw, proxy.Port()).String())
		if w := reachability("proxy_address", gw, proxy); w != "" {
			warnings = append(warnings, w)
		}
	}
	return env, warnings
}

// reachability explains why a container behind gateway gw cannot connect to a node listener on
// ap, or returns "" when it can: the listener must accept connections on the gateway address.
func reachability(key string, gw netip.Addr, ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	switch {
	case a.IsUnspecified(), a == gw.Unmap():
		return ""
	case a.IsLoopback():
		return fmt.Sprintf("%s %s listens on loopback only: containers cannot reach it (listen on 0.0.0.0)", key, ap)
	default:
		return fmt.Sprintf("%s %s does not listen on the container's gateway %s: containers cannot reach it (listen on 0.0.0.0)", key, ap, gw)
	}
}
