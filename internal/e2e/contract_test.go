package e2e

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Process-level checks of the contract points an audit of the node against api-v1.md found.

// message is the exact error body {"message": s}.
func message(s string) string {
	b, _ := json.Marshal(map[string]string{"message": s})
	return string(b)
}

// expectExact checks status and the exact body (a trailing newline aside).
func expectExact(t *testing.T, what string, status int, body []byte, wantStatus int, wantBody string) {
	t.Helper()
	if got := strings.TrimSuffix(string(body), "\n"); status != wantStatus || got != wantBody {
		t.Errorf("%s = %d %s, want %d %s", what, status, got, wantStatus, wantBody)
	}
}

// TestContractErrorTexts: the error texts the spec spells out, with our status codes (README
// decision 1), and task options that are objects.
func TestContractErrorTexts(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "owner")
	l := n.createLabel(t, "texts", 1, def(1, 1))
	a, _ := n.allocate(t, u, l.UID)
	const unknown = "0a0b0c0d-0e0f-4000-8000-0000000000ff"
	app := "/api/v1/application/" + a.UID

	// Deallocate twice: the second is refused naming the status.
	n.deallocate(t, u, a.UID)
	n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline)
	status, body := n.as(t, u, "GET", app+"/deallocate", nil)
	expectExact(t, "deallocate of a DEALLOCATED application", status, body, 400, message("Unable to deallocate the Application with status: DEALLOCATED"))

	tests := []struct {
		c            cred
		method, path string
		body         any
		status       int
		message      string
	}{
		{n.adminCred(), "GET", "/api/v1/user/nobody", nil, 404, "User not found: record not found"},
		{u, "GET", "/api/v1/label/" + unknown, nil, 404, "Label not found: record not found"},
		{u, "GET", "/api/v1/application/" + unknown + "/state", nil, 404, "Unable to find the Application: " + unknown},
		{u, "GET", "/api/v1/application/" + unknown + "/resource", nil, 404, "Unable to find the Application: " + unknown},
		{u, "GET", "/api/v1/application/" + unknown + "/task/", nil, 404, "Unable to find the Application: " + unknown},
		{u, "POST", "/api/v1/application/" + unknown + "/task/", map[string]string{"task": "snapshot"}, 404, "Unable to find the Application: " + unknown},
		{u, "GET", "/api/v1/application/" + unknown + "/deallocate", nil, 404, "Unable to find the application: " + unknown},
		{u, "GET", app + "/resource", nil, 404, "Resource not found: record not found"},
		{n.adminCred(), "POST", "/api/v1/label/", map[string]any{"name": ""}, 400, "Unable to create label: Fish: Name can't be empty"},
		{n.adminCred(), "POST", "/api/v1/label/", label{Name: "x", Definitions: []definition{{Resources: resources{CPU: 1, RAM: 1}}}}, 400,
			"Unable to create label: Fish: Driver can't be empty in Label Definition 0"},
		{n.adminCred(), "POST", "/api/v1/label/", label{Name: "x", Definitions: []definition{def(1, 1), def(0, 1)}}, 400,
			"Unable to create label: Fish: Resources CPU can't be less than 1 in Label Definition 1"},
		{n.adminCred(), "POST", "/api/v1/label/", label{Name: "x", Definitions: []definition{def(1, 0)}}, 400,
			"Unable to create label: Fish: Resources RAM can't be less than 1 in Label Definition 0"},
		{u, "POST", "/api/v1/application/", map[string]any{}, 400, "Unable to create application: Fish: LabelUID can't be unset"},
		{u, "POST", app + "/task/", map[string]any{"when": "ALLOCATED"}, 400, "Unable to create ApplicationTask: Fish: Task can't be empty"},
		{u, "POST", app + "/task/", map[string]any{"task": "snapshot", "options": []int{1}}, 400, "Unable to create ApplicationTask: options must be a JSON object"},
		{u, "POST", app + "/task/", map[string]any{"task": "snapshot", "options": "{}"}, 400, "Unable to create ApplicationTask: options must be a JSON object"},
		{u, "POST", app + "/task/", map[string]any{"task": "snapshot", "result": 1}, 400, "Unable to create ApplicationTask: result must be a JSON object"},
	}
	for _, tt := range tests {
		status, body := n.as(t, tt.c, tt.method, tt.path, tt.body)
		expectExact(t, tt.method+" "+tt.path, status, body, tt.status, message(tt.message))
	}
	// Absent and null options are {}.
	for _, body := range []string{`{"task":"snapshot","when":"NEW"}`, `{"task":"snapshot","when":"NEW","options":null}`} {
		tk := n.createTask(t, u, a.UID, json.RawMessage(body))
		if string(tk.Options) != "{}" {
			t.Errorf("task %s: options %s, want {}", body, tk.Options)
		}
	}
}

