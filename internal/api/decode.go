package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aquarium-fish/aquarium-fish/internal/yamljson"
)

// decodeBody reads a JSON or YAML body into v. An empty body decodes nothing. YAML documents use
// the same keys as JSON, and keep their key order and key text (see yamljson).
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	switch {
	case strings.HasPrefix(ct, "application/json"):
	case strings.HasPrefix(ct, "application/yaml"), strings.HasPrefix(ct, "application/x-yaml"), strings.HasPrefix(ct, "text/yaml"):
		if b, err = yamljson.ToJSON(b); err != nil {
			return fmt.Errorf("invalid YAML: %w", err)
		}
	default:
		return fmt.Errorf("code=415, message=Unsupported Media Type")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

func describeJSONError(err error) error {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		return fmt.Errorf("field %q: expected %s, got %s", e.Field, e.Type, e.Value)
	case *json.SyntaxError:
		return fmt.Errorf("invalid JSON at offset %d: %v", e.Offset, e)
	}
	return err
}

// freeForm validates a free-form JSON field and returns it compacted ({} when absent).
func freeForm(name string, raw json.RawMessage, objectOnly bool) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, badRequest("%s: %v", name, err)
	}
	if objectOnly && buf.Bytes()[0] != '{' {
		return nil, badRequest("%s must be a JSON object", name)
	}
	return buf.Bytes(), nil
}
