package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestMetaRefusesNonResources: the meta API identifies the caller by its TCP peer address only;
// the test (loopback, not a resource) is refused whatever headers it sends.
func TestMetaRefusesNonResources(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	l := n.createLabel(t, "meta", 1, def(1, 1))
	a, _ := n.allocate(t, n.adminCred(), l.UID)

	const want = `{"message":"Client IP was not found in the node Resources"}`
	cases := []struct {
		name, path string
		headers    map[string]string
	}{
		{"plain", "/meta/v1/data/", nil},
		{"env format", "/meta/v1/data/?format=env&prefix=pre", nil},
		{"key path", "/meta/v1/data/some/key", nil},
		{"X-Forwarded-For loopback", "/meta/v1/data/", map[string]string{"X-Forwarded-For": "127.0.0.1"}},
		{"X-Forwarded-For list", "/meta/v1/data/", map[string]string{"X-Forwarded-For": "10.0.0.2, 127.0.0.1"}},
		{"X-Real-IP", "/meta/v1/data/", map[string]string{"X-Real-IP": "192.168.1.2"}},
		{"Forwarded", "/meta/v1/data/", map[string]string{"Forwarded": "for=10.0.0.2"}},
		{"Basic auth of admin", "/meta/v1/data/", map[string]string{"Authorization": basicHeader("admin", n.token)}},
	}
	for _, c := range cases {
		req := n.newRequest(t, "GET", c.path, nil, "")
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, body := n.send(t, req)
		if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(string(body)) != want {
			t.Errorf("%s: %d %q, want 401 %s", c.name, resp.StatusCode, body, want)
		}
	}
	n.release(t, a.UID)
}
