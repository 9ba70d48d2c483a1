package node

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds of the logged fields: a request line may be up to 1 MB, but a log line must stay far
// below the 64 KiB line limit of the clients' harness (cli-config.md §4).
const (
	maxLoggedPath  = 2048
	maxLoggedQuery = 2048
	maxLoggedUser  = 256
)

// requestLog writes one JSON line per request to w (api-v1.md §1; the format is not part of the
// contract): time, method, path, query, status, duration, bytes written, remote address, and the
// user when the API authenticated one. Headers (the Authorization header among them) and bodies
// are never logged, and the values of query parameters named like credentials are redacted.
//
// A line is built with append functions into a pooled buffer (about half a microsecond,
// BenchmarkRequestLog) and handed to w, a lineBatch in the node, which writes whole lines only.
func requestLog(next http.Handler, w io.Writer) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		elapsed := time.Since(start)

		bp := linePool.Get().(*[]byte)
		line := appendRequestLine((*bp)[:0], start, elapsed, r, rec)
		_, _ = w.Write(line)
		*bp = line
		linePool.Put(bp)
	})
}

// lineBatch gathers whole lines and writes them to w together, at most batchDelay after the
// first one of a batch (or at once past batchSize): one system call per request cost the node a
// third of its throughput under 20,000 requests/s on this 2-core VM. Close writes what is left.
// While w is stuck (a full pipe), at most maxQueued bytes wait; later lines are counted, not
// kept, and the count is written with the next batch.
type lineBatch struct {
	w       io.Writer
	mu      sync.Mutex
	buf     []byte
	dropped int
	closed  bool
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

const (
	batchDelay = 20 * time.Millisecond
	batchSize  = 64 << 10
	maxQueued  = 4 << 20
)

func newLineBatch(w io.Writer) *lineBatch {
	b := &lineBatch{w: w, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// Write queues p, which must be whole lines.
func (b *lineBatch) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed || len(b.buf)+len(p) > maxQueued {
		b.dropped++
		b.mu.Unlock()
		return len(p), nil
	}
	first := len(b.buf) == 0
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= batchSize
	b.mu.Unlock()
	if first || full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (b *lineBatch) run() {
	defer close(b.done)
	var spare []byte
	for {
		select {
		case <-b.stop:
			b.flush(&spare)
			return
		case <-b.kick:
		}
		t := time.NewTimer(batchDelay)
		select {
		case <-b.stop:
			t.Stop()
			b.flush(&spare)
			return
		case <-t.C:
		case <-b.kick: // full: write now
			t.Stop()
		}
		b.flush(&spare)
	}
}

// flush writes the queued lines, swapping buffers so that writers never wait for the write.
func (b *lineBatch) flush(spare *[]byte) {
	b.mu.Lock()
	out, dropped := b.buf, b.dropped
	b.buf, b.dropped = (*spare)[:0], 0
	b.mu.Unlock()
	if dropped > 0 {
		out = fmt.Appendf(out, "{\"time\":%q,\"dropped_request_lines\":%d}\n", time.Now().UTC().Format(time.RFC3339Nano), dropped)
	}
	if len(out) > 0 {
		_, _ = b.w.Write(out)
	}
	if cap(out) > 4*batchSize {
		out = nil // a burst is over: do not keep its buffer
	}
	*spare = out
}

// Close writes what is queued and stops the batch; later lines are dropped.
func (b *lineBatch) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendRequestLine appends the JSON line of a finished request, newline included.
func appendRequestLine(b []byte, start time.Time, elapsed time.Duration, r *http.Request, rec *statusRecorder) []byte {
	b = append(b, `{"time":"`...)
	b = start.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","method":`...)
	b = appendJSONString(b, r.Method, maxLoggedPath)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.URL.EscapedPath(), maxLoggedPath)
	if r.URL.RawQuery != "" {
		b = append(b, `,"query":`...)
		b = appendQuery(b, r.URL.RawQuery)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(rec.status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(elapsed)/float64(time.Millisecond), 'f', 3, 64)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, rec.bytes, 10)
	b = append(b, `,"remote_addr":`...)
	b = appendJSONString(b, r.RemoteAddr, maxLoggedPath)
	if rec.user != "" {
		b = append(b, `,"user":`...)
		b = appendJSONString(b, rec.user, maxLoggedUser)
	}
	return append(b, "}\n"...)
}

// appendQuery appends the raw query as a JSON string, with the value of every parameter whose
// name looks like a credential replaced by REDACTED.
func appendQuery(b []byte, raw string) []byte {
	cut := len(raw) > maxLoggedQuery
	if cut {
		raw = raw[:maxLoggedQuery] // a cut parameter is still redacted by its name
	}
	b = append(b, '"')
	for rest, more := raw, true; more; {
		var part string
		part, rest, more = strings.Cut(rest, "&")
		if name, _, hasValue := strings.Cut(part, "="); hasValue && secretName(name) {
			b = appendEscaped(b, name)
			b = append(b, "=REDACTED"...)
		} else {
			b = appendEscaped(b, part)
		}
		if more {
			b = append(b, '&')
		}
	}
	if cut {
		b = append(b, "..."...)
	}
	return append(b, '"')
}

// secretWords are the parts of a query parameter name that make its value secret. The API takes
// no credential in a query, but a client may send one anyway.
var secretWords = []string{"pass", "pwd", "token", "secret", "auth", "key", "credential", "signature", "session"}

// secretName reports whether a (possibly escaped) query parameter name holds a secret word, in
// any case.
func secretName(name string) bool {
	if strings.IndexByte(name, '%') >= 0 || strings.IndexByte(name, '+') >= 0 {
		if u, err := url.QueryUnescape(name); err == nil {
			name = u
		}
	}
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, cut after limit bytes (marked with "..."). Control
// characters are escaped and invalid UTF-8 becomes U+FFFD, so the line is always valid JSON.
func appendJSONString(b []byte, s string, limit int) []byte {
	cut := len(s) > limit
	if cut {
		s = s[:limit]
	}
	b = append(b, '"')
	b = appendEscaped(b, s)
	if cut {
		b = append(b, "..."...)
	}
	return append(b, '"')
}

// appendEscaped appends s escaped for the inside of a JSON string.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// statusRecorder records what the request log needs of an answer.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
	user   string
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

// SetUser records the user the API authenticated the request as.
func (r *statusRecorder) SetUser(name string) { r.user = name }

// Unwrap lets http.ResponseController reach the connection (flushes of streamed profiles).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
