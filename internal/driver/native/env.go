package native

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// MetaURLVar is the environment variable that tells the entry where the node's metadata API
// is. No token comes with it: the node identifies the calling user by its socket's owner.
const MetaURLVar = "FISH_META_URL"

// metadataEnv flattens the merged metadata into environment variables named like the lines of
// the meta API's env format (api-v1.md §5.9): nested keys joined with "_", only [A-Za-z0-9_]
// kept, leading digits dropped, keys that become empty skipped. Values are their natural text
// (not shell-quoted: they go straight into the environment); string values containing "{{"
// are rendered as templates with data, and stay as they are when that fails.
func metadataEnv(md map[string]any, data templateData) map[string]string {
	env := map[string]string{}
	flattenEnv(env, nil, md, data)
	return env
}

func flattenEnv(env map[string]string, path []string, obj map[string]any, data templateData) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := append(path[:len(path):len(path)], k)
		if sub, ok := obj[k].(map[string]any); ok {
			flattenEnv(env, p, sub, data)
			continue
		}
		name := envKey(strings.Join(p, "."))
		if name == "" {
			continue
		}
		v := envValue(obj[k])
		if strings.Contains(v, "{{") {
			if r, err := render(name, v, data); err == nil {
				v = r
			}
		}
		env[name] = strings.ReplaceAll(v, "\x00", "")
	}
}

// envKey cleans a flattened key: non-printable characters dropped, "." becomes "_", only
// [A-Za-z0-9_] kept, leading digits removed.
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

// envValue prints a leaf: strings as they are, numbers like Go prints a float64, booleans as
// true/false, null as "", anything else Go-style.
func envValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		return fmt.Sprint(v)
	}
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
