package image

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var imageFiles = map[string]string{
	"test-image-ci-x/":          "",
	"test-image-ci-x/disk.vmdk": "disk data",
	"test-image-ci-x/link":      "-> disk.vmdk",
	"README":                    "hello",
}

func TestGetDownloadsOnceAndReuses(t *testing.T) {
	body := archiveOf(t, imageFiles)
	srv := serve(t, body, nil)
	c, logs := newTestCache(t, srv.Client(), Auth{})
	c.RequireNamedSubdir = true
	img := Image{URL: srv.URL + "/dl/test-image-ci-20230210.190425_ff1cd1cf.tar.xz", Sum: sha256Sum(body)}

	path, err := c.Get(getCtx(t), img)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.Dir(), "test-image-ci-20230210.190425_ff1cd1cf"); path != want {
		t.Fatalf("path = %q, want %q", path, want)
	}
	if got := readFile(t, filepath.Join(path, "test-image-ci-x", "link")); got != "disk data" {
		t.Fatalf("link content = %q", got)
	}
	if got := readFile(t, filepath.Join(path, "README")); got != "hello" {
		t.Fatalf("README = %q", got)
	}
	if again, err := c.Get(getCtx(t), img); err != nil || again != path {
		t.Fatalf("second Get = %q, %v", again, err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("requests = %d, want 1", n)
	}
	if got := cacheEntries(t, c); !slices.Equal(got, []string{"test-image-ci-20230210.190425_ff1cd1cf"}) {
		t.Fatalf("cache holds %v, want only the image", got)
	}
	for _, want := range []string{"downloading image", "image downloaded", "image ready", "image=test-image-ci-20230210.190425_ff1cd1cf"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestGetConcurrentSingleDownload(t *testing.T) {
	body := archiveOf(t, imageFiles)
	release := make(chan struct{})
	srv := serve(t, body, func(w http.ResponseWriter, r *http.Request) bool {
		<-release
		return true
	})
	c, _ := newTestCache(t, srv.Client(), Auth{})
	img := Image{URL: srv.URL + "/img-1.tar.xz"}

	const n = 10
	var wg sync.WaitGroup
	paths := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { paths[i], errs[i] = c.Get(getCtx(t), img) })
	}
	eventually(t, "all Gets to join one download", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		f := c.flights["img-1"]
		return f != nil && f.waiters == n
	})
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != filepath.Join(c.Dir(), "img-1") {
			t.Fatalf("Get %d = %q, %v", i, paths[i], errs[i])
		}
	}
	if got := srv.requests.Load(); got != 1 {
		t.Fatalf("requests = %d, want 1", got)
	}
}

func TestGetFailuresLeaveNothing(t *testing.T) {
	good := archiveOf(t, imageFiles)
	wrongSum := sha256Sum([]byte("something else"))
	tests := []struct {
		name    string
		body    []byte
		sum     string
		hook    func(w http.ResponseWriter, r *http.Request) bool
		wantErr error
		wantMsg string
	}{
		{
			name: "bad checksum", body: good, sum: wrongSum, wantErr: ErrChecksum,
			wantMsg: "image img-1: checksum mismatch: expected " + wrongSum + ", got " + sha256Sum(good),
		},
		{
			name: "checksum header mismatch, body never read", body: good, sum: sha256Sum(good), wantErr: ErrChecksum,
			wantMsg: "X-Checksum-Sha256",
			hook: func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("X-Checksum-Sha256", strings.Repeat("0", 64))
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				<-r.Context().Done() // reading the body would hang the test
				return false
			},
		},
		{
			name: "not found", body: good, wantErr: ErrDownload, wantMsg: "image img-1: unable to download: http://",
			hook: func(w http.ResponseWriter, r *http.Request) bool { http.NotFound(w, r); return false },
		},
		{
			name: "dot-dot member", body: rawArchive(t, member{name: "ok"}, member{name: "../x", content: "evil"}),
			wantErr: ErrUnsafeArchive, wantMsg: "image img-1: archive member escapes target: ../x",
		},
		{name: "absolute member", body: rawArchive(t, member{name: "/tmp/x"}), wantErr: ErrUnsafeArchive},
		{
			name: "symlink escapes", body: rawArchive(t, member{name: "l", link: "../../etc", typ: '2'}),
			wantErr: ErrUnsafeArchive, wantMsg: "archive member escapes target: l -> ../../etc",
		},
		{name: "not xz", body: []byte("plain text"), wantErr: ErrArchive},
		{name: "truncated archive with sum", body: good[:len(good)/2], sum: sha256Sum(good), wantErr: ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.body, tt.hook)
			c, _ := newTestCache(t, srv.Client(), Auth{})
			_, err := c.Get(getCtx(t), Image{URL: srv.URL + "/img-1.tar.xz", Sum: tt.sum})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get() = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Get() = %q, want it to contain %q", err, tt.wantMsg)
			}
			if got := cacheEntries(t, c); len(got) != 0 {
				t.Fatalf("cache holds %v after a failure", got)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(c.Dir()), "x")); err == nil {
				t.Fatal("a member was written outside the cache")
			}
		})
	}
}

