package docker

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/driver/docker/dockertest"
	"github.com/aquarium-fish/aquarium-fish/internal/image"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// TestSandbox allocates two resources of one image at once and checks what they got: the image
// loaded once, limits, labels, metadata, volumes, the isolated network; then deallocates them.
func TestSandbox(t *testing.T) {
	cli := dockertest.Engine(t)
	archive, sum := dockertest.BusyboxArchive(t, cli, "fishtest")
	srv := newImageServer(t, archive)
	img := testImage(t, cli, srv, sum)
	api := metaStandIn(t)
	env := newTestEnv(t, uuid.New(), t.TempDir(), api)
	d := newDriver(t, env.Env, "docker", `{"docker_path": "/usr/bin/docker"}`)

	def := definition(img)
	def.Resources.Disks = map[string]model.ResourcesDisk{"data": {Type: "dir", Label: "data", Size: 1}}
	md := map[string]any{"CI": map[string]any{"token": "s3cr3t value"}, "N": 1.5}
	reqs := []driver.AllocateRequest{request(def, md), request(def, md)}
	allocs := make([]driver.Allocation, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Go(func() { allocs[i], errs[i] = d.Allocate(t.Context(), reqs[i]) })
	}
	wg.Wait()
	for i, a := range allocs {
		if a.Identifier != "" {
			res := model.Resource{Identifier: a.Identifier}
			t.Cleanup(func() { _ = d.Deallocate(context.Background(), res) })
		}
		if errs[i] != nil {
			t.Fatalf("Allocate #%d: %v", i, errs[i])
		}
	}
	if n := d.loads.Load(); n != 1 {
		t.Errorf("image loads = %d, want 1", n)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("image downloads = %d, want 1", n)
	}

	a, b := allocs[0], allocs[1]
	ctx := t.Context()
	c, err := cli.ContainerInspect(ctx, a.Identifier)
	if err != nil {
		t.Fatalf("inspect %s: %v", a.Identifier, err)
	}
	if a.Identifier != identifier(reqs[0].ApplicationUID) || !c.State.Running {
		t.Errorf("container %s running=%v, want %s running", a.Identifier, c.State.Running, identifier(reqs[0].ApplicationUID))
	}
	if h := c.HostConfig; h.NanoCPUs != 1e9 || h.Memory != 1<<30 || h.MemorySwap != 1<<30 {
		t.Errorf("limits: NanoCPUs=%d Memory=%d MemorySwap=%d, want 1e9, 1 GiB, 1 GiB", h.NanoCPUs, h.Memory, h.MemorySwap)
	}
	for k, v := range map[string]string{LabelNode: env.NodeUID.String(), LabelDriver: "docker",
		LabelResource: a.Identifier, LabelApplication: reqs[0].ApplicationUID.String(), labelImage: "fishtest:" + img.Version} {
		if got := c.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	ep := c.NetworkSettings.Networks[a.Identifier]
	if ep == nil || ep.IPAddress != a.IPAddr || ep.MacAddress != a.HwAddr || a.IPAddr == "" || a.HwAddr == "" {
		t.Fatalf("allocation %+v does not match the container's endpoint %+v", a, ep)
	}
	if a.HwAddr != macOf(reqs[0].ApplicationUID).String() || a.Identifier != "fish-"+strings.ReplaceAll(a.HwAddr, ":", "") {
		t.Errorf("identifier %s, MAC %s: want the container named fish-<its MAC without colons>", a.Identifier, a.HwAddr)
	}
	gw := netip.MustParseAddr(ep.Gateway)

	// Metadata and the node's endpoints are in the environment, not in any log.
	_, out := dockertest.Exec(t, cli, a.Identifier, "env")
	for _, want := range []string{"CI_token=s3cr3t value", "N=1.5",
		"FISH_META_URL=https://" + netip.AddrPortFrom(gw, api.Port()).String() + "/meta/v1/data/",
		"FISH_PROXY=socks5://" + netip.AddrPortFrom(gw, api.Port()).String()} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("container env lacks %q:\n%s", want, out)
		}
	}
	if logs := env.logs.text(); strings.Contains(logs, "s3cr3t") {
		t.Errorf("the metadata was logged:\n%s", logs)
	}

	// The network is the resource's own and internal; the disk is a labelled volume.
	n, err := cli.NetworkInspect(ctx, a.Identifier, network.InspectOptions{})
	if err != nil || !n.Internal || n.Labels[LabelResource] != a.Identifier ||
		n.Options["com.docker.network.bridge.name"] != bridgeName(a.Identifier) {
		t.Errorf("network %s: internal=%v labels=%v options=%v err=%v", a.Identifier, n.Internal, n.Labels, n.Options, err)
	}
	vol := a.Identifier + "-disk-data"
	if v, err := cli.VolumeInspect(ctx, vol); err != nil || v.Labels[LabelResource] != a.Identifier {
		t.Errorf("volume %s: labels=%v err=%v", vol, v.Labels, err)
	}
	if code, out := dockertest.Exec(t, cli, a.Identifier, "sh", "-c", "echo x > /mnt/data/f && cat /mnt/data/f"); code != 0 {
		t.Errorf("write to the disk: exit %d: %s", code, out)
	}

	// The node (gateway) is reachable; the other resource is not, although it serves.
	if body, ok := httpGet(t, cli, a.Identifier, netip.AddrPortFrom(gw, api.Port())); !ok || !strings.Contains(body, "fish-meta-ok") {
		t.Errorf("the node's stand-in meta API on the gateway is not reachable: %q", body)
	}
	if code, out := dockertest.Exec(t, cli, b.Identifier, "httpd", "-p", "8080", "-h", "/"); code != 0 {
		t.Fatalf("start httpd in %s: exit %d: %s", b.Identifier, code, out)
	}
	bAddr := netip.AddrPortFrom(netip.MustParseAddr(b.IPAddr), 8080)
	if body, ok := httpGet(t, cli, b.Identifier, netip.MustParseAddrPort("127.0.0.1:8080")); !ok {
		t.Fatalf("httpd in %s does not answer locally: %q", b.Identifier, body)
	}
	if body, ok := httpGet(t, cli, a.Identifier, bAddr); ok {
		t.Errorf("%s reached the other resource at %s: %q", a.Identifier, bAddr, body)
	}

	// Deallocation removes the container, its network and its volume, and may be repeated.
	res := model.Resource{ApplicationUID: reqs[0].ApplicationUID, Identifier: a.Identifier}
	for range 2 {
		if err := d.Deallocate(ctx, res); err != nil {
			t.Fatalf("Deallocate: %v", err)
		}
	}
	wantGone(t, d, a.Identifier, vol)
}

