package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
)

// output holds the lines a process wrote, and wakes waiters on every new line.
type output struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every change
	long    bool          // a line exceeded maxLine
	eof     bool
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

// drain reads r until EOF, keeping every line. After a line over maxLine it keeps reading (so
// the process never blocks on the pipe) but records nothing more.
func (o *output) drain(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		o.add(strings.TrimRight(sc.Text(), "\r"))
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		o.mu.Lock()
		o.long = true
		o.mu.Unlock()
		_, _ = io.Copy(io.Discard, r)
	}
	o.mu.Lock()
	o.eof = true
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

func (o *output) add(line string) {
	o.mu.Lock()
	o.lines = append(o.lines, line)
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

func (o *output) snapshot() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

func (o *output) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.lines)
}

func (o *output) tooLong() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.long
}

// find returns the first line matching match.
func (o *output) find(match func(string) bool) (string, bool) {
	for _, l := range o.snapshot() {
		if match(l) {
			return l, true
		}
	}
	return "", false
}

// waitFor waits until a line at index from or later matches, and returns its index. It gives up
// at the deadline or when the output ended.
func (o *output) waitFor(from int, deadline time.Time, match func(string) bool) (int, bool) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		o.mu.Lock()
		for i := from; i < len(o.lines); i++ {
			if match(o.lines[i]) {
				o.mu.Unlock()
				return i, true
			}
		}
		from = max(from, len(o.lines))
		eof, changed := o.eof, o.changed
		o.mu.Unlock()
		if eof {
			return -1, false
		}
		select {
		case <-changed:
		case <-timer.C:
			return -1, false
		}
	}
}

// waitEOF waits up to d for the end of the output.
func (o *output) waitEOF(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		o.mu.Lock()
		eof, changed := o.eof, o.changed
		o.mu.Unlock()
		if eof {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// tail returns the last n lines, each cut to a readable length.
func (o *output) tail(n int) string {
	lines := o.snapshot()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		if len(l) > 400 {
			l = l[:400] + "…"
		}
		b.WriteString("  | " + l + "\n")
	}
	return b.String()
}
