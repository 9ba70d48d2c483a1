package logging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var at = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.Local)

// line formats one record with pc 0 (no caller) through h and returns the written text.
func line(t *testing.T, h slog.Handler, buf *bytes.Buffer, level slog.Level, msg string, args ...any) string {
	t.Helper()
	buf.Reset()
	r := slog.NewRecord(at, level, msg, 0)
	r.Add(args...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name       string
		level      slog.Level // handler level
		timestamps bool
		recLevel   slog.Level
		msg        string
		args       []any
		want       string
	}{
		{"info with time", slog.LevelInfo, true, slog.LevelInfo, "Fish initialized", nil,
			"2026/03/04 05:06:07 INFO:\tFish initialized\n"},
		{"debug adds micros", slog.LevelDebug, true, slog.LevelDebug, "x", nil,
			"2026/03/04 05:06:07.123456 DEBUG:\tx\n"},
		{"no timestamps", slog.LevelInfo, false, slog.LevelWarn, "careful", nil,
			"WARN:\tcareful\n"},
		{"error level", slog.LevelInfo, false, slog.LevelError, "boom", nil,
			"ERROR:\tboom\n"},
		{"levels round down", slog.LevelDebug, false, slog.LevelError - 1, "m", nil,
			"WARN:\tm\n"},
		{"below debug", slog.LevelDebug - 4, false, slog.LevelDebug - 4, "m", nil,
			"DEBUG:\tm\n"},
		{"attributes", slog.LevelInfo, false, slog.LevelInfo, "API listening on: 127.0.0.1:8001",
			[]any{"app", "0123", "n", 3, "ok", true, "d", 1500 * time.Millisecond},
			"INFO:\tAPI listening on: 127.0.0.1:8001 app=0123 n=3 ok=true d=1.5s\n"},
		{"quoting", slog.LevelInfo, false, slog.LevelInfo, "m",
			[]any{"err", errors.New("no such file"), "empty", "", "nl", "a\nb", "eq", "a=b", "plain", "a/b:c"},
			"INFO:\tm err=\"no such file\" empty=\"\" nl=\"a\\nb\" eq=\"a=b\" plain=a/b:c\n"},
		{"groups", slog.LevelInfo, false, slog.LevelInfo, "m",
			[]any{slog.Group("g", "a", 1, slog.Group("h", "b", 2)), slog.Group("empty"), slog.Group("", "inl", 3)},
			"INFO:\tm g.a=1 g.h.b=2 inl=3\n"},
		{"time attribute", slog.LevelInfo, false, slog.LevelInfo, "m",
			[]any{"at", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
			"INFO:\tm at=2026-01-02T03:04:05Z\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := NewHandler(&buf, tt.level, tt.timestamps)
			if got := line(t, h, &buf, tt.recLevel, tt.msg, tt.args...); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestWithAttrsAndGroup(t *testing.T) {
	var buf bytes.Buffer
	base := NewHandler(&buf, slog.LevelInfo, false)
	h := base.WithAttrs([]slog.Attr{slog.String("component", "scheduler")}).
		WithGroup("app").
		WithAttrs([]slog.Attr{slog.String("uid", "u-1")})
	if got, want := line(t, h, &buf, slog.LevelInfo, "elected", "round", 2), "INFO:\telected component=scheduler app.uid=u-1 app.round=2\n"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The parent is unchanged.
	if got, want := line(t, base, &buf, slog.LevelInfo, "m"), "INFO:\tm\n"; got != want {
		t.Errorf("parent: got %q, want %q", got, want)
	}
	if base.WithGroup("") != slog.Handler(base) || base.WithAttrs(nil) != slog.Handler(base) {
		t.Error("empty WithGroup/WithAttrs should return the handler itself")
	}
}

func TestEnabled(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelWarn, false)
	log.Info("hidden")
	log.Warn("shown")
	if got := buf.String(); got != "WARN:\tshown\n" {
		t.Errorf("got %q", got)
	}
}

func TestDebugCallerAndTimestamp(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, slog.LevelDebug, true).Debug("hello", "k", "v")
	re := regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} handler_test\.go:\d+: DEBUG:\thello k=v\n$`)
	if !re.MatchString(buf.String()) {
		t.Errorf("line %q does not match %s", buf.String(), re)
	}

	buf.Reset()
	New(&buf, slog.LevelInfo, true).Info("hello")
	re = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} INFO:\thello\n$`)
	if !re.MatchString(buf.String()) {
		t.Errorf("line %q does not match %s", buf.String(), re)
	}

	buf.Reset()
	New(&buf, slog.LevelDebug, false).Info("hello")
	re = regexp.MustCompile(`^handler_test\.go:\d+: INFO:\thello\n$`)
	if !re.MatchString(buf.String()) {
		t.Errorf("line %q does not match %s", buf.String(), re)
	}
}

// writeCounter records every Write call separately.
type writeCounter struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestConcurrentOneWritePerLine(t *testing.T) {
	w := &writeCounter{}
	log := New(w, slog.LevelInfo, true)
	var wg sync.WaitGroup
	const goroutines, perG = 8, 50
	for g := range goroutines {
		l := log.With("g", g)
		wg.Go(func() {
			for i := range perG {
				l.Info("msg", "i", i)
			}
		})
	}
	wg.Wait()
	if len(w.writes) != goroutines*perG {
		t.Fatalf("%d writes, want %d", len(w.writes), goroutines*perG)
	}
	for _, s := range w.writes {
		if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") || !strings.Contains(s, "INFO:\tmsg g=") {
			t.Fatalf("bad write %q", s)
		}
	}
}

func ExampleNew() {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo, false)
	log.With("component", "api").Info("API listening on: 127.0.0.1:8001")
	fmt.Print(buf.String())
	// Output: INFO:	API listening on: 127.0.0.1:8001 component=api
}

// TestOneBoundedLine: a record stays on one line (newlines in the message are escaped) and a
// huge one is cut well below the 64 KiB line limit of the clients' harness.
func TestOneBoundedLine(t *testing.T) {
	var out bytes.Buffer
	log := New(&out, slog.LevelInfo, false)
	log.Info("join failed:\nfirst\nsecond", "err", "x")
	if got, want := out.String(), "INFO:\tjoin failed:\\nfirst\\nsecond err=x\n"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	out.Reset()
	log.Warn("big", "body", strings.Repeat("é", 100_000))
	line := out.String()
	if strings.Count(line, "\n") != 1 || len(line) > maxLine+1 || !strings.HasSuffix(line, "…(cut)\n") || !utf8.ValidString(line) {
		t.Errorf("a huge record gave %d bytes, %d lines, valid UTF-8 %v", len(line), strings.Count(line, "\n"), utf8.ValidString(line))
	}
}
