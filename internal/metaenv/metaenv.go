// Package metaenv turns a metadata object into environment variables, following the key/value
// rules of the meta API's text formats (api-v1.md §5.9): nested objects are flattened by joining
// their path with ".", an optional prefix being the first component; the joined path is cleaned
// up into a variable name; each leaf is printed in its natural text form.
//
// The meta API renders these variables as env/export/ps1 lines, and the drivers put them into
// the environment of what they start, so a workload sees the same names either way. What to do
// with two paths that clean up to the same name, quoting and reserved names are the caller's
// business.
package metaenv

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Var is one environment variable: a cleaned-up name and the text of a leaf value (unquoted,
// possibly empty, possibly holding any byte the value held, NUL included).
type Var struct {
	Key   string
	Value string
}

// Flatten returns one Var per leaf of obj: a leaf is any value that is not an object, so empty
// objects yield nothing. A leaf's path (prefix first when it is not empty) is joined with "."
// and cleaned up by CleanKey; leaves whose key cleans up to "" are skipped. Values are printed
// by Text.
//
// The order is the order of the paths, compared component by component (the raw keys of each
// object sorted). Keys are not unique: "a.b" and {"a":{"b":…}} both give "a_b", in that order.
func Flatten(obj map[string]any, prefix string) []Var {
	var path []string
	if prefix != "" {
		path = append(path, prefix)
	}
	return flatten(nil, path, obj)
}

func flatten(vars []Var, path []string, obj map[string]any) []Var {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		p := append(path[:len(path):len(path)], k)
		if sub, ok := obj[k].(map[string]any); ok {
			vars = flatten(vars, p, sub)
			continue
		}
		if key := CleanKey(strings.Join(p, ".")); key != "" {
			vars = append(vars, Var{Key: key, Value: Text(obj[k])})
		}
	}
	return vars
}

// CleanKey turns a flattened path into a variable name: non-printable characters are dropped,
// "." becomes "_", only [A-Za-z0-9_] is kept, then leading digits are removed. The result may
// be "" (the caller skips such keys).
func CleanKey(s string) string {
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

// Text prints a leaf in its natural text form: strings as they are, numbers as Go prints a
// float64 (1, 1.5, 1e+06; a json.Number too, or its literal text when it does not parse),
// booleans as true/false, null as "" and anything else (arrays) Go-style ("[a b]").
func Text(v any) string {
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
