package native

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/aquarium-fish/aquarium-fish/internal/metaenv"
)

// MetaURLVar is the environment variable that tells the entry where the node's metadata API
// is. No token comes with it: the node identifies the calling user by its socket's owner.
const MetaURLVar = "FISH_META_URL"

// metadataEnv flattens the merged metadata into environment variables named like the lines of
// the meta API's env format (api-v1.md §5.9, see metaenv.Flatten); when two paths clean up to
// the same name, the one sorting last wins. Values are their natural text (not shell-quoted: they
// go straight into the environment) with NULs dropped; string values containing "{{" are
// rendered as templates with data, and stay as they are when that fails.
func metadataEnv(md map[string]any, data templateData) map[string]string {
	env := map[string]string{}
	for _, kv := range metaenv.Flatten(md, "") {
		v := kv.Value
		if strings.Contains(v, "{{") {
			if r, err := render(kv.Key, v, data); err == nil {
				v = r
			}
		}
		env[kv.Key] = strings.ReplaceAll(v, "\x00", "")
	}
	return env
}

// metaURL is the metadata API address a local process uses: an unspecified listen address is
// reached through the loopback of the same family. It is "" when api is not valid.
func metaURL(api netip.AddrPort) string {
	if !api.IsValid() {
		return ""
	}
	addr := api.Addr().Unmap()
	if addr.IsUnspecified() {
		if addr.Is4() {
			addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		} else {
			addr = netip.IPv6Loopback()
		}
	}
	return "https://" + netip.AddrPortFrom(addr, api.Port()).String() + "/meta/v1/data/"
}

// environ builds the entry's environment, sorted: the metadata, then the identity of the user
// and the driver's variables, which win over metadata keys of the same name.
func environ(md map[string]string, base map[string]string) []string {
	all := make(map[string]string, len(md)+len(base))
	for k, v := range md {
		all[k] = v
	}
	for k, v := range base {
		all[k] = v
	}
	out := make([]string, 0, len(all))
	for k, v := range all {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
