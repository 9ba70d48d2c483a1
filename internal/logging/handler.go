// Package logging provides the slog handler that writes the node's log lines in the format
// clients and test harnesses know (cli-config.md §4):
//
//	[<YYYY/MM/DD> <HH:MM:SS>[.micro] ][file:line: ]<LEVEL>:\t<message>[ key=value...]
//
// Date and time are written unless timestamps are disabled; microseconds and the caller's
// file:line only when the handler's level is debug (or lower).
package logging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	timeLayout      = "2006/01/02 15:04:05"
	timeLayoutMicro = "2006/01/02 15:04:05.000000"
)

// New returns a logger writing to w the records at level and above.
func New(w io.Writer, level slog.Level, timestamps bool) *slog.Logger {
	return slog.New(NewHandler(w, level, timestamps))
}

// Handler is a slog.Handler producing one line per record, written with a single Write call.
// Handlers derived with WithAttrs and WithGroup share the writer and its lock, so lines of a
// logger and its children never interleave.
type Handler struct {
	out        *output
	level      slog.Level
	timestamps bool
	prefix     string // group names of WithGroup, each followed by '.'
	attrs      []byte // " key=value" pairs of WithAttrs, already formatted
}

type output struct {
	mu sync.Mutex
	w  io.Writer
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a handler writing to w the records at level and above.
func NewHandler(w io.Writer, level slog.Level, timestamps bool) *Handler {
	return &Handler{out: &output{w: w}, level: level, timestamps: timestamps}
}

// Enabled reports whether records at level are written.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Handle formats r as one line and writes it.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	debug := h.level <= slog.LevelDebug

	if h.timestamps && !r.Time.IsZero() {
		layout := timeLayout
		if debug {
			layout = timeLayoutMicro
		}
		buf = r.Time.AppendFormat(buf, layout)
		buf = append(buf, ' ')
	}
	if debug && r.PC != 0 {
		frame, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		if frame.File != "" {
			buf = append(buf, filepath.Base(frame.File)...)
			buf = append(buf, ':')
			buf = strconv.AppendInt(buf, int64(frame.Line), 10)
			buf = append(buf, ": "...)
		}
	}
	buf = append(buf, levelName(r.Level)...)
	buf = append(buf, ":\t"...)
	start := len(buf)
	buf = append(buf, r.Message...)
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.prefix, a)
		return true
	})
	buf = oneLine(buf, start)
	buf = append(buf, '\n')

	h.out.mu.Lock()
	_, err := h.out.w.Write(buf)
	h.out.mu.Unlock()

	if cap(buf) <= 64<<10 { // do not keep huge buffers around
		*bp = buf
		bufPool.Put(bp)
	}
	return err
}

// WithAttrs returns a handler that appends attrs to every line.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a handler that qualifies the keys of later attributes with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

// levelName maps a level to one of the four names; levels between them round down.
// maxLine bounds a log line: the clients' harness reads lines of at most 64 KiB and stops
// reading after a longer one (cli-config.md §4).
const maxLine = 16 << 10

// oneLine keeps the record from buf[start:] on one bounded line: a newline in a message (an
// error that quotes output) becomes the two characters \n, and the end of a line over maxLine
// is cut.
func oneLine(buf []byte, start int) []byte {
	if bytes.IndexByte(buf[start:], '\n') >= 0 {
		text := bytes.ReplaceAll(buf[start:], []byte("\n"), []byte(`\n`))
		buf = append(buf[:start], text...)
	}
	const cut = " …(cut)"
	if len(buf) > maxLine {
		end := maxLine - len(cut)
		for end > start && !utf8.RuneStart(buf[end]) {
			end--
		}
		buf = append(buf[:end], cut...)
	}
	return buf
}

func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARN"
	default:
		return "ERROR"
	}
}

// appendAttr appends " key=value" (groups flattened to "group.key=value"), following the slog
// rules: empty attributes and empty groups are dropped, a group with an empty key is inlined.
func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			buf = appendAttr(buf, prefix, ga)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = append(buf, prefix...)
	buf = append(buf, a.Key...)
	buf = append(buf, '=')
	return appendValue(buf, a.Value)
}

func appendValue(buf []byte, v slog.Value) []byte {
	var s string
	switch v.Kind() {
	case slog.KindTime:
		s = v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			s = err.Error()
		} else {
			s = v.String()
		}
	default:
		s = v.String()
	}
	if needsQuote(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

// needsQuote reports whether s must be quoted to stay one unambiguous token on one line.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' || r == '=' {
			return true
		}
	}
	return false
}
