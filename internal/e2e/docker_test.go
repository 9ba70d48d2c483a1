package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// The docker driver through the REST API of a real node, on the real engine (issue 5): the
// node downloads a busybox image archive from the test, runs it sandboxed with the label's
// limits, serves its metadata to it, proxies it to mapped services only, and removes every
// engine object it made.

// dockerAllocDeadline bounds NEW → ALLOCATED when the image must be downloaded and loaded.
const dockerAllocDeadline = 60 * time.Second

// dockerDef is a docker label definition running img (no sum when sum is "") with cpu, ram
// and extra resources keys.
func dockerDef(img servedImage, sum string, cpu, ram int, res map[string]any) map[string]any {
	r := map[string]any{"cpu": cpu, "ram": ram}
	for k, v := range res {
		r[k] = v
	}
	ref := map[string]any{"url": img.url}
	if sum != "" {
		ref["sum"] = sum
	}
	return map[string]any{"driver": "docker", "resources": r, "options": map[string]any{"images": []any{ref}}}
}

// createRawLabel creates a label from definitions and metadata written as plain maps (the
// fields the harness's types lack: disks).
func (n *fishNode) createRawLabel(t *testing.T, name string, metadata map[string]any, defs ...map[string]any) label {
	t.Helper()
	body := map[string]any{"name": name, "version": 1, "definitions": defs}
	if metadata != nil {
		body["metadata"] = metadata
	}
	var l label
	n.mustJSON(t, n.adminCred(), "POST", "/api/v1/label/", body, &l)
	return l
}

func TestDockerResource(t *testing.T) {
	t.Parallel()
	cli := dockerEngine(t)
	probe := buildProbe(t)
	archive, sum := dockerImageArchive(t, cli)
	srv := newArchiveServer(t)
	img := serveImage(t, cli, srv, archive, sum)
	n := startDockerNode(t, cli)

	secret := "s3cr3t-" + uniqueSuffix(8)
	labelMeta := map[string]any{"JENKINS_URL": "https://jenkins.example/", "shared": "label", "nested": map[string]any{"from": "label"}}
	appMeta := map[string]any{"JENKINS_AGENT_SECRET": secret, "shared": "app", "nested": map[string]any{"from": "app", "only": "app"}}
	disks := map[string]any{"disks": map[string]any{"data": map[string]any{"type": "dir"}}}
	l := n.createRawLabel(t, "docker-e2e", labelMeta, dockerDef(img, img.sum, 1, 1, disks))
	a := n.createApp(t, n.adminCred(), l.UID, appMeta)
	st := n.waitStatus(t, a.UID, "ALLOCATED", dockerAllocDeadline)
	t.Logf("NEW → ALLOCATED with download and load: %v", st.CreatedAt.Sub(a.CreatedAt).Round(time.Millisecond))
	res := n.resourceOf(t, a.UID)
	id := res.Identifier
	if got := srv.downloads(img.file); got != 1 {
		t.Errorf("the image was downloaded %d times, want 1", got)
	}

	var containerID string
	t.Run("limits, labels and environment", func(t *testing.T) {
		c, err := cli.ContainerInspect(context.Background(), id)
		if err != nil {
			t.Fatalf("inspect the container %s of the resource: %v", id, err)
		}
		containerID = c.ID
		if c.State == nil || !c.State.Running {
			t.Errorf("container %s is not running: %+v", id, c.State)
		}
		if c.HostConfig.NanoCPUs != 1e9 || c.HostConfig.Memory != 1<<30 {
			t.Errorf("limits NanoCPUs=%d Memory=%d, want 1e9 and 1 GiB", c.HostConfig.NanoCPUs, c.HostConfig.Memory)
		}
		for k, want := range map[string]string{
			"aquarium-fish.node": n.uid, "aquarium-fish.application": a.UID, "aquarium-fish.resource": id,
		} {
			if got := c.Config.Labels[k]; got != want {
				t.Errorf("container label %s = %q, want %q", k, got, want)
			}
		}
		if !slices.Contains(c.Config.Env, "JENKINS_AGENT_SECRET="+secret) || !slices.Contains(c.Config.Env, "shared=label") {
			t.Errorf("container environment %q lacks the merged metadata", c.Config.Env)
		}
		if len(c.Mounts) != 1 || c.Mounts[0].Type != "volume" || c.Mounts[0].Destination != "/mnt/data" {
			t.Errorf("mounts %+v, want one volume at /mnt/data", c.Mounts)
		}
		if res.IPAddr == "" || c.NetworkSettings.Networks[id] == nil || c.NetworkSettings.Networks[id].IPAddress != res.IPAddr {
			t.Errorf("resource ip_addr %q is not the container's address on network %s", res.IPAddr, id)
		}
	})
	copyProbe(t, cli, id, probe)

	wantMeta := map[string]any{"JENKINS_URL": "https://jenkins.example/", "JENKINS_AGENT_SECRET": secret,
		"shared": "label", "nested": map[string]any{"from": "label"}}
	t.Run("metadata from inside", func(t *testing.T) { checkContainerMeta(t, cli, id, wantMeta) })
	t.Run("sandbox", func(t *testing.T) { checkSandbox(t, cli, id, img.tag) })
	svcPort := serviceStub(t)
	t.Run("proxy", func(t *testing.T) { checkProxy(t, n, cli, id, a.UID, svcPort) })
	if lines := strings.Join(n.lines(), "\n"); strings.Contains(lines, secret) {
		t.Errorf("the node logged the metadata secret")
	}

	t.Run("restart keeps it", func(t *testing.T) {
		n.restart(t)
		n.stays(t, a.UID, "ALLOCATED", 500*time.Millisecond)
		after, err := cli.ContainerInspect(context.Background(), id)
		if err != nil {
			t.Fatalf("after the restart: inspect %s: %v", id, err)
		}
		if after.ID != containerID || after.State == nil || !after.State.Running {
			t.Fatalf("after the restart container %s is %s (state %+v), want %s still running", id, after.ID, after.State, containerID)
		}
		checkContainerMeta(t, cli, id, wantMeta)
		if code, out := proxyTo(t, cli, id, "svc.internal", svcPort); code != 0 || out != "hello-from-svc\n" {
			t.Errorf("svc.internal through the proxy after the restart: exit %d, output %q", code, out)
		}
	})

	t.Run("cached image", func(t *testing.T) { checkCachedAllocation(t, n, cli, l.UID, img, srv) })

	n.release(t, a.UID)
	n.noResource(t, a.UID)
	engineGone(t, cli, id, id+"-disk-data")
}

