package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/aquarium-fish/aquarium-fish/internal/driver/docker/dockertest"
)

// The engine side of the docker driver tests.

// imageName is the name of the test images; every test serves them under its own versions.
const imageName = "fishe2e"

// dockerEngine returns a client of the engine the node will use (configured from the
// environment like the node), or skips the test when none answers or the busybox the test
// image is made of is missing.
func dockerEngine(t *testing.T) *client.Client {
	t.Helper()
	cli := dockertest.Engine(t)
	dockertest.RequireBusybox(t)
	return cli
}

// dockerImageArchive is the image archive of the busybox test image (fishe2e/fishe2e.tar inside)
// and its sum. It is built once per test binary; each test serves it under versions of its own.
func dockerImageArchive(t *testing.T, cli *client.Client) ([]byte, string) {
	t.Helper()
	return dockertest.BusyboxArchive(t, cli, imageName)
}

// servedImage is an image archive served under a version of its own, so that neither the
// node's cache nor the engine has it yet.
type servedImage struct {
	file, url, sum, tag string
}

// serveImage adds the archive to srv as fishe2e-<unique version>.tar.xz and removes the tag the
// driver gives it from the engine when the test ends.
func serveImage(t *testing.T, cli *client.Client, srv *archiveServer, archive []byte, sum string) servedImage {
	t.Helper()
	version := "e" + uniqueSuffix(5)
	file := imageName + "-" + version + ".tar.xz"
	img := servedImage{file: file, url: srv.add(file, archive), sum: sum, tag: imageName + ":" + version}
	t.Cleanup(func() {
		_, err := cli.ImageRemove(context.Background(), img.tag, dimage.RemoveOptions{Force: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			t.Logf("remove image %s: %v", img.tag, err)
		}
	})
	return img
}

// startDockerNode starts a node listening on every address (containers reach it through their
// bridge), on ports chosen once, with the test driver and a docker driver configured with cfg lines (YAML under cfg).
// Whatever the node leaves in the engine is removed after it stopped, even when the test fails.
func startDockerNode(t *testing.T, cli *client.Client, cfg ...string) *fishNode {
	t.Helper()
	var n *fishNode
	// Registered before startNode: runs after the node's own clean-up stopped it.
	t.Cleanup(func() {
		if n != nil {
			removeEngineObjects(t, cli, "aquarium-fish.node="+n.uid, true)
		}
	})
	lines := []string{"  - name: docker", "    cfg:"}
	if len(cfg) == 0 {
		lines[1] += " {}"
	}
	for _, l := range cfg {
		lines = append(lines, "      "+l)
	}
	// Fixed ports: a restarted node must be where its containers were told it is.
	args := []string{"--api", "0.0.0.0:" + freePort(t), "--proxy", "0.0.0.0:" + freePort(t)}
	n = startNode(t, nodeOpts{extra: lines, args: args})
	return n
}

// freePort is a TCP port free on every address right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// removeEngineObjects removes the containers, networks and volumes carrying label (key=value),
// and with report says so (after a passing test a node leaves nothing to remove).
func removeEngineObjects(t *testing.T, cli *client.Client, label string, report bool) {
	logf := func(format string, args ...any) {
		if report {
			t.Logf(format, args...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", label))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Logf("clean-up: list containers: %v", err)
	}
	for _, c := range cs {
		logf("clean-up: removing container %s (%s)", strings.Join(c.Names, ","), label)
		_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Logf("clean-up: list networks: %v", err)
	}
	for _, nw := range ns {
		logf("clean-up: removing network %s (%s)", nw.Name, label)
		_ = cli.NetworkRemove(ctx, nw.ID)
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Logf("clean-up: list volumes: %v", err)
	}
	for _, v := range vs.Volumes {
		logf("clean-up: removing volume %s (%s)", v.Name, label)
		_ = cli.VolumeRemove(ctx, v.Name, true)
	}
}

// execIn runs cmd in container id and returns its exit code and combined output.
func execIn(t *testing.T, cli *client.Client, id string, cmd ...string) (int, string) {
	t.Helper()
	return dockertest.Exec(t, cli, id, cmd...)
}

// copyProbe puts the probe helper into container id as /bin/fishprobe.
func copyProbe(t *testing.T, cli *client.Client, id, probe string) {
	t.Helper()
	b, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := dockertest.Tar(map[string]dockertest.File{"fishprobe": {Data: b, Mode: 0o755}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cli.CopyToContainer(ctx, id, "/bin", bytes.NewReader(tb), container.CopyToContainerOptions{}); err != nil {
		t.Fatalf("copy the probe into %s: %v", id, err)
	}
}

// engineGone asserts that the container, the network and the volumes of resource id are gone.
func engineGone(t *testing.T, cli *client.Client, id string, volumes ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cli.ContainerInspect(ctx, id); !cerrdefs.IsNotFound(err) {
		t.Errorf("container %s: inspect err %v, want not found", id, err)
	}
	if _, err := cli.NetworkInspect(ctx, id, network.InspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("network %s: inspect err %v, want not found", id, err)
	}
	for _, v := range volumes {
		if _, err := cli.VolumeInspect(ctx, v); !cerrdefs.IsNotFound(err) {
			t.Errorf("volume %s: inspect err %v, want not found", v, err)
		}
	}
}

// networkOptions are the options of an internal bridge like the driver's.
func networkOptions(labels map[string]string) network.CreateOptions {
	return network.CreateOptions{Driver: "bridge", Internal: true, Labels: labels}
}

// volumeOptions are those of a local volume named name.
func volumeOptions(name string, labels map[string]string) volume.CreateOptions {
	return volume.CreateOptions{Name: name, Driver: "local", Labels: labels}
}

// volumeMounts mounts volume name at /mnt/data.
func volumeMounts(name string) []mount.Mount {
	return []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: "/mnt/data"}}
}

// engineStartTime is how long the engine takes to make what the driver makes for a resource
// (an internal network, a volume, a limited container started on it), made directly.
func engineStartTime(t *testing.T, cli *client.Client, ref string) time.Duration {
	t.Helper()
	ctx := context.Background()
	name := "fishe2e-bench-" + uniqueSuffix(4)
	labels := map[string]string{"aquarium-fish-e2e": name}
	t.Cleanup(func() { removeEngineObjects(t, cli, "aquarium-fish-e2e="+name, false) })
	start := time.Now()
	if _, err := cli.NetworkCreate(ctx, name, networkOptions(labels)); err != nil {
		t.Fatalf("create network: %v", err)
	}
	if _, err := cli.VolumeCreate(ctx, volumeOptions(name, labels)); err != nil {
		t.Fatalf("create volume: %v", err)
	}
	cfg := &container.Config{Hostname: name, Image: ref, Env: []string{"A=b"}, Labels: labels}
	host := &container.HostConfig{NetworkMode: container.NetworkMode(name), Mounts: volumeMounts(name),
		Resources: container.Resources{NanoCPUs: 1e9, Memory: 1 << 30, MemorySwap: 1 << 30}}
	c, err := cli.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start container: %v", err)
	}
	if _, err := cli.ContainerInspect(ctx, c.ID); err != nil {
		t.Fatalf("inspect container: %v", err)
	}
	return time.Since(start)
}
