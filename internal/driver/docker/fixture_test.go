package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// busyboxPath is the static busybox the test image is made of (Debian: busybox-static).
const busyboxPath = "/bin/busybox"

// The test image: busybox applets linked into /bin, sleeping as its main process.
var applets = []string{"sh", "sleep", "nc", "httpd", "cat", "env", "echo", "ls", "ip", "ping", "grep"}

// engine returns a client of the local engine, or skips the test when there is none.
func engine(tb testing.TB) *client.Client {
	tb.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		tb.Skipf("docker engine client: %v", err)
	}
	tb.Cleanup(func() { _ = cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		tb.Skipf("no docker engine reachable (%v): the docker driver tests need one", err)
	}
	return cli
}

var fixture struct {
	tarOnce, xzOnce sync.Once
	tarball         []byte // docker save of the test image, untagged
	archive         []byte // .tar.xz holding fishtest/fishtest.tar
	sum             string // sha256 of archive
	err             error
}

// testTarball returns the test image in docker save format, without tag. It is built once per
// test binary.
func testTarball(tb testing.TB, cli *client.Client) []byte {
	tb.Helper()
	if _, err := os.Stat(busyboxPath); err != nil {
		tb.Skipf("%s is missing (apt-get install busybox-static): %v", busyboxPath, err)
	}
	fixture.tarOnce.Do(func() { fixture.tarball, fixture.err = buildTarball(cli) })
	if fixture.err != nil {
		tb.Fatalf("build the test image: %v", fixture.err)
	}
	return fixture.tarball
}

// testArchive returns the .tar.xz image archive of the test image (fishtest/fishtest.tar) and
// its sha256 sum. It is built once per test binary.
func testArchive(tb testing.TB, cli *client.Client) ([]byte, string) {
	tb.Helper()
	tarball := testTarball(tb, cli)
	fixture.xzOnce.Do(func() {
		fixture.archive, fixture.err = buildArchive(map[string][]byte{"fishtest/fishtest.tar": tarball})
		sum := sha256.Sum256(fixture.archive)
		fixture.sum = "sha256:" + hex.EncodeToString(sum[:])
	})
	if fixture.err != nil {
		tb.Fatalf("build the test image archive: %v", fixture.err)
	}
	return fixture.archive, fixture.sum
}

// buildArchive packs files (slash-separated relative paths) into a .tar.xz image archive.
func buildArchive(files map[string][]byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "fish-docker-archive-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := image.BuildTarXz(&buf, dir); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func buildTarball(cli *client.Client) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rootfs, err := busyboxRootfs()
	if err != nil {
		return nil, err
	}
	src := "fishtest-src:" + randHex(6)
	rc, err := cli.ImageImport(ctx, dimage.ImportSource{Source: bytes.NewReader(rootfs), SourceName: "-"}, src,
		dimage.ImportOptions{Changes: []string{`CMD ["/bin/sleep", "3600"]`, `ENV PATH=/bin`}})
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	defer func() { _, _ = cli.ImageRemove(context.Background(), src, dimage.RemoveOptions{Force: true}) }()
	// Saved by ID: the tarball carries no tag, so the driver's tag is the only one.
	img, err := cli.ImageInspect(ctx, src)
	if err != nil {
		return nil, err
	}
	save, err := cli.ImageSave(ctx, []string{img.ID})
	if err != nil {
		return nil, err
	}
	defer save.Close()
	return io.ReadAll(save)
}

// seededImage puts the test image into the engine as fishtest:<unique version>, as if a driver
// had loaded it, and removes the tag when the test ends. Its URL cannot be downloaded: tests
// using it do not exercise downloads.
func seededImage(tb testing.TB, cli *client.Client) image.Image {
	tb.Helper()
	tarball := testTarball(tb, cli)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := cli.ImageLoad(ctx, bytes.NewReader(tarball), client.ImageLoadWithQuiet(true))
	if err != nil {
		tb.Fatalf("load the test image: %v", err)
	}
	loaded, err := parseLoadOutput(resp.Body)
	_ = resp.Body.Close()
	if err != nil || len(loaded) != 1 {
		tb.Fatalf("load the test image: %v %v", loaded, err)
	}
	version := "s" + randHex(5)
	if err := cli.ImageTag(ctx, loaded[0], "fishtest:"+version); err != nil {
		tb.Fatalf("tag the test image: %v", err)
	}
	tb.Cleanup(func() { removeImage(tb, cli, "fishtest:"+version) })
	return image.Image{URL: "http://127.0.0.1:1/fishtest-" + version + ".tar.xz", Name: "fishtest", Version: version}
}