// checkContainerMeta fetches $FISH_META_URL from inside container id with the probe.
func checkContainerMeta(t *testing.T, cli *client.Client, id string, want map[string]any) {
	t.Helper()
	code, out := execIn(t, cli, id, "sh", "-c", `fishprobe get "$FISH_META_URL"`)
	if code != 0 {
		t.Fatalf("fetching $FISH_META_URL from inside: exit %d: %s", code, out)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("metadata from inside = %s (%v), want %v", out, err, want)
	}
	code, out = execIn(t, cli, id, "sh", "-c", `fishprobe get "$FISH_META_URL?format=env"`)
	if code != 0 || !strings.Contains(out, "shared=label\n") {
		t.Errorf("env format from inside: exit %d: %q", code, out)
	}
}

// checkSandbox asserts that container id reaches neither the outside world nor a container on
// the engine's default bridge (running image ref).
func checkSandbox(t *testing.T, cli *client.Client, id, ref string) {
	start := time.Now()
	if code, out := execIn(t, cli, id, "fishprobe", "dial", "1.1.1.1:80"); code == 0 {
		t.Errorf("the sandboxed container reached 1.1.1.1:80: %s", out)
	}
	t.Logf("dial 1.1.1.1:80 from the sandbox failed after %v", time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	by, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: []string{"httpd", "-f", "-p", "8080", "-h", "/tmp"},
		Labels: map[string]string{"aquarium-fish-e2e": "bystander"}}, &container.HostConfig{NetworkMode: "bridge"}, nil, nil, "")
	if err != nil {
		t.Fatalf("create a bystander container: %v", err)
	}
	t.Cleanup(func() { _ = cli.ContainerRemove(ctx, by.ID, container.RemoveOptions{Force: true}) })
	if err := cli.ContainerStart(ctx, by.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start the bystander: %v", err)
	}
	ins, err := cli.ContainerInspect(ctx, by.ID)
	if err != nil || ins.NetworkSettings == nil || ins.NetworkSettings.Networks["bridge"] == nil {
		t.Fatalf("inspect the bystander: %v", err)
	}
	addr := net.JoinHostPort(ins.NetworkSettings.Networks["bridge"].IPAddress, "8080")
	if !poll(10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("the bystander %s does not answer the host", addr)
	}
	if code, out := execIn(t, cli, id, "fishprobe", "dial", addr); code == 0 {
		t.Errorf("the sandboxed container reached a container of the default bridge at %s: %s", addr, out)
	}
}

