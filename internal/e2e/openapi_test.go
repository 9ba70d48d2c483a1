package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// contractPaths are the API paths of api-v1.md §1.1 and §5.
var contractPaths = []string{
	"/api/v1/user/", "/api/v1/user/me/", "/api/v1/user/{name}",
	"/api/v1/label/", "/api/v1/label/{uid}",
	"/api/v1/application/", "/api/v1/application/{uid}", "/api/v1/application/{uid}/state",
	"/api/v1/application/{uid}/resource", "/api/v1/application/{uid}/task/",
	"/api/v1/application/{uid}/deallocate",
	"/api/v1/resource/", "/api/v1/resource/{uid}",
	"/api/v1/node/", "/api/v1/node/this/", "/api/v1/node/this/maintenance",
	"/api/v1/node/this/profiling/", "/api/v1/node/this/profiling/{handler}",
	"/api/v1/vote/", "/api/v1/location/",
	"/api/v1/servicemapping/", "/api/v1/servicemapping/{uid}",
}

// TestOpenAPIDocument: the node serves its OpenAPI document, which describes the contract's
// paths, and routes every operation it describes.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	status, body := n.do(t, "GET", "/api/openapi.yaml", "", "", nil, "")
	if status != 200 {
		t.Fatalf("GET /api/openapi.yaml: %d", status)
	}
	if !strings.HasPrefix(string(body), "openapi: 3") {
		t.Errorf("document does not start with \"openapi: 3\": %.60q", body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatalf("served document does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("served document is not valid OpenAPI: %v", err)
	}
	for _, p := range contractPaths {
		if doc.Paths.Find(p) == nil {
			t.Errorf("document lacks path %s", p)
		}
	}

	// Every /api/v1 operation of the document is routed: none answers the unknown-path 404.
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/api/v1/") || strings.HasSuffix(path, "/maintenance") {
			continue // maintenance has side effects; it is tested on its own
		}
		concrete := strings.NewReplacer("{uid}", unknownUID, "{name}", "nobody", "{handler}", "nosuchhandler").Replace(path)
		for method := range item.Operations() {
			status, body := n.admin(t, method, concrete, nil)
			if status == 404 && errorText(body) == "Not Found" {
				t.Errorf("%s %s (documented) is not routed", method, path)
			}
		}
	}
}

func TestProfiling(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "someone")
	status, body := n.admin(t, "GET", "/api/v1/node/this/profiling/", nil)
	if status != 200 || !strings.Contains(string(body), "goroutine") {
		t.Errorf("profiling index as admin: %d %.200q", status, body)
	}
	status, body = n.admin(t, "GET", "/api/v1/node/this/profiling/goroutine?debug=1", nil)
	if status != 200 || !strings.Contains(string(body), "goroutine") {
		t.Errorf("goroutine profile: %d %.200q", status, body)
	}
	status, _ = n.admin(t, "GET", "/api/v1/node/this/profiling/cmdline", nil)
	if status != 200 {
		t.Errorf("cmdline: %d", status)
	}
	status, body = n.as(t, u, "GET", "/api/v1/node/this/profiling/", nil)
	expect(t, "profiling index as a user", status, body, 403)
	status, body = n.as(t, u, "GET", "/api/v1/node/this/profiling/heap", nil)
	expect(t, "heap profile as a user", status, body, 403)
	status, body = n.admin(t, "GET", "/api/v1/node/this/profiling/nosuchhandler", nil)
	expect(t, "unknown profiling handler", status, body, 404)
}

// TestRouting: exact paths with their trailing-slash rules, no redirects (api-v1.md §1.1).
func TestRouting(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	n.expectNotFound(t, "/api/v1/Label/", "/api/v1/nothing/", "/api/v1/label/"+unknownUID+"/", "/api/v2/label/", "/meta/v1/data")
	// Unknown API paths check credentials first.
	status, body := n.do(t, "GET", "/api/v1/nothing/", "", "", nil, "")
	expect(t, "GET /api/v1/nothing/ without credentials", status, body, 401)

	// Query strings do not affect routing; JSON content type.
	req := n.newRequest(t, "GET", "/api/v1/label/?unused=1", nil, "")
	req.SetBasicAuth("admin", n.token)
	resp, body := n.send(t, req)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("label list with a query: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
		t.Errorf("Content-Type %q, want application/json; charset=UTF-8", ct)
	}
	// Wrong method on a known path.
	status, _ = n.admin(t, "PUT", "/api/v1/label/", nil)
	if status == 200 {
		t.Errorf("PUT /api/v1/label/ answered 200")
	}
}

// TestNoTrailingSlashRedirect: the spelling of a collection path without its trailing slash
// is an unknown path (404 after authentication), never a redirect (api-v1.md §1.1).
func TestNoTrailingSlashRedirect(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	n.expectNotFound(t, "/api/v1/label", "/api/v1/application", "/api/v1/user", "/api/v1/user/me",
		"/api/v1/node/this", "/api/v1/node", "/api/v1/resource", "/api/v1/vote",
		"/api/v1/application/"+unknownUID+"/task")
	status, body := n.do(t, "GET", "/api/v1/label", "", "", nil, "")
	expect(t, "GET /api/v1/label without credentials", status, body, 401)
}

// expectNotFound asserts that GET (as admin) of each path is the unknown-path 404.
func (n *fishNode) expectNotFound(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		status, body := n.admin(t, "GET", p, nil)
		if status != 404 {
			t.Errorf("GET %s: %d %q, want 404", p, status, body)
			continue
		}
		if strings.HasPrefix(p, "/api/v1/") && p != "/api/v1/user/me" && strings.TrimSpace(string(body)) != `{"message":"Not Found"}` {
			t.Errorf("GET %s: body %q, want {\"message\":\"Not Found\"}", p, body)
		}
	}
}

// TestTransport: HTTPS with HTTP/1.1 and HTTP/2; no plain HTTP.
func TestTransport(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})

	h2 := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer h2.CloseIdleConnections()
	req := n.newRequest(t, "GET", "/api/v1/user/me/", nil, "")
	req.SetBasicAuth("admin", n.token)
	resp, err := (&http.Client{Transport: h2}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("HTTP/2 request: %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}

	resp, body := n.send(t, func() *http.Request {
		r := n.newRequest(t, "GET", "/api/v1/user/me/", nil, "")
		r.SetBasicAuth("admin", n.token)
		return r
	}())
	if resp.StatusCode != 200 || resp.ProtoMajor != 1 {
		t.Errorf("HTTP/1.1 request: %d over %s: %s", resp.StatusCode, resp.Proto, body)
	}

	plain := strings.Replace(n.url("/api/v1/user/me/"), "https://", "http://", 1)
	direct := &http.Transport{}
	defer direct.CloseIdleConnections()
	if resp, err := (&http.Client{Transport: direct}).Get(plain); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200")
		}
	}
}