// busyboxRootfs is a tar of the root file system of the test image.
func busyboxRootfs() ([]byte, error) {
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "tmp/", "mnt/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bb); err != nil {
		return nil, err
	}
	for _, a := range applets {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox"}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// imageServer serves the test archive under any name and counts the downloads.
type imageServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newImageServer(tb testing.TB, archive []byte) *imageServer {
	tb.Helper()
	s := &imageServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		_, _ = w.Write(archive)
	}))
	tb.Cleanup(s.Close)
	return s
}

// testImage returns a fresh image reference (name fishtest, unique version) served by srv, and
// removes its tag from the engine when the test ends.
func testImage(tb testing.TB, cli *client.Client, srv *imageServer, sum string) image.Image {
	tb.Helper()
	version := "t" + randHex(5)
	tb.Cleanup(func() { removeImage(tb, cli, "fishtest:"+version) })
	return image.Image{URL: srv.URL + "/fishtest-" + version + ".tar.xz", Sum: sum, Name: "fishtest", Version: version}
}

func removeImage(tb testing.TB, cli *client.Client, ref string) {
	tb.Helper()
	_, err := cli.ImageRemove(context.Background(), ref, dimage.RemoveOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		tb.Errorf("remove image %s: %v", ref, err)
	}
}

// definition is a label definition running img with cpu 1 and ram 1.
func definition(imgs ...image.Image) model.LabelDefinition {
	opts, _ := json.Marshal(Options{Images: imgs})
	return model.LabelDefinition{Driver: "docker", Options: opts, Resources: model.Resources{CPU: 1, RAM: 1}}
}

// metaStandIn listens on every address like a node's meta API should, and answers "fish-meta-ok".
func metaStandIn(tb testing.TB) netip.AddrPort {
	tb.Helper()
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "fish-meta-ok")
	})}}
	srv.Start()
	tb.Cleanup(srv.Close)
	return netip.MustParseAddrPort(ln.Addr().String())
}

// testEnv is a node environment: workDir is shared by the instances of one test (a restart
// keeps the working directory), and both endpoints are api.
type testEnv struct {
	driver.Env
	logs *logRecorder
}

func newTestEnv(tb testing.TB, node model.UID, workDir string, api netip.AddrPort) testEnv {
	logs := newLogRecorder()
	return testEnv{
		Env: driver.Env{
			Log:       slog.New(logs),
			WorkDir:   workDir,
			NodeUID:   node,
			NodeName:  "test-node",
			Endpoints: func() driver.Endpoints { return driver.Endpoints{API: api, Proxy: api} },
		},
		logs: logs,
	}
}

// newDriver creates a driver instance, closed when the test ends.
func newDriver(tb testing.TB, env driver.Env, name, cfg string) *Driver {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := New(ctx, env, name, []byte(cfg))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() { _ = d.(*Driver).Close() })
	return d.(*Driver)
}

// request is an allocation request for def with metadata md.
func request(def model.LabelDefinition, md map[string]any) driver.AllocateRequest {
	return driver.AllocateRequest{
		ApplicationUID: uuid.New(), ResourceUID: uuid.New(), LabelUID: uuid.New(),
		Definition: def, Metadata: md,
	}
}

// allocate allocates req and deallocates the resource when the test ends.
func allocate(tb testing.TB, d *Driver, req driver.AllocateRequest) (driver.Allocation, model.Resource) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := d.Allocate(ctx, req)
	if err != nil {
		tb.Fatalf("Allocate: %v", err)
	}
	res := model.Resource{ApplicationUID: req.ApplicationUID, UID: req.ResourceUID, Identifier: a.Identifier,
		IPAddr: a.IPAddr, HwAddr: a.HwAddr}
	tb.Cleanup(func() {
		if err := d.Deallocate(context.Background(), res); err != nil {
			tb.Errorf("cleanup: Deallocate %s: %v", a.Identifier, err)
		}
	})
	return a, res
}

// execIn runs cmd in container id and returns its exit code and combined output.
func execIn(tb testing.TB, cli *client.Client, id string, cmd ...string) (int, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, err := cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		tb.Fatalf("exec create %v: %v", cmd, err)
	}
	hj, err := cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		tb.Fatalf("exec attach %v: %v", cmd, err)
	}
	defer hj.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, hj.Reader); err != nil {
		tb.Fatalf("exec read %v: %v", cmd, err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ins, err := cli.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			tb.Fatalf("exec inspect %v: %v", cmd, err)
		}
		if !ins.Running {
			return ins.ExitCode, out.String()
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("exec %v: %v", cmd, ctx.Err())
		case <-tick.C:
		}
	}
}

// httpGet fetches http://addr/ from inside container id with busybox nc; ok reports an answer.
func httpGet(tb testing.TB, cli *client.Client, id string, addr netip.AddrPort) (body string, ok bool) {
	tb.Helper()
	script := `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 ` + addr.Addr().String() + " " + strconv.Itoa(int(addr.Port()))
	code, out := execIn(tb, cli, id, "sh", "-c", script)
	return out, code == 0 && strings.Contains(out, "HTTP/1.")
}
