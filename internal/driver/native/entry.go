package native

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Output handling of the entry.
const (
	outputTail  = 512                    // bytes of output an early-exit error quotes
	outputPoll  = 250 * time.Millisecond // how often the output file is checked for more
	outputLine  = 16 << 10               // longest line logged in one piece
	logFileName = "-entry.log"           // <workspace>/<user>-entry.log
)

// entry is an entry process started by this driver instance.
//
// Its output goes to a file in the workspace, not to a pipe: a pipe would break when the node
// restarts, and the next write of the workload would kill it with SIGPIPE. While the instance
// that started it runs, the file is followed and every line is logged.
type entry struct {
	log  string        // the output file
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // the exit status, set before done closes

	stop chan struct{} // closed (by forget) to stop following the output
}

// logPath is where the output of user's entry goes.
func logPath(workspace, user string) string { return filepath.Join(workspace, user+logFileName) }

// startEntry starts a prepared launch for user with its output appended to logFile, and
// follows it until forget.
func (d *Driver) startEntry(l launch, user, logFile string) (*entry, error) {
	out, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err == nil {
		var in *os.File
		if in, err = os.Open(logFile); err == nil {
			return d.startWith(l, user, logFile, out, in)
		}
		out.Close()
	}
	if l.release != nil {
		l.release()
	}
	return nil, fmt.Errorf("entry output: %w", err)
}

func (d *Driver) startWith(l launch, user, logFile string, out, in *os.File) (*entry, error) {
	l.cmd.Stdout, l.cmd.Stderr = out, out
	err := l.cmd.Start()
	out.Close()
	if err == nil && l.started != nil {
		if err = l.started(l.cmd.Process.Pid); err != nil {
			l.cmd.Process.Kill()
			l.cmd.Wait()
		}
	}
	if l.release != nil {
		l.release()
	}
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("start entry: %w", err)
	}

	e := &entry{log: logFile, done: make(chan struct{}), stop: make(chan struct{})}
	log := d.log.With("user", user)
	go e.follow(in, log)
	go func() {
		e.err = l.cmd.Wait()
		log.Info("entry exited", "status", l.cmd.ProcessState.String())
		close(e.done)
	}()
	d.mu.Lock()
	d.entries[user] = e
	d.mu.Unlock()
	return e, nil
}

// follow logs every line of the output file until stop.
func (e *entry) follow(f *os.File, log *slog.Logger) {
	defer f.Close()
	r := bufio.NewReaderSize(f, outputLine)
	tick := time.NewTicker(outputPoll)
	defer tick.Stop()
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		switch {
		case err == nil || (errors.Is(err, bufio.ErrBufferFull) && len(line) >= outputLine):
			log.Info("entry output", "line", strings.TrimRight(string(line), "\n"))
			line = line[:0]
			continue
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case !errors.Is(err, io.EOF):
			log.Warn("entry output", "err", err)
			return
		}
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
	}
}

// watch waits up to wait for the entry: an exit with an error status within it is an error
// quoting the end of the output; a clean exit or a still running entry is fine.
func (e *entry) watch(ctx context.Context, wait time.Duration) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-e.done:
		if e.err == nil {
			return nil
		}
		if out := tailFile(e.log, outputTail); out != "" {
			return fmt.Errorf("entry failed: %w: %s", e.err, out)
		}
		return fmt.Errorf("entry failed: %w", e.err)
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tailFile returns the last n bytes of a file, trimmed; "" when it cannot be read.
func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// forget stops following the entry of user and, with wait (its processes were just killed),
// waits up to ctx until the process is reaped.
func (d *Driver) forget(ctx context.Context, user string, wait bool) {
	d.mu.Lock()
	e := d.entries[user]
	delete(d.entries, user)
	d.mu.Unlock()
	if e == nil {
		return
	}
	close(e.stop)
	if !wait {
		return
	}
	select {
	case <-e.done:
	case <-ctx.Done():
	}
}
