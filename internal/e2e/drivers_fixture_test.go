package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/image"
)

// The fixtures of the real-driver tests (docker_test.go, native_test.go): the probe helper, image
// archives and the HTTP server the node downloads them from.

// buildProbe compiles testdata/fishprobe (a static binary: meta API over HTTPS, TCP dial,
// SOCKS5, memory hog) into a directory every user can reach (t.TempDir's parent is private),
// removed when the test ends.
func buildProbe(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fish-e2e-probe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "fishprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", "-s -w", "-o", out, "./testdata/fishprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the probe helper: %v\n%s", err, b)
	}
	return out
}

// archiveFile is one member of an image archive.
type archiveFile struct {
	data []byte
	mode os.FileMode
}

// buildImageArchive packs files (slash-separated paths) into a .tar.xz image archive and
// returns it with its "sha256:<hex>" sum.
func buildImageArchive(t *testing.T, files map[string]archiveFile) ([]byte, string) {
	t.Helper()
	root := t.TempDir()
	for name, f := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // not cut by the umask
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := image.BuildTarXz(&buf, root); err != nil {
		t.Fatalf("build image archive: %v", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), "sha256:" + hex.EncodeToString(sum[:])
}

// archiveServer serves image archives over HTTP on the loopback (the node downloads from the
// host) and counts the requests per path.
type archiveServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]*atomic.Int64
}

func newArchiveServer(t *testing.T) *archiveServer {
	t.Helper()
	s := &archiveServer{files: map[string][]byte{}, hits: map[string]*atomic.Int64{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		data, ok := s.files[r.URL.Path]
		hits := s.hits[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/x-xz")
		_, _ = w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

// add serves data at /<file> and returns its URL.
func (s *archiveServer) add(file string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files["/"+file] = data
	s.hits["/"+file] = new(atomic.Int64)
	return s.URL + "/" + file
}

// downloads is how many times /<file> was requested.
func (s *archiveServer) downloads(file string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hits["/"+file]; h != nil {
		return h.Load()
	}
	return 0
}

// uniqueSuffix is n random bytes in hex: names of engine objects and image versions.
func uniqueSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
