package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ownPath reports whether p is a path the layout of user name may hold: an absolute path
// whose last element is name or starts with name followed by '-'. It protects against a
// corrupted record removing anything else.
func ownPath(p, name string) bool {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return false
	}
	base := filepath.Base(p)
	return base == name || strings.HasPrefix(base, name+"-")
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// run runs a tool and returns its output in the error when it fails.
func run(ctx context.Context, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// exitCode returns the exit status inside err, or -1.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// pollInterval bounds the wait between two checks of poll.
const pollInterval = 50 * time.Millisecond

// poll calls check until it reports done, fails, or ctx ends.
func poll(ctx context.Context, check func() (bool, error)) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
