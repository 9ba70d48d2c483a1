//go:build linux

package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The native driver through the REST API of a real node (issue 6): each resource is a new
// local user running the image's init.sh in its home, with its metadata in the environment and
// from the meta API; deallocation and restarts leave nothing of it behind.

// nativeInit is the entry of the test image, running the probe helper at probe. It records
// who runs it and with which environment, fetches the meta API (retrying: the node serves it
// once the application is ALLOCATED), leaves a process in a session of its own, tries to use
// more memory than the label's 1 GB, and stays running.
func nativeInit(probe string) string {
	return strings.ReplaceAll(`#!/bin/sh
id -u > id.out
env > env.tmp && mv env.tmp env.out
setsid sleep 600 </dev/null >/dev/null 2>&1 &
for i in $(seq 1 100); do
	PROBE get "$FISH_META_URL" > meta.tmp 2> meta.err && mv meta.tmp meta.out && break
	sleep 0.1
done
(PROBE hog 1536 > hog.out 2>&1; echo $? > hog.tmp; mv hog.tmp hog.code) &
exec sleep 600
`, "PROBE", probe)
}

// nativeSetup is a node with the native driver, its homes directory and the image it serves.
type nativeSetup struct {
	n     *fishNode
	homes string
	probe string // the probe helper, executable by every user
	label label
}

// startNativeNode builds the test image (init.sh, fishtest/), serves it and starts a
// node with the test driver and a native driver whose users live in a directory of the test.
// Whatever a failing test leaves (users, homes, processes) is removed after the node stopped.
func startNativeNode(t *testing.T) *nativeSetup {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: the native driver creates users and needs root (run the tests as root)")
	}
	s := &nativeSetup{probe: buildProbe(t)}
	// The probe is not in the image: xz-compressing it costs seconds (a minute with -race).
	archive, sum := buildImageArchive(t, map[string]archiveFile{
		"init.sh": {[]byte(nativeInit(s.probe)), 0o755}, "fishtest/README": {[]byte("test image\n"), 0o644},
	})
	srv := newArchiveServer(t)
	url := srv.add("fishtest-"+uniqueSuffix(4)+".tar.xz", archive)
	homes, err := os.MkdirTemp("", "fish-e2e-homes-")
	if err != nil {
		t.Fatal(err)
	}
	s.homes = homes
	// Registered before startNode: runs after the node stopped.
	t.Cleanup(func() {
		removeNativeLeftovers(t, s)
		_ = os.RemoveAll(homes)
	})
	if err := os.Chmod(homes, 0o755); err != nil {
		t.Fatal(err)
	}
	s.n = startNode(t, nodeOpts{extra: []string{"  - name: native", "    cfg:", "      homes_path: " + homes}})
	if _, ok := s.n.current().out.find(func(l string) bool { return strings.HasSuffix(l, "Resource driver activated: native") }); !ok {
		t.Fatalf("the native driver is not activated (its self-test failed?)\n%s", s.n.current().out.tail(40))
	}
	def := map[string]any{"driver": "native", "resources": map[string]any{"cpu": 1, "ram": 1},
		"options": map[string]any{"images": []any{map[string]any{"url": url, "sum": sum}}, "entry": "./init.sh"}}
	s.label = s.n.createRawLabel(t, "native-e2e", map[string]any{"JENKINS_URL": "https://jenkins.example/", "shared": "label"}, def)
	return s
}

// nativeUser is the account of a native resource as the system shows it.
type nativeUser struct {
	name, home string
	uid, gid   uint32
}

