//go:build linux

package native

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/driver/native/nativetest"
	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// initScript is the entry of the test image: it records who runs it, where, with which
// environment, and what its first argument says (a disk path).
const initScript = `#!/bin/sh
id -G > groups.out
id -u > id.tmp && mv id.tmp id.out
env > env.tmp && mv env.tmp env.out
pwd > pwd.out
if [ -n "${1:-}" ]; then echo "$1" > arg.out; fi
`

// fixture is one node's view of the native driver: a working directory, a homes directory
// users can reach, and an HTTP server with the test images.
type fixture struct {
	workDir string
	homes   string
	node    model.UID
	cfg     json.RawMessage
	server  *httptest.Server
	log     *slog.Logger
	cg      *cgroups // of the last driver made
}

// requireRoot skips tests that create users when not run as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the native driver tests create users and need root (run go test as root)")
	}
}

func newFixture(t *testing.T, extraCfg map[string]any) *fixture {
	t.Helper()
	requireRoot(t)
	logw := newTestWriter(t) // registered first, so it closes last
	homes, err := os.MkdirTemp("", "fish-native-homes-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(homes) })
	if err := os.Chmod(homes, 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		workDir: t.TempDir(),
		homes:   homes,
		node:    uuid.New(),
		log:     slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	cfg := map[string]any{"homes_path": homes}
	// Its own v2 parent, removed (when empty) when the test ends. The v1 parents are shared
	// with every other driver of the host (other test binaries run at the same time), so they
	// stay, as they do in production.
	var ownV2 string
	if v2, _, err := cgroupMounts(); err == nil && v2.point != "" {
		ownV2 = filepath.Join(v2.point, "fish-test-"+filepath.Base(homes))
		cfg["cgroup_path"] = ownV2
	}
	for k, v := range extraCfg {
		cfg[k] = v
	}
	f.cfg, _ = json.Marshal(cfg)
	t.Cleanup(func() {
		if f.cg != nil && ownV2 != "" && f.cg.v2 == ownV2 {
			syscall.Rmdir(ownV2)
		}
	})
	f.server = httptest.NewServer(http.FileServer(http.Dir(f.images(t))))
	t.Cleanup(f.server.Close)
	// Whatever a test leaves behind (a failed assertion before its deallocation), the
	// records lead to it.
	t.Cleanup(func() { f.cleanupAll(t) })
	return f
}

// images builds the archives the server offers: fishtest-1.tar.xz (init.sh and fishtest/)
// and fishdata-1.tar.xz (fishdata/hello.txt).
func (f *fixture) images(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := func(archive string, files map[string]string) {
		root := t.TempDir()
		for name, content := range files {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := image.BuildTarXz(&buf, root); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, archive), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build("fishtest-1.tar.xz", map[string]string{"init.sh": initScript, "fishtest/README": "test image\n"})
	build("fishdata-1.tar.xz", map[string]string{"fishdata/hello.txt": "hello\n"})
	return dir
}

func (f *fixture) env() driver.Env {
	return driver.Env{
		Log:      f.log,
		WorkDir:  f.workDir,
		NodeUID:  f.node,
		NodeName: "node-1",
		Endpoints: func() driver.Endpoints {
			return driver.Endpoints{API: netip.MustParseAddrPort("0.0.0.0:8001")}
		},
	}
}

// newDriver makes a driver instance of the fixture through the registry.
func (f *fixture) newDriver(t *testing.T) *Driver {
	t.Helper()
	d, err := driver.New(t.Context(), f.env(), Type, f.cfg)
	if err != nil {
		t.Fatalf("driver.New: %v", err)
	}
	f.cg = d.(*Driver).sys.(*linuxSystem).cg
	return d.(*Driver)
}

// definition is a definition with the test image and the given entry ("" = default).
func (f *fixture) definition(entry string, res model.Resources) model.LabelDefinition {
	opts := map[string]any{"images": []map[string]string{{"url": f.server.URL + "/fishtest-1.tar.xz"}}}
	if entry != "" {
		opts["entry"] = entry
	}
	if res.CPU == 0 {
		res.CPU = 1
	}
	if res.RAM == 0 {
		res.RAM = 1
	}
	raw, _ := json.Marshal(opts)
	return model.LabelDefinition{Driver: Type, Options: raw, Resources: res}
}

// allocate allocates def with md and returns the allocation and the account.
func (f *fixture) allocate(t *testing.T, d *Driver, def model.LabelDefinition, md map[string]any) (driver.Allocation, account) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	a, err := d.Allocate(ctx, driver.AllocateRequest{
		ApplicationUID: uuid.New(), ResourceUID: uuid.New(), LabelUID: uuid.New(),
		Definition: def, Metadata: md,
	})
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	acct, err := d.sys.lookupUser(a.Identifier)
	if err != nil {
		t.Fatalf("the user of %s: %v", a.Identifier, err)
	}
	return a, acct
}

// cleanupAll destroys every user the fixture's records name, and removes by force what a
// failing driver leaves.
func (f *fixture) cleanupAll(t *testing.T) {
	leftovers := nativetest.Records(t, filepath.Join(f.workDir, DefaultWorkspacePath))
	if len(leftovers) == 0 {
		return
	}
	d, err := New(context.Background(), f.env(), Type, f.cfg)
	for _, r := range leftovers {
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			derr := d.(*Driver).Destroy(ctx, r.Identifier)
			cancel()
			if derr == nil {
				continue
			}
			t.Errorf("clean-up: Destroy %s: %v", r.Identifier, derr)
		}
		nativetest.RemoveUser(t, r)
	}
}

// waitFile waits for a file the entry writes and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	var content []byte
	err := pollT(t, 30*time.Second, func() bool {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("read %s: %v", path, err)
		}
		content = b
		return err == nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", path, err)
	}
	return string(content)
}

// pollT checks cond until it holds or timeout passes.
func pollT(t *testing.T, timeout time.Duration, cond func() bool) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return poll(ctx, func() (bool, error) { return cond(), nil })
}

// testWriter sends log lines to the test log until the test ends (entry goroutines may log
// a little later).
type testWriter struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func newTestWriter(t *testing.T) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

// addImage appends an image with tag to raw options.
func addImage(t *testing.T, raw json.RawMessage, url, tag string) json.RawMessage {
	t.Helper()
	var o map[string]any
	if err := json.Unmarshal(raw, &o); err != nil {
		t.Fatal(err)
	}
	imgs, _ := o["images"].([]any)
	o["images"] = append(imgs, map[string]any{"url": url, "tag": tag})
	out, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// accept accepts one connection within a deadline.
func accept(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	return c
}

// addrs returns the remote and local address of a server-side connection.
func addrs(c net.Conn) (remote, local netip.AddrPort) {
	return c.RemoteAddr().(*net.TCPAddr).AddrPort(), c.LocalAddr().(*net.TCPAddr).AddrPort()
}

func netipMapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
}

func numCPU() int { return runtime.NumCPU() }
