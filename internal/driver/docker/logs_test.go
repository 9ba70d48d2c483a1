package docker

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// logRecorder is a slog handler that keeps every record (with the attributes of its logger)
// as a line of text, for assertions.
type logRecorder struct {
	lines *logLines
	attrs string
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func newLogRecorder() *logRecorder { return &logRecorder{lines: &logLines{}} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message + l.attrs
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	l.lines.mu.Lock()
	defer l.lines.mu.Unlock()
	l.lines.lines = append(l.lines.lines, line)
	return nil
}

func (l *logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *l
	for _, a := range attrs {
		c.attrs += " " + a.String()
	}
	return &c
}

func (l *logRecorder) WithGroup(string) slog.Handler { return l }

// text returns every record, one line each.
func (l *logRecorder) text() string {
	l.lines.mu.Lock()
	defer l.lines.mu.Unlock()
	return strings.Join(l.lines.lines, "\n")
}