// serviceStub listens on the loopback (the node's proxy reaches it, containers cannot) and
// greets every connection with "hello-from-svc"; it returns its port.
func serviceStub(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hello-from-svc\n"))
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// proxyTo connects from container id to service:port through $FISH_PROXY with the probe: exit
// code 0 and the service's greeting, or 3 when the proxy refused.
func proxyTo(t *testing.T, cli *client.Client, id, service string, port int) (int, string) {
	t.Helper()
	return execIn(t, cli, id, "sh", "-c", fmt.Sprintf(`fishprobe socks "$FISH_PROXY" %s:%d`, service, port))
}

// checkProxy asserts that container id reaches a service through $FISH_PROXY once a mapping
// of its application points at it, and is refused a service without a mapping.
func checkProxy(t *testing.T, n *fishNode, cli *client.Client, id, app string, port int) {
	socks := func(service string) (int, string) { return proxyTo(t, cli, id, service, port) }
	if code, out := socks("svc.internal"); code != 3 {
		t.Errorf("svc.internal without a mapping: exit %d (%q), want 3 (refused)", code, out)
	}
	n.mustJSON(t, n.adminCred(), "POST", "/api/v1/servicemapping/",
		serviceMapping{ApplicationUID: app, Service: "svc.internal", Redirect: "127.0.0.1"}, nil)
	if code, out := socks("svc.internal"); code != 0 || out != "hello-from-svc\n" {
		t.Errorf("svc.internal through the proxy: exit %d, output %q, want hello-from-svc", code, out)
	}
	if code, out := socks("unmapped.internal"); code != 3 {
		t.Errorf("unmapped.internal through the proxy: exit %d (%q), want 3 (refused)", code, out)
	}
	deny := fmt.Sprintf("to unmapped.internal:%d", port)
	if !poll(2*time.Second, func() bool {
		_, ok := n.current().out.find(func(l string) bool { return strings.Contains(l, "Denied proxy from") && strings.Contains(l, deny) })
		return ok
	}) {
		t.Errorf("no \"Denied proxy from … %s\" line in the node output", deny)
	}
}

// checkCachedAllocation allocates label once more (its image is cached now) and compares the
// node's NEW → ALLOCATED time with what the engine itself takes for the same objects.
func checkCachedAllocation(t *testing.T, n *fishNode, cli *client.Client, label string, img servedImage, srv *archiveServer) {
	a := n.createApp(t, n.adminCred(), label, nil)
	st := n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
	nodeTime := st.CreatedAt.Sub(a.CreatedAt)
	if got := srv.downloads(img.file); got != 1 {
		t.Errorf("the cached image was downloaded again (%d downloads)", got)
	}
	engineTime := engineStartTime(t, cli, img.tag)
	t.Logf("cached image: node NEW → ALLOCATED %v; the engine alone (network, volume, create, start, inspect) %v; node overhead %v",
		nodeTime.Round(time.Millisecond), engineTime.Round(time.Millisecond), (nodeTime - engineTime).Round(time.Millisecond))
	// Where the node's time went: before the driver was called, and in the driver until ALLOCATED.
	if l, ok := n.current().out.find(func(l string) bool {
		return strings.Contains(l, "Allocate the resource using the driver docker") && strings.Contains(l, a.UID)
	}); ok && len(l) > 26 {
		if called, err := time.ParseInLocation("2006/01/02 15:04:05.000000", l[:26], time.Local); err == nil {
			t.Logf("cached image: NEW → driver called %v, driver called → ALLOCATED %v",
				called.Sub(a.CreatedAt).Round(time.Millisecond), st.CreatedAt.Sub(called).Round(time.Millisecond))
		}
	}
	res := n.resourceOf(t, a.UID)
	n.release(t, a.UID)
	engineGone(t, cli, res.Identifier, res.Identifier+"-disk-data")
}

func TestDockerLifetimeAndFailures(t *testing.T) {
	t.Parallel()
	cli := dockerEngine(t)
	archive, sum := dockerImageArchive(t, cli)
	srv := newArchiveServer(t)
	n := startDockerNode(t, cli)

	t.Run("lifetime 5s", func(t *testing.T) {
		t.Parallel()
		img := serveImage(t, cli, srv, archive, sum)
		l := n.createRawLabel(t, "docker-lifetime", nil, dockerDef(img, img.sum, 1, 1, map[string]any{"lifetime": "5s"}))
		a := n.createApp(t, n.adminCred(), l.UID, nil)
		n.waitStatus(t, a.UID, "ALLOCATED", dockerAllocDeadline)
		res := n.resourceOf(t, a.UID)
		n.expectExpiry(t, a.UID, res.CreatedAt, 5*time.Second)
		engineGone(t, cli, res.Identifier)
	})
	failures := []struct {
		name, sum, want string
		url             func(servedImage) string
	}{
		{"bad checksum", "sha256:" + strings.Repeat("0", 64), "checksum", nil},
		{"unreachable url", "", "", func(img servedImage) string { return "http://127.0.0.1:1/" + img.file }},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			img := serveImage(t, cli, srv, archive, sum)
			if f.url != nil {
				img.url = f.url(img)
			}
			l := n.createRawLabel(t, "docker-"+strings.ReplaceAll(f.name, " ", "-"), nil, dockerDef(img, f.sum, 1, 1, nil))
			a := n.createApp(t, n.adminCred(), l.UID, nil)
			st := n.waitStatus(t, a.UID, "ERROR", dockerAllocDeadline)
			if !strings.HasPrefix(st.Description, "Driver allocate resource error:") || !strings.Contains(strings.ToLower(st.Description), f.want) {
				t.Errorf("ERROR description %q, want the allocate error prefix and %q", st.Description, f.want)
			}
			t.Logf("ERROR description: %s", st.Description)
			n.noResource(t, a.UID)
			cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
				Filters: filters.NewArgs(filters.Arg("label", "aquarium-fish.application="+a.UID))})
			if err != nil || len(cs) != 0 {
				t.Errorf("containers of the failed application: %d (err %v), want none", len(cs), err)
			}
			version := strings.TrimSuffix(strings.TrimPrefix(img.file, imageName+"-"), ".tar.xz")
			entries, _ := os.ReadDir(filepath.Join(n.dir, "fish_docker_images"))
			for _, e := range entries {
				if strings.Contains(e.Name(), version) {
					t.Errorf("the image cache keeps %s after a failed download", e.Name())
				}
			}
		})
	}
}

