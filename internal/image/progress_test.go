package image

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestProgress(t *testing.T) {
	tests := []struct {
		name      string
		total     int64
		every     time.Duration
		wantLines int
		wantText  string
	}{
		{name: "every 10% of a known size", total: 100, every: time.Hour, wantLines: 9, wantText: "percent=90"},
		{name: "by time when the size is unknown", total: -1, every: time.Nanosecond, wantLines: 10, wantText: "bytes=100"},
		{name: "unknown size, not yet due", total: -1, every: time.Hour, wantLines: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			// Ten reads of ten bytes.
			p := newProgress(bytes.NewReader(make([]byte, 100)), tt.total, tt.every, log)
			buf := make([]byte, 10)
			for {
				_, err := io.ReadFull(p, buf)
				if err != nil {
					break
				}
			}
			if got := strings.Count(logs.String(), "image download progress"); got != tt.wantLines {
				t.Fatalf("%d progress lines, want %d:\n%s", got, tt.wantLines, logs.String())
			}
			if !strings.Contains(logs.String(), tt.wantText) {
				t.Fatalf("logs lack %q:\n%s", tt.wantText, logs.String())
			}
		})
	}
}

func TestProgressKeepsReadError(t *testing.T) {
	boom := errors.New("connection reset")
	p := newProgress(iotest.ErrReader(boom), 10, time.Hour, slog.New(slog.DiscardHandler))
	if _, err := io.ReadAll(p); !errors.Is(err, boom) || !errors.Is(p.err, boom) {
		t.Fatalf("ReadAll() = %v, p.err = %v", err, p.err)
	}
}