// wantGone fails unless the container, network and volumes of id are gone.
func wantGone(t *testing.T, d *Driver, id string, volumes ...string) {
	t.Helper()
	ctx := t.Context()
	if _, err := d.cli.ContainerInspect(ctx, id); !cerrdefs.IsNotFound(err) {
		t.Errorf("container %s still exists (err %v)", id, err)
	}
	if _, err := d.cli.NetworkInspect(ctx, id, network.InspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("network %s still exists (err %v)", id, err)
	}
	for _, v := range volumes {
		if _, err := d.cli.VolumeInspect(ctx, v); !cerrdefs.IsNotFound(err) {
			t.Errorf("volume %s still exists (err %v)", v, err)
		}
	}
	if st, err := d.Status(ctx, model.Resource{Identifier: id}); err != nil || st != driver.ResourceNone {
		t.Errorf("Status(%s) = %q, %v; want NONE", id, st, err)
	}
}

// TestRestartInventory: a new instance of the node finds and destroys the resource; other nodes
// and other driver instances neither list nor touch it.
func TestRestartInventory(t *testing.T) {
	cli := dockertest.Engine(t)
	img := seededImage(t, cli)
	node, work := uuid.New(), t.TempDir()
	api := metaStandIn(t)
	before := newDriver(t, newTestEnv(t, node, work, api).Env, "docker", "")

	def := definition(img)
	def.Resources.Disks = map[string]model.ResourcesDisk{"cache": {Reuse: true}, "tmp": {}}
	a, _ := allocate(t, before, request(def, nil))

	ctx := t.Context()
	after := newDriver(t, newTestEnv(t, node, work, api).Env, "docker", "")
	otherNode := newDriver(t, newTestEnv(t, uuid.New(), work, api).Env, "docker", "")
	otherInstance := newDriver(t, newTestEnv(t, node, work, api).Env, "docker/other", "")
	for _, c := range []struct {
		d    *Driver
		want bool
	}{{after, true}, {otherNode, false}, {otherInstance, false}} {
		ids, err := c.d.Resources(ctx)
		if err != nil {
			t.Fatalf("%s Resources: %v", c.d.name, err)
		}
		if slices.Contains(ids, a.Identifier) != c.want {
			t.Errorf("node %s driver %s Resources = %v, listing %s: want %v", c.d.env.NodeUID, c.d.name, ids, a.Identifier, c.want)
		}
	}
	if err := otherNode.Destroy(ctx, a.Identifier); !errors.Is(err, errForeign) {
		t.Errorf("Destroy by another node = %v, want %v", err, errForeign)
	}
	if st, _ := otherNode.Status(ctx, model.Resource{Identifier: a.Identifier}); st != driver.ResourceNone {
		t.Errorf("Status by another node = %q, want NONE", st)
	}

	if err := after.Destroy(ctx, a.Identifier); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantGone(t, after, a.Identifier, a.Identifier+"-disk-tmp")
	if ids, _ := after.Resources(ctx); slices.Contains(ids, a.Identifier) {
		t.Errorf("Resources after Destroy = %v", ids)
	}
	reused := "fish-" + node.String()[:8] + "-disk-cache"
	if _, err := cli.VolumeInspect(ctx, reused); err != nil {
		t.Errorf("reused volume %s: %v", reused, err)
	}
	if err := cli.VolumeRemove(ctx, reused, false); err != nil {
		t.Errorf("remove %s: %v", reused, err)
	}
}