// TestDockerConcurrentAllocations: ten applications of one image the node does not have yet
// download it once, and all run.
func TestDockerConcurrentAllocations(t *testing.T) {
	t.Parallel()
	const count = 10
	cli := dockerEngine(t)
	archive, sum := dockerImageArchive(t, cli)
	srv := newArchiveServer(t)
	img := serveImage(t, cli, srv, archive, sum)
	n := startDockerNode(t, cli, fmt.Sprintf("cpu_alter: %d", count))
	l := n.createRawLabel(t, "docker-many", nil, dockerDef(img, img.sum, 1, 1, nil))

	apps := make([]application, count)
	for i := range apps {
		apps[i] = n.createApp(t, n.adminCred(), l.UID, nil)
	}
	var last time.Time
	for _, a := range apps {
		st := n.waitStatus(t, a.UID, "ALLOCATED", dockerAllocDeadline)
		if st.CreatedAt.After(last) {
			last = st.CreatedAt
		}
	}
	t.Logf("%d concurrent allocations of an uncached image: all ALLOCATED %v after the first was created",
		count, last.Sub(apps[0].CreatedAt).Round(time.Millisecond))
	if got := srv.downloads(img.file); got != 1 {
		t.Errorf("the image was downloaded %d times, want once", got)
	}
	ids := make([]string, count)
	for i, a := range apps {
		ids[i] = n.resourceOf(t, a.UID).Identifier
		n.deallocate(t, n.adminCred(), a.UID)
	}
	for i, a := range apps {
		n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline)
		engineGone(t, cli, ids[i])
	}
}
