package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A lock file <dir>/<key>.lock exists while some process downloads that
// image; it holds the owner's PID. It only avoids downloading twice: the
// final directory appears by an atomic rename of a private temporary
// directory, so two owners at once (a lost race on a stale lock) cost a
// second download, never a corrupt entry.

// unparsableGrace is how long a lock file without a readable PID is
// presumed to be still being written (only possible on file systems
// without hard links, see createLock).
const unparsableGrace = 10 * time.Second

// acquireLock waits until this process owns the lock of key and returns the
// function that releases it. A lock is stale, and taken over, when its PID is
// dead or is this process's own PID: this Cache holds the in-process flight
// for key while it locks, so its own PID can only be left over by an earlier
// process that had the same PID (a restarted container). One Cache per
// directory per process is assumed.
func (c *Cache) acquireLock(ctx context.Context, key string, log *slog.Logger) (func(), error) {
	lockPath := filepath.Join(c.dir, key+".lock")
	own := []byte(strconv.Itoa(os.Getpid()) + "\n")
	var deadline <-chan time.Time
	if c.LockWait > 0 {
		t := time.NewTimer(c.LockWait)
		defer t.Stop()
		deadline = t.C
	}
	var ticker *time.Ticker
	for {
		err := c.createLock(lockPath, own)
		if err == nil {
			return func() { releaseLock(lockPath, own, log) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("image %s: create lock: %w", key, err)
		}
		content, stale, err := inspectLock(lockPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // released meanwhile
		case err != nil:
			return nil, fmt.Errorf("image %s: read lock: %w", key, err)
		case stale:
			log.Warn("taking over stale image lock", "lock", lockPath, "owner", strings.TrimSpace(string(content)))
			if err := breakLock(lockPath, content); err != nil {
				return nil, fmt.Errorf("image %s: take over stale lock: %w", key, err)
			}
			continue
		}
		if ticker == nil {
			log.Info("image is being downloaded by another process, waiting", "owner", strings.TrimSpace(string(content)))
			poll := c.LockPoll
			if poll <= 0 {
				poll = DefaultLockPoll
			}
			ticker = time.NewTicker(poll)
			defer ticker.Stop()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("image %s: waiting for lock: %w", key, ctx.Err())
		case <-deadline:
			return nil, fmt.Errorf("image %s: %w %s (held by pid %s)", key, ErrLockTimeout, lockPath, strings.TrimSpace(string(content)))
		case <-ticker.C:
		}
	}
}

// createLock creates lockPath holding content, failing with fs.ErrExist when
// it exists. The content is written to a private file first and hard-linked
// into place, so a reader never sees a lock without its PID; file systems
// without hard links fall back to O_EXCL.
func (c *Cache) createLock(lockPath string, content []byte) error {
	tmp, err := os.CreateTemp(c.dir, ".lock-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, werr := tmp.Write(content)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return werr
	}
	err = os.Link(tmp.Name(), lockPath)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(lockPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, werr = f.Write(content)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// inspectLock reads a lock and decides whether its owner is gone.
func inspectLock(lockPath string) (content []byte, stale bool, err error) {
	content, err = os.ReadFile(lockPath)
	if err != nil {
		return nil, false, err
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(string(content)))
	if perr != nil || pid <= 0 {
		st, err := os.Stat(lockPath)
		if err != nil {
			return nil, false, err
		}
		return content, time.Since(st.ModTime()) > unparsableGrace, nil
	}
	return content, pid == os.Getpid() || !processAlive(pid), nil
}

// breakLock removes a stale lock, unless someone replaced it meanwhile: the
// lock is first renamed aside (atomic, only one breaker wins), and put back
// if what was moved is not the stale content that was judged.
func breakLock(lockPath string, staleContent []byte) error {
	aside := lockPath + ".stale-" + strconv.FormatUint(uint64(rand.Uint32()), 10)
	if err := os.Rename(lockPath, aside); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer func() { _ = os.Remove(aside) }()
	moved, err := os.ReadFile(aside)
	if err != nil || bytes.Equal(moved, staleContent) {
		return nil
	}
	// A fresh lock was moved: restore it unless yet another one exists.
	_ = os.Link(aside, lockPath)
	return nil
}

func releaseLock(lockPath string, own []byte, log *slog.Logger) {
	content, err := os.ReadFile(lockPath)
	if err != nil || !bytes.Equal(content, own) {
		log.Warn("image lock was taken over by another process", "lock", lockPath)
		return
	}
	if err := os.Remove(lockPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Error("unable to release image lock", "lock", lockPath, "err", err)
	}
}

// tmpPrefix starts the name of key's temporary unpack directories:
// <dir>/.tmp-<key>-<pid>-<random digits>.
func tmpPrefix(key string) string { return ".tmp-" + key + "-" }

var tmpSuffix = regexp.MustCompile(`^([0-9]+)-[0-9]+$`)

// cleanStaleTemps removes key's temporary directories left by dead processes
// (or by an earlier process with this PID). Called with the lock held.
func (c *Cache) cleanStaleTemps(key string, log *slog.Logger) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		log.Warn("unable to list image cache", "err", err)
		return
	}
	prefix := tmpPrefix(key)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		m := tmpSuffix.FindStringSubmatch(rest)
		if m == nil {
			continue // another image whose key starts with this one
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || (pid != os.Getpid() && processAlive(pid)) {
			continue
		}
		p := filepath.Join(c.dir, e.Name())
		if err := removeTree(p); err != nil {
			log.Warn("unable to remove stale temporary image directory", "dir", p, "err", err)
			continue
		}
		log.Info("removed stale temporary image directory", "dir", p)
	}
}
