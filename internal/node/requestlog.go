package node

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// requestLog writes one JSON line per request to w (api-v1.md §1), at debug verbosity only:
// at thousands of requests per second the lines would cost more than the requests. Headers
// (credentials) and bodies are never logged.
func requestLog(next http.Handler, w io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		line, _ := json.Marshal(struct {
			Time     string  `json:"time"`
			RemoteIP string  `json:"remote_ip"`
			Method   string  `json:"method"`
			URI      string  `json:"uri"`
			Status   int     `json:"status"`
			Latency  float64 `json:"latency_ms"`
			BytesOut int64   `json:"bytes_out"`
		}{start.UTC().Format(time.RFC3339Nano), ip, r.Method, r.URL.RequestURI(), rec.status,
			float64(time.Since(start).Microseconds()) / 1000, rec.bytes})
		mu.Lock()
		w.Write(append(line, '\n'))
		mu.Unlock()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (flushes of streamed profiles).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
