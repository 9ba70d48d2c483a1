package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aquarium-fish/aquarium-fish/internal/metaenv"
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
// variable name (see metaenv.CleanKey). Empty or null metadata renders as an empty object.
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

// renderJSON re-encodes the object compactly.
func renderJSON(metadata json.RawMessage) ([]byte, error) {
	obj, err := decodeObject(metadata, true)
	if err != nil {
		return nil, err
	}
	return encodeCompact(obj)
}

// encodeCompact encodes a decoded value on one line without HTML escaping: encoding/json sorts
// map keys at every level, and a json.Number keeps each number exactly as stored.
func encodeCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// renderText writes one line per leaf in the env, export or ps1 format, sorted by key. Two paths
// that clean up to the same key both keep their line, in the order of their raw keys.
func renderText(obj map[string]any, format, prefix string) []byte {
	vars := metaenv.Flatten(obj, prefix)
	sort.SliceStable(vars, func(i, j int) bool { return vars[i].Key < vars[j].Key })

	var buf bytes.Buffer
	for _, v := range vars {
		switch format {
		case FormatPS1:
			buf.WriteString("$" + v.Key + "='" + strings.ReplaceAll(v.Value, "'", "''") + "'\n")
		case FormatExport:
			buf.WriteString("export " + v.Key + "=" + shellQuote(v.Value) + "\n")
		default:
			buf.WriteString(v.Key + "=" + shellQuote(v.Value) + "\n")
		}
	}
	return buf.Bytes()
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

// isShellSafe reports whether r is in [A-Za-z0-9_@%+=:,./-].
func isShellSafe(r rune) bool {
	return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') ||
		strings.ContainsRune("_@%+=:,./-", r)
}
