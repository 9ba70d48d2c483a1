package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// The content types of the rendered metadata.
const (
	ContentTypeJSON = "application/json; charset=UTF-8"
	ContentTypeText = "text/plain; charset=UTF-8"
)

// The output formats accepted in the format query parameter; "" means FormatJSON.
const (
	FormatJSON   = "json"
	FormatEnv    = "env"
	FormatExport = "export"
	FormatPS1    = "ps1"
)

var (
	// ErrUnsupportedFormat is returned by Render for an unknown format. The wrapped message is
	// wire-exact: "Unsupported `format`: <format>".
	//
	//lint:ignore ST1005 the text is part of the API contract.
	ErrUnsupportedFormat = errors.New("Unsupported `format`")

	// ErrInvalidMetadata is returned by Render when the stored metadata is not a JSON object.
	ErrInvalidMetadata = errors.New("metadata is not a JSON object")
)

// Render renders a metadata JSON object in format json|env|export|ps1 ("" = json) with prefix.
// It returns the body and its content type (ContentTypeJSON or ContentTypeText).
//
// JSON is compact with the keys of every object sorted; prefix is ignored. The text formats emit
// one line per leaf value, sorted by key: nested objects are flattened by joining the path with
// ".", prefix (when not empty) being the first component, then the key is cleaned up to a valid
// variable name (see cleanKey). Empty or null metadata renders as an empty object.
func Render(metadata json.RawMessage, format, prefix string) (body []byte, contentType string, err error) {
	switch format {
	case "", FormatJSON:
		body, err := renderJSON(metadata)
		if err != nil {
			return nil, "", err
		}
		return body, ContentTypeJSON, nil
	case FormatEnv, FormatExport, FormatPS1:
		obj, err := decodeObject(metadata, false)
		if err != nil {
			return nil, "", err
		}
		return renderText(obj, format, prefix), ContentTypeText, nil
	default:
		return nil, "", fmt.Errorf("%w: %s", ErrUnsupportedFormat, format)
	}
}

// decodeObject decodes metadata that must be a JSON object. With useNumber, numbers keep their
// literal text (for JSON output); otherwise they become float64, which the text formats print.
func decodeObject(metadata json.RawMessage, useNumber bool) (map[string]any, error) {
	trimmed := bytes.TrimSpace(metadata)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if useNumber {
		dec.UseNumber()
	}
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMetadata, err)
	}
	if obj == nil {
		return map[string]any{}, nil
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrInvalidMetadata)
	}
	return obj, nil
}

// renderJSON re-encodes the object: encoding/json sorts map keys at every level, and json.Number
// keeps each number exactly as stored.
func renderJSON(metadata json.RawMessage) ([]byte, error) {
	obj, err := decodeObject(metadata, true)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// renderText writes one line per leaf in the env, export or ps1 format.
func renderText(obj map[string]any, format, prefix string) []byte {
	vars := map[string][]string{}
	var path []string
	if prefix != "" {
		path = append(path, prefix)
	}
	flatten(vars, path, obj)

	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var buf bytes.Buffer
	for _, k := range keys {
		for _, v := range vars[k] {
			switch format {
			case FormatPS1:
				buf.WriteString("$" + k + "='" + strings.ReplaceAll(v, "'", "''") + "'\n")
			case FormatExport:
				buf.WriteString("export " + k + "=" + shellQuote(v) + "\n")
			default:
				buf.WriteString(k + "=" + shellQuote(v) + "\n")
			}
		}
	}
	return buf.Bytes()
}

// flatten collects the leaves of obj into vars, keyed by the cleaned-up joined path. Two paths
// that clean up to the same key both keep their value, in the order of their raw keys.
func flatten(vars map[string][]string, path []string, obj map[string]any) {
	raw := make([]string, 0, len(obj))
	for k := range obj {
		raw = append(raw, k)
	}
	sort.Strings(raw)
	for _, k := range raw {
		p := append(path[:len(path):len(path)], k)
		if sub, ok := obj[k].(map[string]any); ok {
			flatten(vars, p, sub)
			continue
		}
		key := cleanKey(strings.Join(p, "."))
		if key == "" {
			continue
		}
		vars[key] = append(vars[key], textValue(obj[k]))
	}
}

// cleanKey turns a flattened path into a variable name: non-printable characters are dropped,
// "." becomes "_", only [A-Za-z0-9_] is kept and leading digits are removed.
func cleanKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsPrint(r) {
			continue
		}
		if r == '.' {
			r = '_'
		}
		if isWordChar(r) {
			b.WriteRune(r)
		}
	}
	return strings.TrimLeft(b.String(), "0123456789")
}

func isWordChar(r rune) bool {
	return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

// textValue prints a leaf in its natural text form: strings as they are, numbers like Go prints a
// float64 (1, 1.5, 1e+06), booleans as true/false, null as the empty string and arrays Go-style
// ("[a b]").
func textValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	default:
		return fmt.Sprint(v)
	}
}

// shellQuote quotes s for a POSIX shell: unchanged when it holds only safe characters, two single
// quotes when empty, otherwise wrapped in single quotes with each quote written as '"'"'.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, func(r rune) bool { return !isShellSafe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

func isShellSafe(r rune) bool {
	return isWordChar(r) || strings.ContainsRune("@%+=:,./-", r)
}
