package docker

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/aquarium-fish/aquarium-fish/internal/metaenv"
)

// The variables that tell a container where the node is.
const (
	EnvMetaURL = "FISH_META_URL"
	EnvProxy   = "FISH_PROXY"
)

// metadataEnv renders the metadata as KEY=value items for a container's environment, named by
// the meta API's key rules (see metaenv.Flatten); values are raw (the engine does not parse them)
// with NULs dropped, since a NUL would cut the variable short in the process. When two paths
// clean up to the same key, the one sorting last wins. Keys reserved for the driver's own
// variables are skipped.
func metadataEnv(md map[string]any) []string {
	vars := map[string]string{}
	for _, v := range metaenv.Flatten(md, "") {
		vars[v.Key] = strings.ReplaceAll(v.Value, "\x00", "")
	}
	delete(vars, EnvMetaURL)
	delete(vars, EnvProxy)
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
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
