package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// deadPID is above any kernel's pid_max, so no process has it.
const deadPID = 0x7ffffffe

func writeLock(t *testing.T, c *Cache, key, content string) string {
	t.Helper()
	p := filepath.Join(c.Dir(), key+".lock")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mkdirs(t *testing.T, base string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(base, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGetTakesOverStaleLock(t *testing.T) {
	body := archiveOf(t, imageFiles)
	dead, live := strconv.Itoa(deadPID), strconv.Itoa(os.Getppid())
	tests := []struct {
		name    string
		content string
		old     bool // lock file mtime long ago
	}{
		{name: "dead pid", content: dead + "\n"},
		{name: "own pid left by an earlier process", content: strconv.Itoa(os.Getpid())},
		{name: "unreadable and old", content: "garbage", old: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, body, nil)
			c, logs := newTestCache(t, srv.Client(), Auth{})
			lock := writeLock(t, c, "img-1", tt.content)
			if tt.old {
				old := time.Now().Add(-time.Hour)
				if err := os.Chtimes(lock, old, old); err != nil {
					t.Fatal(err)
				}
			}
			mkdirs(t, c.Dir(),
				".tmp-img-1-"+dead+"-42/half",     // left by the dead owner: removed
				".tmp-img-1-"+live+"-43",          // a live process's: kept
				".tmp-img-1-2-"+dead+"-44",        // image img-1-2's: not ours to judge
				".tmp-img-1-"+dead+"-45-odd-name", // not a temp name: kept
			)
			if _, err := c.Get(getCtx(t), Image{URL: srv.URL + "/img-1.tar.xz"}); err != nil {
				t.Fatal(err)
			}
			want := []string{".tmp-img-1-" + dead + "-45-odd-name", ".tmp-img-1-" + live + "-43", ".tmp-img-1-2-" + dead + "-44", "img-1"}
			slices.Sort(want)
			if got := cacheEntries(t, c); !slices.Equal(got, want) {
				t.Fatalf("cache holds %v, want %v", got, want)
			}
			if !strings.Contains(logs.String(), "taking over stale image lock") {
				t.Fatalf("takeover not logged:\n%s", logs)
			}
		})
	}
}

func TestGetWaitsForLiveLock(t *testing.T) {
	body := archiveOf(t, imageFiles)
	tests := []struct {
		name         string
		otherUnpacks bool // the other process finishes the image
		wantRequests int32
	}{
		{name: "other process unpacks", otherUnpacks: true, wantRequests: 0},
		{name: "other process gives up", otherUnpacks: false, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, body, nil)
			c, logs := newTestCache(t, srv.Client(), Auth{})
			lock := writeLock(t, c, "img-1", strconv.Itoa(os.Getppid()))
			type result struct {
				path string
				err  error
			}
			done := make(chan result, 1)
			go func() {
				p, err := c.Get(getCtx(t), Image{URL: srv.URL + "/img-1.tar.xz"})
				done <- result{p, err}
			}()
			eventually(t, "Get to wait for the lock", func() bool {
				return strings.Contains(logs.String(), "being downloaded by another process")
			})
			if tt.otherUnpacks {
				mkdirs(t, c.Dir(), "img-1/from-other")
			}
			if err := os.Remove(lock); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil || r.path != filepath.Join(c.Dir(), "img-1") {
				t.Fatalf("Get() = %q, %v", r.path, r.err)
			}
			if got := srv.requests.Load(); got != tt.wantRequests {
				t.Fatalf("requests = %d, want %d", got, tt.wantRequests)
			}
		})
	}
}

func TestGetLockWaitBounded(t *testing.T) {
	tests := []struct {
		name     string
		lockWait time.Duration
		ctxWait  time.Duration
		want     error
	}{
		{name: "LockWait", lockWait: 30 * time.Millisecond, ctxWait: 10 * time.Second, want: ErrLockTimeout},
		{name: "context", lockWait: 0, ctxWait: 30 * time.Millisecond, want: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, nil, nil)
			c, _ := newTestCache(t, srv.Client(), Auth{})
			c.LockWait = tt.lockWait
			writeLock(t, c, "img-1", strconv.Itoa(os.Getppid()))
			ctx, cancel := context.WithTimeout(t.Context(), tt.ctxWait)
			defer cancel()
			if _, err := c.Get(ctx, Image{URL: srv.URL + "/img-1.tar.xz"}); !errors.Is(err, tt.want) {
				t.Fatalf("Get() = %v, want %v", err, tt.want)
			}
			if got := srv.requests.Load(); got != 0 {
				t.Fatalf("requests = %d while the lock was held", got)
			}
			if got := cacheEntries(t, c); !slices.Equal(got, []string{"img-1.lock"}) {
				t.Fatalf("cache holds %v, want only the other process's lock", got)
			}
		})
	}
}

func TestBreakLockRestoresAFreshLock(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "k.lock")
	if err := os.WriteFile(lock, []byte("123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The stale content judged was "99", but the file now holds a fresh lock.
	if err := breakLock(lock, []byte("99\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, lock); got != "123\n" {
		t.Fatalf("lock = %q, want the fresh lock back", got)
	}
	if err := breakLock(lock, []byte("123\n")); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left %v", entries)
	}
}