func TestGetChecksumAlgorithms(t *testing.T) {
	body := archiveOf(t, imageFiles)
	sums := map[string]string{
		"md5":    "md5:",
		"sha1":   "sha1:",
		"sha512": "sha512:",
	}
	for algo, prefix := range sums {
		t.Run(algo, func(t *testing.T) {
			h := checksums[algo].new()
			h.Write(body)
			digest := strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
			srv := serve(t, body, func(w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("X-Checksum-"+checksums[algo].header, digest)
				return true
			})
			c, _ := newTestCache(t, srv.Client(), Auth{})
			if _, err := c.Get(getCtx(t), Image{URL: srv.URL + "/img-1.tar.xz", Sum: prefix + digest}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestGetUnreachable(t *testing.T) {
	srv := serve(t, nil, nil)
	url := "http://user:hunter2@" + strings.TrimPrefix(srv.URL, "http://") + "/img-1.tar.xz?sig=tok"
	srv.Close()
	c, _ := newTestCache(t, nil, Auth{})
	_, err := c.Get(getCtx(t), Image{URL: url})
	if !errors.Is(err, ErrDownload) {
		t.Fatalf("Get() = %v, want ErrDownload", err)
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "user") || strings.Contains(msg, "tok") {
		t.Fatalf("error leaks credentials: %q", msg)
	}
}

func TestGetBasicAuth(t *testing.T) {
	body := archiveOf(t, imageFiles)
	srv := serve(t, body, func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); !ok || u != "dl" || p != "s3cret-pw" {
			http.Error(w, "no", http.StatusUnauthorized)
			return false
		}
		return true
	})
	img := Image{URL: srv.URL + "/img-1.tar.xz"}

	anon, _ := newTestCache(t, srv.Client(), Auth{})
	if _, err := anon.Get(getCtx(t), img); !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "401 Unauthorized") {
		t.Fatalf("Get() without auth = %v, want 401", err)
	}
	c, logs := newTestCache(t, srv.Client(), Auth{User: "dl", Password: "s3cret-pw"})
	if _, err := c.Get(getCtx(t), img); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "s3cret-pw") {
		t.Fatal("the download password was logged")
	}
}

func TestGetRequireNamedSubdir(t *testing.T) {
	body := archiveOf(t, map[string]string{"other/": "", "other/f": "x"})
	srv := serve(t, body, nil)
	img := Image{URL: srv.URL + "/img-1.tar.xz"}

	c, _ := newTestCache(t, srv.Client(), Auth{})
	c.RequireNamedSubdir = true
	if _, err := c.Get(getCtx(t), img); !errors.Is(err, ErrLayout) {
		t.Fatalf("Get() = %v, want ErrLayout", err)
	}
	if got := cacheEntries(t, c); len(got) != 0 {
		t.Fatalf("cache holds %v after a failure", got)
	}
	c.RequireNamedSubdir = false
	if _, err := c.Get(getCtx(t), img); err != nil {
		t.Fatal(err)
	}
}

func TestGetContextCancel(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	body := archiveOf(t, imageFiles)
	srv := serve(t, body, func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			return false
		case <-release:
		}
		_, _ = w.Write(body[len(body)/2:])
		return false
	})
	c, _ := newTestCache(t, srv.Client(), Auth{})
	img := Image{URL: srv.URL + "/img-1.tar.xz"}

	t.Run("last waiter cancels the download", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-started; cancel() }()
		_, err := c.Get(ctx, img)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Get() = %v, want context.Canceled", err)
		}
		if got := cacheEntries(t, c); len(got) != 0 {
			t.Fatalf("cache holds %v after cancel", got)
		}
	})
	t.Run("other waiters keep the download", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := c.Get(getCtx(t), img)
			done <- err
		}()
		<-started
		eventually(t, "first Get to join", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.flights["img-1"] != nil && c.flights["img-1"].waiters == 1
		})
		cancel()
		if _, err := c.Get(ctx, img); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Get() = %v", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("remaining Get() = %v", err)
		}
	})
}

func TestRemove(t *testing.T) {
	body := rawArchive(t,
		member{name: "ro/", typ: '5'},
		member{name: "ro/f", content: "x"},
	)
	srv := serve(t, body, nil)
	c, _ := newTestCache(t, srv.Client(), Auth{})
	img := Image{URL: srv.URL + "/img-1.tar.xz"}
	path, err := c.Get(getCtx(t), img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(path, "ro"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(img); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("image still there: %v", err)
	}
	if err := c.Remove(img); err != nil {
		t.Fatalf("second Remove() = %v", err)
	}
}