// TestImageErrors: bad images fail the allocation clearly and leave nothing behind.
func TestImageErrors(t *testing.T) {
	cli := dockertest.Engine(t)
	// The checksum is checked whatever the archive holds: a tiny one keeps the test fast.
	tiny, _, err := dockertest.ImageArchive(map[string][]byte{"fishtest/fishtest.tar": []byte("not a tarball")})
	if err != nil {
		t.Fatalf("build archive: %v", err)
	}
	srv := newImageServer(t, tiny)
	d := newDriver(t, newTestEnv(t, uuid.New(), t.TempDir(), metaStandIn(t)).Env, "docker", "")

	badSum := testImage(t, cli, srv, "sha256:"+strings.Repeat("0", 64))
	gone := badSum
	gone.URL = "http://127.0.0.1:1/fishtest-" + gone.Version + ".tar.xz"
	gone.Sum = ""
	badTar := testImage(t, cli, srv, "")
	for _, c := range []struct {
		name string
		img  image.Image
		want error
		text string
	}{
		{"bad checksum", badSum, image.ErrChecksum, "checksum mismatch"},
		{"unreachable", gone, image.ErrDownload, "unable to download"},
		{"not a docker image", badTar, nil, "docker load"},
		{"no url", image.Image{Name: "x"}, ErrInvalidDefinition, "Url is not provided"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			_, err := d.Allocate(ctx, request(definition(c.img), nil))
			if err == nil || c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("Allocate = %v, want %v (%q)", err, c.want, c.text)
			}
			if ids, err := d.Resources(ctx); err != nil || len(ids) != 0 {
				t.Errorf("Resources after a failed allocation = %v, %v", ids, err)
			}
		})
	}
}

// TestNew: the factory's errors, and the capacity it measures.
func TestNew(t *testing.T) {
	cli := dockertest.Engine(t)
	info, err := cli.Info(t.Context())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	env := newTestEnv(t, uuid.New(), t.TempDir(), netip.AddrPort{}).Env
	for _, c := range []struct {
		cfg     string
		wantErr string
		cpu     uint32
		ram     uint32
	}{
		{cfg: ``, cpu: uint32(info.NCPU), ram: uint32(info.MemTotal >> 30)},
		{cfg: `{"cpu_alter": -1, "ram_alter": 2, "cpu_overbook": 3}`, cpu: uint32(info.NCPU - 1), ram: uint32(info.MemTotal>>30) + 2},
		{cfg: `{"cpu_alter": -1000}`, wantErr: "cpu_alter -1000 leaves no CPU"},
		{cfg: `{"ram_alter": -100000}`, wantErr: "ram_alter -100000 leaves no RAM"},
		{cfg: `{"cpus": 1}`, wantErr: `unknown field "cpus"`},
		{cfg: `[]`, wantErr: "docker config"},
	} {
		got, err := New(t.Context(), env, "docker", []byte(c.cfg))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("New(%s) = %v, want error %q", c.cfg, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("New(%s): %v", c.cfg, err)
		}
		d := got.(*Driver)
		_ = d.Close()
		if d.limits.CPU != c.cpu || d.limits.RAM != c.ram {
			t.Errorf("New(%s) limits = %+v, want cpu %d ram %d", c.cfg, d.limits, c.cpu, c.ram)
		}
	}

	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	if _, err := New(t.Context(), env, "docker", nil); err == nil || !strings.HasPrefix(err.Error(), "docker engine not reachable: ") {
		t.Errorf("New without an engine = %v, want docker engine not reachable", err)
	}
}

// TestRemoteCapacity: a remote driver counts the engine's Fish containers, not the node usage.
func TestRemoteCapacity(t *testing.T) {
	cli := dockertest.Engine(t)
	img := seededImage(t, cli)
	env := newTestEnv(t, uuid.New(), t.TempDir(), metaStandIn(t)).Env
	d := newDriver(t, env, "docker", `{"is_remote": true}`)
	if !d.IsRemote() {
		t.Fatal("IsRemote = false")
	}
	def := definition(img)
	def.Resources.Network = "nat"
	before, err := d.engineUsage(t.Context())
	if err != nil {
		t.Fatalf("engineUsage: %v", err)
	}
	a, _ := allocate(t, d, request(def, nil))
	if n, err := cli.NetworkInspect(t.Context(), a.Identifier, network.InspectOptions{}); err != nil || n.Internal {
		t.Errorf("nat network %s: internal=%v err=%v, want a normal bridge", a.Identifier, n.Internal, err)
	}
	after, err := d.engineUsage(t.Context())
	if err != nil {
		t.Fatalf("engineUsage: %v", err)
	}
	if after.CPU != before.CPU+1 || after.RAM != before.RAM+1 {
		t.Errorf("engine usage %+v -> %+v, want one more cpu and ram", before, after)
	}
	huge := driver.Usage{CPU: 1 << 20, RAM: 1 << 20}
	n, err := d.AvailableCapacity(huge, def)
	if want := driver.Capacity(d.limits, after, def.Resources); err != nil || n != want {
		t.Errorf("AvailableCapacity = %d, %v; want %d (the node usage ignored)", n, err, want)
	}
}
