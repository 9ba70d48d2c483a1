package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/driver/docker/dockertest"
	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// seededImage puts the test image into the engine as fishtest:<unique version>, as if a driver
// had loaded it, and removes the tag when the test ends. Its URL cannot be downloaded: tests
// using it do not exercise downloads.
func seededImage(tb testing.TB, cli *client.Client) image.Image {
	tb.Helper()
	tarball := dockertest.BusyboxTarball(tb, cli)
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

// httpGet fetches http://addr/ from inside container id with busybox nc; ok reports an answer.
func httpGet(tb testing.TB, cli *client.Client, id string, addr netip.AddrPort) (body string, ok bool) {
	tb.Helper()
	script := `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 ` + addr.Addr().String() + " " + strconv.Itoa(int(addr.Port()))
	code, out := dockertest.Exec(tb, cli, id, "sh", "-c", script)
	return out, code == 0 && strings.Contains(out, "HTTP/1.")
}