// TestContractUncleanPaths: paths ServeMux would redirect are answered as unknown paths.
func TestContractUncleanPaths(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	for _, p := range []string{"/api/v1//label/", "/api/v1/user/me//", "/api/v1/./label/", "/api/v1/label/../label/", "/api/v1"} {
		status, body := n.do(t, "GET", p, "", "", nil, "")
		expectExact(t, "GET "+p+" without credentials", status, body, 401, `{"message":"Unauthorized"}`)
		status, body = n.admin(t, "GET", p, nil)
		expectExact(t, "GET "+p+" as admin", status, body, 404, `{"message":"Not Found"}`)
	}
	// The meta API answers unknown paths 404 before it looks at the caller.
	for _, p := range []string{"/meta/v1//data/", "/meta/v1/./data/", "/meta/v1/data//x"} {
		status, body := n.do(t, "GET", p, "", "", nil, "")
		expectExact(t, "GET "+p, status, body, 404, `{"message":"Not Found"}`)
	}
}

// TestContractBodyTooLarge: a body over 64 KB sent without a length is a 413 like one with a
// length, over HTTP/1.1 (chunked) and HTTP/2.
func TestContractBodyTooLarge(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	l := n.createLabel(t, "big", 1, def(1, 1))
	a := n.createApp(t, n.adminCred(), l.UID, nil)
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
	}}
	t.Cleanup(h2.CloseIdleConnections)
	big := `{"name":"` + strings.Repeat("x", 64<<10) + `"}`
	for _, path := range []string{"/api/v1/label/", "/api/v1/application/", "/api/v1/application/" + a.UID + "/task/", "/api/v1/user/", "/api/v1/location/"} {
		for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
			// A reader of unknown length: the client sends no Content-Length.
			req, err := http.NewRequest("POST", n.url(path), io.MultiReader(strings.NewReader(big)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth("admin", n.token)
			c := n.http.c
			if proto == "HTTP/2.0" {
				c = h2
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("POST %s over %s: %v", path, proto, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != proto {
				t.Errorf("answered over %s, want %s", resp.Proto, proto)
			}
			expectExact(t, "POST "+path+" over "+proto+" without a length", resp.StatusCode, body, 413, `{"message":"Request Entity Too Large"}`)
		}
		status, body := n.admin(t, "POST", path, []byte(big))
		expectExact(t, "POST "+path+" with a length", status, body, 413, `{"message":"Request Entity Too Large"}`)
	}
}

// TestContractFilterWarning: a rejected filter is logged as a WARN line that reads as the spec
// spells it.
func TestContractFilterWarning(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	from := n.current().out.len()
	status, body := n.admin(t, "GET", withFilter("/api/v1/label/", "DROP label"), nil)
	expectExact(t, "rejected filter", status, body, 200, "[]")
	const want = "WARN:\tFish: SECURITY: weird SQL filter received: filter syntax error: unexpected \"DROP\" at offset 0"
	if _, ok := n.current().out.waitFor(from, time.Now().Add(2*time.Second), func(l string) bool {
		return strings.HasSuffix(l, want)
	}); !ok {
		t.Errorf("no line ending with %q", want)
	}
}

// TestContractRequestLog: at the default verbosity every request is one JSON line on stdout;
// stderr has the admin password line only; the startup lines are the usual ones.
func TestContractRequestLog(t *testing.T) {
	t.Parallel()
	n := startSplitNode(t)

	// The startup: log lines only, up to the INFO line "Fish initialized".
	for _, l := range n.stdout.snapshot() {
		if strings.HasPrefix(l, "{") {
			t.Errorf("JSON line before any request: %s", l)
		}
		if strings.HasSuffix(l, "Fish initialized") {
			if !strings.HasSuffix(l, " INFO:\tFish initialized") {
				t.Errorf("startup line %q", l)
			}
			break
		}
	}
	if errLines := n.stderr.snapshot(); len(errLines) != 1 || !strings.HasPrefix(errLines[0], adminPassPrefix) {
		t.Errorf("stderr = %q, want the admin password line only", errLines)
	}

	type logged struct {
		Method   string  `json:"method"`
		Path     string  `json:"path"`
		Query    string  `json:"query"`
		Status   int     `json:"status"`
		Duration float64 `json:"duration_ms"`
		Remote   string  `json:"remote_addr"`
		User     string  `json:"user"`
	}
	const querySecret = "not-a-real-secret-42"
	requests := []struct {
		user, pass, path string
		want             logged
	}{
		{"admin", n.token, "/api/v1/label/?probe=contract-1", logged{Method: "GET", Path: "/api/v1/label/", Query: "probe=contract-1", Status: 200, User: "admin"}},
		{"admin", n.token + "-wrong", "/api/v1/user/me/?probe=contract-2", logged{Method: "GET", Path: "/api/v1/user/me/", Query: "probe=contract-2", Status: 401}},
		{"", "", "/api/v1//label/?probe=contract-3&token=" + querySecret, logged{Method: "GET", Path: "/api/v1//label/", Query: "probe=contract-3&token=REDACTED", Status: 401}},
		{"", "", "/meta/v1/data/?probe=contract-4", logged{Method: "GET", Path: "/meta/v1/data/", Query: "probe=contract-4", Status: 401}},
	}
	for _, r := range requests {
		from := n.stdout.len()
		req, err := http.NewRequest("GET", "https://"+n.addr+r.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.user != "" {
			req.SetBasicAuth(r.user, r.pass)
		}
		resp, err := n.client.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		i, ok := n.stdout.waitFor(from, time.Now().Add(2*time.Second), func(l string) bool {
			return strings.HasPrefix(l, "{") && strings.Contains(l, r.want.Query[:len("probe=contract-1")])
		})
		if !ok {
			t.Errorf("GET %s: no JSON line on stdout", r.path)
			continue
		}
		line := n.stdout.snapshot()[i]
		var got logged
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Errorf("GET %s: %v: %s", r.path, err, line)
			continue
		}
		if got.Duration < 0 || !strings.HasPrefix(got.Remote, "127.0.0.1:") {
			t.Errorf("GET %s: duration %v, remote %q", r.path, got.Duration, got.Remote)
		}
		got.Duration, got.Remote = 0, ""
		if got != r.want {
			t.Errorf("GET %s logged %+v, want %+v", r.path, got, r.want)
		}
	}
	n.stop(t)
	for _, l := range n.stdout.snapshot() {
		if strings.Contains(l, n.token) || strings.Contains(l, querySecret) {
			t.Errorf("a secret is on stdout: %s", l)
		}
	}
	if errLines := n.stderr.snapshot(); len(errLines) != 1 {
		t.Errorf("stderr = %q, want the admin password line only", errLines)
	}
}

// splitNode is a node run at the default verbosity with stdout and stderr read apart (the
// clients' harness merges them; the contract says which line goes where).
type splitNode struct {
	cmd            *exec.Cmd
	stdout, stderr *output
	done           chan struct{}
	code           int
	addr, token    string
	client         *httpClient
}

func startSplitNode(t *testing.T) *splitNode {
	t.Helper()
	nodeSlots <- struct{}{}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(nodeOpts{}.configYAML()), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &splitNode{stdout: newOutput(), stderr: newOutput(), done: make(chan struct{}), client: newHTTPClient()}
	n.cmd = exec.Command(fishPath, "-c", cfgPath)
	n.cmd.Dir = dir
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	n.cmd.Stdout, n.cmd.Stderr = outW, errW
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	errW.Close()
	drained := make(chan struct{}, 2)
	go func() { n.stdout.drain(outR); drained <- struct{}{} }()
	go func() { n.stderr.drain(errR); drained <- struct{}{} }()
	go func() {
		_ = n.cmd.Wait()
		n.code = n.cmd.ProcessState.ExitCode()
		for range 2 {
			select {
			case <-drained:
			case <-time.After(2 * time.Second):
			}
		}
		close(n.done)
	}()
	t.Cleanup(func() {
		n.client.closeIdle()
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-n.done:
			case <-time.After(5 * time.Second):
				_ = n.cmd.Process.Kill()
				<-n.done
				t.Errorf("node did not stop within 5s of SIGINT; killed")
			}
		}
		if n.stdout.tooLong() || n.stderr.tooLong() {
			t.Errorf("the node wrote a line longer than %d bytes", maxLine)
		}
		if t.Failed() {
			t.Logf("stdout (last lines):\n%s\nstderr:\n%s", n.stdout.tail(40), n.stderr.tail(5))
		}
		<-nodeSlots
	})
	if _, ok := n.stdout.waitFor(0, time.Now().Add(startDeadline), func(l string) bool {
		return strings.HasSuffix(l, "Fish initialized")
	}); !ok {
		t.Fatalf("no \"Fish initialized\" on stdout within %v", startDeadline)
	}
	line, ok := n.stdout.find(func(l string) bool { return strings.Contains(l, apiListening) })
	if !ok {
		t.Fatalf("no line with %q on stdout", apiListening)
	}
	_, addr, _ := strings.Cut(line, apiListening)
	n.addr = strings.TrimSpace(addr)
	pass, ok := n.stderr.find(func(l string) bool { return strings.HasPrefix(l, adminPassPrefix) })
	if !ok {
		t.Fatalf("no line starting with %q on stderr", adminPassPrefix)
	}
	n.token = strings.TrimPrefix(pass, adminPassPrefix)
	return n
}

// stop sends SIGINT and requires exit status 0 within stopDeadline.
func (n *splitNode) stop(t *testing.T) {
	t.Helper()
	n.client.closeIdle()
	if err := n.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.done:
	case <-time.After(stopDeadline + 4*time.Second):
		t.Fatalf("node still running after SIGINT")
	}
	if n.code != 0 {
		t.Errorf("exit code %d after SIGINT", n.code)
	}
}
