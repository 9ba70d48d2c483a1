package testcluster

import (
	"bytes"
	"strings"
	"sync"
)

// maxLines bounds the lines an Output keeps (the oldest go first).
const maxLines = 50000

// Output collects the lines a node writes, across its restarts. It is safe for concurrent use.
type Output struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
}

func newOutput() *Output { return &Output{} }

// Write splits p into lines.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.add(string(bytes.TrimRight(o.partial[:i], "\r")))
		o.partial = o.partial[i+1:]
	}
	return len(p), nil
}

func (o *Output) add(line string) {
	if len(o.lines) >= maxLines {
		o.lines = append(o.lines[:0], o.lines[maxLines/10:]...)
	}
	o.lines = append(o.lines, line)
}

// Mark adds a line of the harness (start, stop, kill).
func (o *Output) Mark(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.add(line)
}

// Lines returns a copy of the lines so far.
func (o *Output) Lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

// Find returns the first line matching match.
func (o *Output) Find(match func(string) bool) (string, bool) {
	for _, l := range o.Lines() {
		if match(l) {
			return l, true
		}
	}
	return "", false
}

// Contains reports whether some line contains every one of parts.
func (o *Output) Contains(parts ...string) bool {
	_, ok := o.Find(func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	})
	return ok
}

// Tail returns the last n lines as one text.
func (o *Output) Tail(n int) string {
	l := o.Lines()
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
