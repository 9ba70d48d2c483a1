package executor

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMergeMetadata(t *testing.T) {
	tests := []struct {
		name       string
		app, label string
		want       map[string]any
	}{
		{"both absent", "", "", map[string]any{}},
		{"null is absent", "null", "null", map[string]any{}},
		{"empty objects", "{}", "{}", map[string]any{}},
		{"app only", `{"a":"1","n":2}`, "", map[string]any{"a": "1", "n": 2.0}},
		{"label only", "", `{"l":true}`, map[string]any{"l": true}},
		{"disjoint keys", `{"a":1}`, `{"l":2}`, map[string]any{"a": 1.0, "l": 2.0}},
		{"label keys win", `{"k":"app","a":1}`, `{"k":"label"}`, map[string]any{"k": "label", "a": 1.0}},
		{"label null wins", `{"k":"app"}`, `{"k":null}`, map[string]any{"k": nil}},
		{"no deep merge", `{"o":{"x":1,"y":2}}`, `{"o":{"x":3}}`, map[string]any{"o": map[string]any{"x": 3.0}}},
		{"whitespace", " { \"a\" : 1 } ", "\n{}\n", map[string]any{"a": 1.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mergeMetadata(json.RawMessage(tt.app), json.RawMessage(tt.label))
			if err != nil {
				t.Fatalf("mergeMetadata: %v", err)
			}
			if got == nil {
				t.Fatal("result is nil, want a map")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("mergeMetadata = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestMergeMetadataErrors: behaviour.md §2.1 gives the exact description prefixes of the ERROR
// state, with no space after the colon.
func TestMergeMetadataErrors(t *testing.T) {
	tests := []struct {
		name, app, label, prefix string
	}{
		{"app array", `[1,2]`, `{}`, "Unable to parse the app metadata:"},
		{"app string", `"text"`, `{}`, "Unable to parse the app metadata:"},
		{"app number", `12`, `{}`, "Unable to parse the app metadata:"},
		{"app malformed", `{"a":`, `{}`, "Unable to parse the app metadata:"},
		{"label array", `{}`, `[]`, "Unable to parse the label metadata:"},
		{"label bool", `{}`, `true`, "Unable to parse the label metadata:"},
		{"label malformed", `{}`, `{x}`, "Unable to parse the label metadata:"},
		{"app checked first", `1`, `2`, "Unable to parse the app metadata:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mergeMetadata(json.RawMessage(tt.app), json.RawMessage(tt.label))
			if err == nil {
				t.Fatalf("mergeMetadata = %v, want an error", got)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.prefix) {
				t.Errorf("error %q does not start with %q", msg, tt.prefix)
			}
			if rest := strings.TrimPrefix(msg, tt.prefix); rest == "" || rest[0] == ' ' {
				t.Errorf("error %q: want the decoder's reason right after the colon", msg)
			}
		})
	}
}
