package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/testutil"
)

// lineBuffer collects whole writes; safe for concurrent use.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	n   int
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	return b.buf.Write(p)
}

func (b *lineBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSuffix(b.buf.String(), "\n"), "\n")
}

// authenticated answers like the API: it records the user, then writes an answer.
var authenticated = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if u, ok := w.(interface{ SetUser(string) }); ok && r.Header.Get("X-Test-User") != "" {
		u.SetUser(r.Header.Get("X-Test-User"))
	}
	w.WriteHeader(http.StatusTeapot)
	io.WriteString(w, "12345")
})

func TestRequestLogLine(t *testing.T) {
	var out lineBuffer
	h := requestLog(authenticated, &out)
	long := "/api/v1/" + strings.Repeat("a", 100<<10)
	tests := []struct {
		name, target string
		user         string
		want         map[string]any // fields checked (JSON numbers as float64)
		absent       []string       // fields that must not be there
	}{
		{"plain", "/api/v1/label/", "", map[string]any{"method": "GET", "path": "/api/v1/label/", "status": 418.0, "bytes_out": 5.0, "remote_addr": "192.0.2.1:1234"},
			[]string{"query", "user"}},
		{"user and query", "/api/v1/label/?filter=name%3D%27x%27&probe=p-1", "alice",
			map[string]any{"user": "alice", "query": "filter=name%3D%27x%27&probe=p-1"}, nil},
		{"secret parameters", "/api/v1/x?password=hunter2&Access_Token=t0k&a=1&api%4Bey=k3y&flag&TOKEN",
			"", map[string]any{"query": "password=REDACTED&Access_Token=REDACTED&a=1&api%4Bey=REDACTED&flag&TOKEN"}, nil},
		{"escaped path", "/api/v1/a%22b%0A%FF%E2%82%AC/", "", map[string]any{"path": "/api/v1/a%22b%0A%FF%E2%82%AC/"}, nil},
		{"long path", long, "", map[string]any{"path": long[:maxLoggedPath] + "..."}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := len(out.lines())
			if out.buf.Len() == 0 {
				from = 0
			}
			req := httptest.NewRequest("GET", tt.target, nil)
			req.RemoteAddr = "192.0.2.1:1234"
			req.SetBasicAuth("alice", "the-password")
			if tt.user != "" {
				req.Header.Set("X-Test-User", tt.user)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			lines := out.lines()
			if len(lines) != from+1 {
				t.Fatalf("%d new lines, want 1", len(lines)-from)
			}
			line := lines[from]
			if len(line) > 8<<10 {
				t.Errorf("line of %d bytes", len(line))
			}
			if strings.Contains(line, "the-password") || strings.Contains(line, "Basic") {
				t.Errorf("credentials logged: %s", line)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, line)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present: %s", k, line)
				}
			}
			if ts, _ := got["time"].(string); ts == "" {
				t.Errorf("no time: %s", line)
			} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				t.Errorf("time %q: %v", ts, err)
			}
			if d, ok := got["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms = %v", got["duration_ms"])
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\x7f\n\t", "é€😀", "\xff\xfe bad", "\u2028"} {
		b := appendJSONString(nil, s, 1000)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q → %s: %v", s, b, err)
			continue
		}
		// Each invalid byte is one U+FFFD, as strings.Map decodes it.
		if want := strings.Map(func(r rune) rune { return r }, s); got != want {
			t.Errorf("%q → %s → %q", s, b, got)
		}
	}
	// A cut inside a UTF-8 sequence stays valid JSON.
	if b := appendJSONString(nil, "ab€", 3); !json.Valid(b) {
		t.Errorf("cut string %s is not valid JSON", b)
	}
}

// TestRequestLogConcurrent: concurrent requests give whole lines.
func TestRequestLogConcurrent(t *testing.T) {
	var out lineBuffer
	h := requestLog(authenticated, &out)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/label/?x=1", nil))
			}
		}()
	}
	wg.Wait()
	lines := out.lines()
	if len(lines) != 400 || out.n != 400 {
		t.Fatalf("%d lines in %d writes, want 400", len(lines), out.n)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("not JSON: %s", l)
		}
	}
}

// nopWriter is the cheapest ResponseWriter, so that the benchmark measures the log.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkRequestLog is the cost the log adds to a request: building the line (written to
// io.Discard), and with the write system call (to /dev/null).
func BenchmarkRequestLog(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if u, ok := w.(interface{ SetUser(string) }); ok {
			u.SetUser("admin")
		}
		w.WriteHeader(http.StatusOK)
	})
	req := httptest.NewRequest("GET", "/api/v1/application/0a0b0c0d-0e0f-4000-8000-000000000001/state?filter=name%3D%27x%27", nil)
	w := &nopWriter{h: http.Header{}}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", ok}, {"logged", requestLog(ok, io.Discard)}, {"logged to dev null", requestLog(ok, devNull)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

// TestLineBatch: lines written to a batch reach the writer whole, in order, and all of them by
// Close.
func TestLineBatch(t *testing.T) {
	var out testutil.Buffer
	b := newLineBatch(&out)
	var want strings.Builder
	for i := range 2000 {
		line := fmt.Sprintf("{\"n\":%d}\n", i)
		want.WriteString(line)
		_, _ = b.Write([]byte(line))
	}
	b.Close()
	if out.String() != want.String() {
		t.Errorf("written %d bytes, want the %d bytes of the lines in order", len(out.String()), want.Len())
	}
}

// TestLineBatchWritesWithoutClose: a lone line is written soon, not only at Close.
func TestLineBatchWritesWithoutClose(t *testing.T) {
	var out testutil.Buffer
	b := newLineBatch(&out)
	defer b.Close()
	_, _ = b.Write([]byte("{}\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "{}\n" {
		if time.Now().After(deadline) {
			t.Fatalf("line not written within 5 s: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// gatedWriter blocks every Write until open is closed.
type gatedWriter struct {
	open chan struct{}
	testutil.Buffer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	<-g.open
	return g.Buffer.Write(p)
}

// TestLineBatchBounded: while the output is stuck, the queue stops at maxQueued; the lines beyond
// are counted and the count is written once the output moves again.
func TestLineBatchBounded(t *testing.T) {
	g := &gatedWriter{open: make(chan struct{})}
	b := newLineBatch(g)
	line := []byte(strings.Repeat("x", 1023) + "\n")
	n := 3 * maxQueued / len(line)
	for range n {
		_, _ = b.Write(line)
	}
	b.mu.Lock()
	queued := len(b.buf)
	b.mu.Unlock()
	if queued > maxQueued {
		t.Errorf("%d bytes queued, want at most %d", queued, maxQueued)
	}
	close(g.open)
	b.Close()
	if out := g.String(); !strings.Contains(out, `"dropped_request_lines":`) {
		t.Errorf("no dropped count written (%d bytes out)", len(out))
	}
}