// lookupNative finds the account of resource identifier.
func (s *nativeSetup) lookupNative(t *testing.T, identifier string) nativeUser {
	t.Helper()
	u, err := user.Lookup(identifier)
	if err != nil {
		t.Fatalf("the user of resource %s: %v", identifier, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if uid == 0 || gid == 0 || u.HomeDir != filepath.Join(s.homes, identifier) {
		t.Fatalf("user %s: uid %d gid %d home %s, want an unprivileged user with its home in %s", identifier, uid, gid, u.HomeDir, s.homes)
	}
	return nativeUser{name: identifier, home: u.HomeDir, uid: uint32(uid), gid: uint32(gid)}
}

// waitFile waits until the entry of u wrote name into its home and returns the content.
func waitFile(t *testing.T, u nativeUser, name string, d time.Duration) string {
	t.Helper()
	var b []byte
	if !poll(d, func() bool {
		var err error
		b, err = os.ReadFile(filepath.Join(u.home, name))
		return err == nil
	}) {
		errText, _ := os.ReadFile(filepath.Join(u.home, "meta.err"))
		t.Fatalf("the entry of %s wrote no %s within %v (meta.err: %q)", u.name, name, d, errText)
	}
	return string(b)
}

// asUser runs argv as u (no supplementary groups) and returns its error and output.
func asUser(u nativeUser, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestNativeResource(t *testing.T) {
	t.Parallel()
	s := startNativeNode(t)
	n := s.n
	secret := "s3cr3t-" + uniqueSuffix(8)
	a := n.createApp(t, n.adminCred(), s.label.UID, map[string]any{"JENKINS_AGENT_SECRET": secret, "shared": "app"})
	b := n.createApp(t, n.adminCred(), s.label.UID, nil)
	st := n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
	t.Logf("NEW → ALLOCATED (download, user, copy, entry watched 1 s): %v", st.CreatedAt.Sub(a.CreatedAt).Round(time.Millisecond))
	n.waitStatus(t, b.UID, "ALLOCATED", allocDeadline)
	ua := s.lookupNative(t, n.resourceOf(t, a.UID).Identifier)
	ub := s.lookupNative(t, n.resourceOf(t, b.UID).Identifier)

	t.Run("entry runs as the user with its metadata", func(t *testing.T) {
		if got := strings.TrimSpace(waitFile(t, ua, "id.out", 5*time.Second)); got != strconv.Itoa(int(ua.uid)) {
			t.Errorf("init.sh ran as uid %s, want %d (%s)", got, ua.uid, ua.name)
		}
		env := waitFile(t, ua, "env.out", 5*time.Second)
		for _, want := range []string{"JENKINS_AGENT_SECRET=" + secret, "JENKINS_URL=https://jenkins.example/", "shared=label",
			"USER=" + ua.name, "HOME=" + ua.home, "FISH_META_URL=https://"} {
			if !strings.Contains(env, "\n"+want) && !strings.HasPrefix(env, want) {
				t.Errorf("the entry's environment lacks %q:\n%s", want, env)
			}
		}
		var got map[string]any
		meta := waitFile(t, ua, "meta.out", 10*time.Second)
		want := map[string]any{"JENKINS_AGENT_SECRET": secret, "JENKINS_URL": "https://jenkins.example/", "shared": "label"}
		if err := json.Unmarshal([]byte(meta), &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("meta API from the entry = %s (%v), want %v", meta, err, want)
		}
		if strings.Contains(strings.Join(n.lines(), "\n"), secret) {
			t.Errorf("the node logged the metadata secret")
		}
	})
	t.Run("homes are private", func(t *testing.T) {
		waitFile(t, ub, "id.out", 5*time.Second)
		if out, err := asUser(ua, "cat", filepath.Join(ua.home, "id.out")); err != nil {
			t.Fatalf("%s cannot read its own home: %v %s", ua.name, err, out)
		}
		if out, err := asUser(ua, "cat", filepath.Join(ub.home, "id.out")); err == nil {
			t.Errorf("%s read the home of %s: %q", ua.name, ub.name, out)
		}
	})
	t.Run("memory limit", func(t *testing.T) {
		code := strings.TrimSpace(waitFile(t, ua, "hog.code", 20*time.Second))
		out, _ := os.ReadFile(filepath.Join(ua.home, "hog.out"))
		if code == "0" || strings.Contains(string(out), "allocated") {
			t.Errorf("a process of the 1 GB resource held 1.5 GiB (exit %s, %q)", code, out)
		}
		t.Logf("1.5 GiB hog in a 1 GB resource: exit status %s; memory limits of its cgroups: %v", code, memoryLimits(t, userPids(t, ua.uid)))
	})

	// The entry (exec'd into sleep) and the sleep it left in a session of its own.
	pids := waitSleepers(t, ua.uid, 2)
	t.Run("restart keeps it", func(t *testing.T) {
		n.restart(t)
		n.stays(t, a.UID, "ALLOCATED", 500*time.Millisecond)
		s.lookupNative(t, ua.name)
		if after := waitSleepers(t, ua.uid, 2); !reflect.DeepEqual(after, pids) {
			t.Errorf("processes of %s: %v before the restart, %v after", ua.name, pids, after)
		}
		// The restarted node tells its resources apart by the uid of the calling socket.
		for _, c := range []struct {
			u      nativeUser
			secret bool
		}{{ua, true}, {ub, false}} {
			out, err := asUser(c.u, s.probe, "get", n.url("/meta/v1/data/"))
			if err != nil || !strings.Contains(out, `"shared":"label"`) || strings.Contains(out, secret) != c.secret {
				t.Errorf("meta API as %s after the restart: %v %s", c.u.name, err, out)
			}
		}
	})

	n.release(t, a.UID)
	n.release(t, b.UID)
	s.checkGone(t, ua)
	s.checkGone(t, ub)
}

// checkGone asserts that nothing of u is left: no account, no group, no home, no process (when
// u.uid is known), no file in the driver's workspace.
func (s *nativeSetup) checkGone(t *testing.T, u nativeUser) {
	t.Helper()
	if _, err := user.Lookup(u.name); err == nil {
		t.Errorf("user %s still exists", u.name)
	}
	if _, err := user.LookupGroup(u.name); err == nil {
		t.Errorf("group %s still exists", u.name)
	}
	if _, err := os.Stat(u.home); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home %s: %v, want it gone", u.home, err)
	}
	if left := userPids(t, u.uid); u.uid != 0 && len(left) > 0 {
		t.Errorf("processes of uid %d left: %v", u.uid, describePids(left))
	}
	if recs, _ := filepath.Glob(filepath.Join(s.n.dir, "fish_native_workspace", u.name+"*")); len(recs) > 0 {
		t.Errorf("files of %s left in the driver's workspace: %v", u.name, recs)
	}
}

// TestNativeKilledMidAllocation: a node killed while it creates a user finds that user at the
// next start and removes it, and the application still ends up with a working resource.
func TestNativeKilledMidAllocation(t *testing.T) {
	t.Parallel()
	s := startNativeNode(t)
	n := s.n
	a := n.createApp(t, n.adminCred(), s.label.UID, nil)
	var recs []nativeRecord
	if !poll(allocDeadline, func() bool {
		recs = nativeRecords(t, n)
		return len(recs) > 0
	}) {
		t.Fatalf("no record of a user appeared while allocating")
	}
	n.kill9(t)
	orphan := recs[0].Identifier
	t.Logf("killed the node while user %s was being created", orphan)
	// Its processes, if it had any yet (its uid may go to the next user: pids it is).
	var orphanPids []int
	if u, err := user.Lookup(orphan); err == nil {
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		orphanPids = userPids(t, uint32(uid))
	}

	n.start(t)
	n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
	res := n.resourceOf(t, a.UID)
	t.Logf("after the restart the resource is user %s", res.Identifier)
	u := s.lookupNative(t, res.Identifier)
	if got := strings.TrimSpace(waitFile(t, u, "id.out", 5*time.Second)); got != strconv.Itoa(int(u.uid)) {
		t.Errorf("init.sh ran as uid %s, want %d", got, u.uid)
	}
	waitFile(t, u, "meta.out", 10*time.Second)
	if res.Identifier != orphan {
		s.checkGone(t, nativeUser{name: orphan, home: filepath.Join(s.homes, orphan)})
		for _, pid := range orphanPids {
			if alive(pid) {
				t.Errorf("process %d of the interrupted allocation's user %s is still running", pid, orphan)
			}
		}
	}
	n.release(t, a.UID)
	s.checkGone(t, u)
}
