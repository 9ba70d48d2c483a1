package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Auth is the optional Basic auth sent with image downloads
// (download_user/download_password of the driver config).
type Auth struct{ User, Password string }

// Cache is a directory of unpacked images, <dir>/<name>-<version>/. The
// exported fields are options; set them before the first Get. One Cache per
// directory per process is assumed (see acquireLock).
type Cache struct {
	// RequireNamedSubdir makes Get fail with ErrLayout unless the unpacked
	// image holds a sub-directory whose name starts with the image name (the
	// layout native and vmx images have; docker images need not).
	RequireNamedSubdir bool
	// LockPoll is how often a lock held by another process is re-checked.
	LockPoll time.Duration
	// LockWait bounds the wait for another process's lock (ErrLockTimeout);
	// 0 waits as long as the context allows.
	LockWait time.Duration
	// ProgressEvery is the longest time between two progress log lines; a
	// line is also logged at every 10% when the size is known.
	ProgressEvery time.Duration

	dir    string
	client *http.Client
	auth   Auth
	log    *slog.Logger

	mu      sync.Mutex
	flights map[string]*flight // by image key; one download each
}

// Defaults of the Cache options.
const (
	DefaultLockPoll      = 5 * time.Second
	DefaultLockWait      = time.Hour
	DefaultProgressEvery = 5 * time.Second
)

// flight is one download shared by every Get of the same image in this
// process. Its goroutine never outlives its callers: when the last waiter
// gives up, the download is cancelled and that waiter waits for its cleanup.
type flight struct {
	done   chan struct{} // closed when path/err are set
	path   string
	err    error
	cancel context.CancelFunc

	waiters   int  // guarded by Cache.mu
	abandoned bool // guarded by Cache.mu: cancelled, new Gets must not join
}

// NewCache opens (creating it if needed) the image cache in dir. A nil client
// means a plain http.Client (no overall timeout: images are large; cancel
// through the context); a nil log discards.
func NewCache(dir string, client *http.Client, auth Auth, log *slog.Logger) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("image cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("image cache: %w", err)
	}
	if client == nil {
		client = &http.Client{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cache{
		LockPoll:      DefaultLockPoll,
		LockWait:      DefaultLockWait,
		ProgressEvery: DefaultProgressEvery,
		dir:           abs,
		client:        client,
		auth:          auth,
		log:           log.With("component", "image"),
		flights:       map[string]*flight{},
	}, nil
}

// Dir is the cache directory (absolute).
func (c *Cache) Dir() string { return c.dir }

// path is where a validated img is (or would be) unpacked.
func (c *Cache) path(img Image) string { return filepath.Join(c.dir, img.key()) }

// Get returns the directory of the unpacked image, downloading, verifying and
// unpacking it first when it is not in the cache yet. img is validated (on a
// copy) first, so its Name and Version defaults apply.
//
// Concurrent Gets of one image share one download. A Get whose ctx ends
// returns at once with ctx's error; the download goes on for the remaining
// callers and is cancelled (its temporary files removed before that Get
// returns) when no caller is left.
func (c *Cache) Get(ctx context.Context, img Image) (string, error) {
	if err := img.Validate(); err != nil {
		return "", err
	}
	key := img.key()
	if final := c.path(img); isDir(final) {
		return final, nil
	}
	for {
		c.mu.Lock()
		f := c.flights[key]
		if f != nil && f.abandoned {
			c.mu.Unlock()
			select {
			case <-f.done:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("image %s: %w", key, ctx.Err())
			}
		}
		if f == nil {
			fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			f = &flight{done: make(chan struct{}), cancel: cancel}
			c.flights[key] = f
			go c.run(fctx, f, img)
		}
		f.waiters++
		c.mu.Unlock()

		select {
		case <-f.done:
			return f.path, f.err
		case <-ctx.Done():
			c.mu.Lock()
			f.waiters--
			last := f.waiters == 0
			if last {
				f.abandoned = true
				f.cancel()
			}
			c.mu.Unlock()
			if last {
				<-f.done
			}
			return "", fmt.Errorf("image %s: %w", key, ctx.Err())
		}
	}
}

func (c *Cache) run(ctx context.Context, f *flight, img Image) {
	path, err := c.fetch(ctx, img)
	c.mu.Lock()
	delete(c.flights, img.key())
	f.path, f.err = path, err
	close(f.done)
	c.mu.Unlock()
	f.cancel()
}

// Remove deletes an unpacked image. It must not be in use; removing an image
// that is not cached is not an error.
func (c *Cache) Remove(img Image) error {
	if err := img.Validate(); err != nil {
		return err
	}
	if err := removeTree(c.path(img)); err != nil {
		return fmt.Errorf("image %s: remove: %w", img.key(), err)
	}
	return nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// removeTree is os.RemoveAll that also copes with read-only directories
// (archives may carry them): each directory is made writable before it is
// emptied. Symlinks are not followed.
func removeTree(p string) error {
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // RemoveAll reports what really blocks
		}
		if d.IsDir() {
			if info, err := d.Info(); err == nil && info.Mode().Perm()&0o700 != 0o700 {
				_ = os.Chmod(q, info.Mode().Perm()|0o700)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(p)
}
