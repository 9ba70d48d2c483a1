package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// httpClient talks HTTPS to a node, skipping certificate verification like the clients do.
type httpClient struct {
	tr *http.Transport
	c  *http.Client
}

func newHTTPClient() *httpClient {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &httpClient{tr: tr, c: &http.Client{
		Transport: tr,
		Timeout:   10 * time.Second,
		// The API has no redirects: never follow one, so that a test sees it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (h *httpClient) closeIdle() { h.tr.CloseIdleConnections() }

// cred is a user name and password.
type cred struct{ user, pass string }

func (n *fishNode) adminCred() cred { return cred{"admin", n.token} }

// url is the address of path (which may carry a query) on the current process.
func (n *fishNode) url(path string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return "https://" + n.addr + path
}

// newRequest builds a request. body: nil = none, []byte or string = raw, anything else is
// encoded as JSON. contentType defaults to application/json when there is a body.
func (n *fishNode) newRequest(t *testing.T, method, path string, body any, contentType string) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, n.url(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// send performs req and returns the response (body already read) and the body.
func (n *fishNode) send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := n.http.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return resp, b
}

// try sends a JSON request as c and decodes a 200 answer into out; it returns an error instead
// of failing the test, for use from other goroutines.
func (n *fishNode) try(c cred, method, path string, body, out any) error {
	js, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, n.url(path), bytes.NewReader(js))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.user, c.pass)
	resp, err := n.http.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// do sends a request with Basic auth (none when user is empty) and returns status and body.
func (n *fishNode) do(t *testing.T, method, path, user, pass string, body any, contentType string) (int, []byte) {
	t.Helper()
	req := n.newRequest(t, method, path, body, contentType)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, b := n.send(t, req)
	return resp.StatusCode, b
}

// as sends a JSON request as c.
func (n *fishNode) as(t *testing.T, c cred, method, path string, body any) (int, []byte) {
	t.Helper()
	return n.do(t, method, path, c.user, c.pass, body, "")
}

// admin sends a JSON request as admin.
func (n *fishNode) admin(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	return n.as(t, n.adminCred(), method, path, body)
}

// mustJSON sends a request as c, requires 200 and decodes the answer into out (when not nil).
func (n *fishNode) mustJSON(t *testing.T, c cred, method, path string, body, out any) []byte {
	t.Helper()
	status, b := n.as(t, c, method, path, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s as %s: status %d, want 200: %s", method, path, c.user, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	return b
}

// expect checks the status of an answer and, for errors, the {"message": ...} body shape.
func expect(t *testing.T, what string, status int, body []byte, want int) {
	t.Helper()
	if status != want {
		t.Errorf("%s: status %d, want %d: %s", what, status, want, body)
		return
	}
	if want >= 400 {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil || len(m) != 1 {
			t.Errorf("%s: error body %q is not a one-key JSON object", what, body)
			return
		}
		_, okMsg := m["message"]
		_, okErr := m["error"]
		if !okMsg && !okErr {
			t.Errorf("%s: error body %s has neither message nor error", what, body)
		}
	}
}

// errorText returns the text of an error body ({"message": ...} or {"error": ...}).
func errorText(body []byte) string {
	var m map[string]string
	_ = json.Unmarshal(body, &m)
	if s, ok := m["message"]; ok {
		return s
	}
	return m["error"]
}

// withFilter returns path?filter=<f>, encoded.
func withFilter(path, f string) string {
	return path + "?" + url.Values{"filter": {f}}.Encode()
}

// basicHeader is an Authorization header value for user and pass.
func basicHeader(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// poll calls f every 25 ms until it returns true or the deadline passes; it reports whether f
// succeeded.
func poll(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		t := time.NewTimer(25 * time.Millisecond)
		<-t.C
	}
}
