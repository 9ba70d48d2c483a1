package api

import (
	"sort"
	"strings"
	"testing"

	apispec "github.com/aquarium-fish/aquarium-fish/api"
)

// TestRoutesMatchOpenAPI checks the routes against api/openapi.yaml: every /api/v1 operation of
// the document is routed, and nothing is routed that the document does not describe.
func TestRoutesMatchOpenAPI(t *testing.T) {
	ops, err := apispec.Operations()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, op := range ops {
		if strings.HasPrefix(op.Path, "/api/v1/") {
			documented[op.Method+" "+op.Path] = true
		}
	}
	routed := map[string]bool{}
	for _, rt := range (&server{}).routes() {
		// "GET /api/v1/label/{$}" → "GET /api/v1/label/"
		routed[strings.TrimSuffix(rt.pattern, "{$}")] = true
	}
	for _, k := range sorted(documented) {
		if !routed[k] {
			t.Errorf("documented but not routed: %s", k)
		}
	}
	for _, k := range sorted(routed) {
		if !documented[k] {
			t.Errorf("routed but not documented: %s", k)
		}
	}
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
