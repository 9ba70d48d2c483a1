//go:build linux

package native

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// TestAllocate: the entry runs as a new user in its private home with the metadata in its
// environment, images land in the home and in the tagged disk, and one user cannot read
// another's home.
func TestAllocate(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDriver(t)

	def := f.definition(`./init.sh "{{ .Disks.data }}"`, model.Resources{
		Disks: map[string]model.ResourcesDisk{"data": {Type: "dir"}},
	})
	def.Options = addImage(t, def.Options, f.server.URL+"/fishdata-1.tar.xz", "data")
	md := map[string]any{"AGENT": map[string]any{"url": "http://ci/x", "n": 2.0}, "SECRET": "s 3'"}
	a, acct := f.allocate(t, d, def, md)

	if !identifierRE.MatchString(a.Identifier) || a.IPAddr != "" || a.HwAddr != "" {
		t.Errorf("Allocation = %+v, want only an identifier fish-xxxxxx", a)
	}
	if acct.UID == 0 || acct.Home != filepath.Join(f.homes, a.Identifier) {
		t.Errorf("account = %+v", acct)
	}
	if got := strings.TrimSpace(waitFile(t, filepath.Join(acct.Home, "id.out"))); got != strconv.Itoa(int(acct.UID)) {
		t.Errorf("entry ran as uid %s, want %d", got, acct.UID)
	}
	env := waitFile(t, filepath.Join(acct.Home, "env.out"))
	for _, want := range []string{
		"AGENT_url=http://ci/x", "AGENT_n=2", "SECRET=s 3'", "HOME=" + acct.Home, "USER=" + a.Identifier,
		MetaURLVar + "=https://127.0.0.1:8001/meta/v1/data/",
	} {
		if !slices.Contains(strings.Split(env, "\n"), want) {
			t.Errorf("entry environment lacks %q:\n%s", want, env)
		}
	}
	if got := strings.TrimSpace(waitFile(t, filepath.Join(acct.Home, "pwd.out"))); got != acct.Home {
		t.Errorf("entry ran in %s, want %s", got, acct.Home)
	}
	disk := filepath.Join(f.homes, a.Identifier+"-disk-data")
	if got := strings.TrimSpace(waitFile(t, filepath.Join(acct.Home, "arg.out"))); got != disk {
		t.Errorf("{{ .Disks.data }} = %q, want %q", got, disk)
	}
	wantOwned(t, acct, acct.Home, 0o700)
	wantOwned(t, acct, disk, 0o700)
	wantOwned(t, acct, filepath.Join(acct.Home, "fishtest", "README"), 0o755)
	wantOwned(t, acct, filepath.Join(disk, "fishdata", "hello.txt"), 0o755)

	// A second user cannot read the first one's home.
	probe := f.definition(`./init.sh; cat "$OTHER/env.out" > probe.out 2>&1; echo $? > probe.status`, model.Resources{})
	_, other := f.allocate(t, d, probe, map[string]any{"OTHER": acct.Home})
	if got := strings.TrimSpace(waitFile(t, filepath.Join(other.Home, "probe.status"))); got == "0" {
		out, _ := os.ReadFile(filepath.Join(other.Home, "probe.out"))
		t.Errorf("a second user read the first one's home: %s", out)
	}
}

// TestGroups: the groups option sets the primary group and the supplementary ones.
func TestGroups(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDriver(t)
	var gids []string
	for _, name := range []string{"nogroup", "users"} {
		g, err := user.LookupGroup(name)
		if err != nil {
			t.Skipf("group %s: %v", name, err)
		}
		gids = append(gids, g.Gid)
	}
	def := f.definition("", model.Resources{})
	def.Options = []byte(strings.Replace(string(def.Options), "{", `{"groups":["nogroup","users"],`, 1))
	_, acct := f.allocate(t, d, def, nil)
	waitFile(t, filepath.Join(acct.Home, "id.out"))
	got := strings.Fields(waitFile(t, filepath.Join(acct.Home, "groups.out")))
	if !slices.Equal(got, gids) {
		t.Errorf("id -G = %v, want %v (primary first)", got, gids)
	}
}

// TestEntryFails: an entry that fails at once fails the allocation and leaves nothing.
func TestEntryFails(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDriver(t)
	_, err := d.Allocate(t.Context(), driver.AllocateRequest{Definition: f.definition(`echo boom; exit 3`, model.Resources{})})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Allocate = %v, want the entry's failure with its output", err)
	}
	ids, err := d.Resources(t.Context())
	if err != nil || len(ids) != 0 {
		t.Errorf("Resources after a failed allocation = %v, %v; want none", ids, err)
	}
	wantNoHomes(t, f)
}

// TestDeallocate: nothing of the user survives, not even a double-forked setsid sleeper or
// its temporary files; with cgroups every process of the entry is in the user's cgroups.
func TestDeallocate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  map[string]any
	}{
		{"cgroups", nil},
		{"no cgroups", map[string]any{"cgroup_path": CgroupNone}},
	} {
		t.Run(tc.name, func(t *testing.T) { testDeallocate(t, tc.cfg) })
	}
}

func testDeallocate(t *testing.T, cfg map[string]any) {
	f := newFixture(t, cfg)
	d := f.newDriver(t)
	entry := `./init.sh
setsid sh -c 'sleep 1000 & sleep 1000 &' < /dev/null > /dev/null 2>&1 &
(sleep 1000 &) < /dev/null > /dev/null 2>&1
mktemp /tmp/fishtest.XXXXXX > tmp.tmp && mv tmp.tmp tmp.out
echo x > /dev/shm/fishtest-$USER
mkdir -p /var/tmp/fishtest-$USER/sub && touch /var/tmp/fishtest-$USER/sub/f`
	a, acct := f.allocate(t, d, f.definition(entry, model.Resources{CPU: 1, RAM: 1}), nil)
	tmpFile := strings.TrimSpace(waitFile(t, filepath.Join(acct.Home, "tmp.out")))
	if err := pollT(t, 10*time.Second, func() bool { return len(mustProcesses(t, acct.UID)) >= 3 }); err != nil {
		t.Fatalf("the sleepers did not start: %v (processes %v)", err, mustProcesses(t, acct.UID))
	}
	cg := d.sys.(*linuxSystem).cg
	for _, pid := range mustProcesses(t, acct.UID) {
		wantInCgroups(t, cg, pid, a.Identifier)
	}
	rec, err := d.recs.read(a.Identifier)
	if err != nil {
		t.Fatal(err)
	}

	res := model.Resource{Identifier: a.Identifier}
	if err := d.Deallocate(t.Context(), res); err != nil {
		t.Fatalf("Deallocate: %v", err)
	}
	wantGone(t, d, a.Identifier, acct, rec)
	for _, p := range []string{tmpFile, "/dev/shm/fishtest-" + a.Identifier, "/var/tmp/fishtest-" + a.Identifier} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survives the deallocation: %v", p, err)
		}
	}
	if err := d.Deallocate(t.Context(), res); err != nil {
		t.Errorf("second Deallocate = %v, want nil (the user is known to be gone)", err)
	}
}

// wantInCgroups checks that process pid is in every cgroup the driver made for user name.
func wantInCgroups(t *testing.T, cg *cgroups, pid int, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return // gone meanwhile
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	check := func(hierarchy func(controllers string) bool, what, parent string) {
		want := "/" + filepath.Base(parent) + "/" + name
		for _, l := range lines {
			parts := strings.SplitN(l, ":", 3)
			if len(parts) == 3 && hierarchy(parts[1]) {
				if !strings.HasSuffix(parts[2], want) {
					t.Errorf("process %d is in %s cgroup %s, want ...%s", pid, what, parts[2], want)
				}
				return
			}
		}
		t.Errorf("process %d has no %s cgroup: %q", pid, what, b)
	}
	if cg.v2 != "" {
		check(func(c string) bool { return c == "" }, "v2", cg.v2)
	}
	if cg.v1Mem != "" {
		check(func(c string) bool { return slices.Contains(strings.Split(c, ","), "memory") }, "memory", cg.v1Mem)
	}
	if cg.v1CPU != "" {
		check(func(c string) bool { return slices.Contains(strings.Split(c, ","), "cpu") }, "cpu", cg.v1CPU)
	}
}

// TestRestart: a new driver instance lists the user of the previous one and removes it.
func TestRestart(t *testing.T) {
	f := newFixture(t, nil)
	before := f.newDriver(t)
	a, acct := f.allocate(t, before, f.definition(`./init.sh; (while :; do echo tick; sleep 1; done) < /dev/null &`, model.Resources{}), nil)
	rec, err := before.recs.read(a.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	// The output goes to a file, not to a pipe that the node's exit would break (SIGPIPE).
	if err := pollT(t, 10*time.Second, func() bool { return len(mustProcesses(t, acct.UID)) > 0 }); err != nil {
		t.Fatal("the entry's loop did not start")
	}
	for _, pid := range mustProcesses(t, acct.UID) {
		if out, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/1", pid)); err == nil && out != rec.Layout.Log {
			t.Errorf("stdout of process %d is %s, want %s", pid, out, rec.Layout.Log)
		}
	}
	if got := waitFile(t, rec.Layout.Log); !strings.Contains(got, "tick") && got != "" {
		t.Errorf("output file = %q", got)
	}

	after := f.newDriver(t)
	ids, err := after.Resources(t.Context())
	if err != nil || !slices.Contains(ids, a.Identifier) {
		t.Fatalf("Resources after restart = %v, %v; want it to list %s", ids, err, a.Identifier)
	}
	if st, err := after.Status(t.Context(), model.Resource{Identifier: a.Identifier}); err != nil || st != driver.ResourceAllocated {
		t.Errorf("Status after restart = %q, %v; want ALLOCATED", st, err)
	}
	// Another node's instance on the same workspace does not see it.
	other := *f
	other.node = model.UID{1}
	if ids, err := other.newDriver(t).Resources(t.Context()); err != nil || slices.Contains(ids, a.Identifier) {
		t.Errorf("another node's Resources = %v, %v; want it not to list %s", ids, err, a.Identifier)
	}
	if err := after.Destroy(t.Context(), a.Identifier); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	wantGone(t, after, a.Identifier, acct, rec)
}

// TestRefusesOthers: users the driver has no record of are never touched.
func TestRefusesOthers(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDriver(t)
	for _, id := range []string{"root", "fish-ab", "../etc", "fish-abcdeF"} {
		if err := d.Destroy(t.Context(), id); !errors.Is(err, errNotOurs) {
			t.Errorf("Destroy(%q) = %v, want errNotOurs", id, err)
		}
	}
	name := newIdentifier()
	if out, err := exec.Command("useradd", "-M", "-N", "-g", "nogroup", name).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", "-f", name).Run() })
	if err := d.Destroy(t.Context(), name); !errors.Is(err, errNotOurs) {
		t.Errorf("Destroy(a user without record) = %v, want errNotOurs", err)
	}
	if _, err := user.Lookup(name); err != nil {
		t.Errorf("the foreign user was removed: %v", err)
	}
}

// TestMemoryLimit: a process that allocates more than the definition's RAM is killed.
func TestMemoryLimit(t *testing.T) {
	f := newFixture(t, nil)
	d := f.newDriver(t)
	cg := d.sys.(*linuxSystem).cg
	if !cg.v2Mem && cg.v1Mem == "" {
		t.Skip("no writable memory cgroup controller in this container (neither v2 nor v1): the limit cannot be enforced here")
	}
	// tail keeps the whole last "line" (2 GiB without a newline) in memory.
	entry := `./init.sh; (head -c 2048m /dev/zero | tail > /dev/null; echo $? > oom.tmp; mv oom.tmp oom.status) < /dev/null > /dev/null 2>&1 &`
	_, acct := f.allocate(t, d, f.definition(entry, model.Resources{RAM: 1}), nil)
	if got := strings.TrimSpace(waitFile(t, filepath.Join(acct.Home, "oom.status"))); got != "137" {
		t.Errorf("a process using 2 GiB with ram 1 exited with %s, want 137 (killed)", got)
	}
}

// TestIdentifyPeer: a connection opened by the user's process is identified as its resource;
// one opened by anyone else is not.
func TestIdentifyPeer(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash (for /dev/tcp) is not installed")
	}
	f := newFixture(t, nil)
	d := f.newDriver(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	entry := fmt.Sprintf(`./init.sh; %s -c 'exec 3<>/dev/tcp/127.0.0.1/%d; echo hello >&3; read -r _ <&3' < /dev/null > /dev/null 2>&1 &`, bash, port)
	a, _ := f.allocate(t, d, f.definition(entry, model.Resources{}), nil)

	conn := accept(t, ln)
	defer conn.Close()
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("read from the resource: %q, %v", line, err)
	}
	remote, local := addrs(conn)
	if id, ok := d.IdentifyPeer(remote, local); !ok || id != a.Identifier {
		t.Errorf("IdentifyPeer(resource's connection) = %q, %v; want %s", id, ok, a.Identifier)
	}
	// Mapped addresses, as a dual-stack listener reports them, work too.
	mapped := netipMapped(remote)
	if id, ok := d.IdentifyPeer(mapped, netipMapped(local)); !ok || id != a.Identifier {
		t.Errorf("IdentifyPeer(mapped) = %q, %v; want %s", id, ok, a.Identifier)
	}

	mine, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	theirs := accept(t, ln)
	defer theirs.Close()
	if id, ok := d.IdentifyPeer(addrs(theirs)); ok {
		t.Errorf("IdentifyPeer(root's connection) = %q, true; want false", id)
	}
}

// TestFactoryErrors: bad configs disable the driver with a message that says why.
func TestFactoryErrors(t *testing.T) {
	f := newFixture(t, nil)
	hidden := filepath.Join(t.TempDir(), "private", "homes") // t.TempDir is 0700: no user gets in
	for _, tc := range []struct{ cfg, want string }{
		{`{"homes_path":"` + hidden + `"}`, "not searchable"},
		{`{"no_such_key":1}`, "no_such_key"},
		{`{"sh_path":"/no/such/sh"}`, "sh_path"},
		{`{"useradd_path":"/etc/passwd"}`, "not executable"},
		{`{"ram_alter":-100000}`, "ram_alter"},
		{`{"homes_path":"relative"}`, "absolute"},
		{`{"homes_path":"/tmp"}`, "writable"},
	} {
		_, err := New(t.Context(), f.env(), Type, []byte(tc.cfg))
		t.Logf("New(%s): %v", tc.cfg, err)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestCapacity(t *testing.T) {
	f := newFixture(t, map[string]any{"cpu_alter": -1, "ram_overbook": 4})
	d := f.newDriver(t)
	def := f.definition("", model.Resources{CPU: 1, RAM: 1})
	n, err := d.AvailableCapacity(driver.Usage{}, def)
	if err != nil || n < 1 {
		t.Errorf("AvailableCapacity = %d, %v; want >= 1", n, err)
	}
	if d.limits.RAMOverbook != 4 || d.limits.CPU != uint32(numCPU())-1 {
		t.Errorf("limits = %+v", d.limits)
	}
	def.Options = []byte(`{"bogus":1}`)
	if _, err := d.AvailableCapacity(driver.Usage{}, def); err == nil {
		t.Error("AvailableCapacity with bad options succeeded")
	}
}

// wantGone checks that nothing of user id is left.
func wantGone(t *testing.T, d *Driver, id string, acct account, rec record) {
	t.Helper()
	if pids := mustProcesses(t, acct.UID); len(pids) > 0 {
		t.Errorf("processes of %s survive: %v", id, pids)
	}
	if _, err := user.Lookup(id); err == nil {
		t.Errorf("user %s survives", id)
	}
	if _, err := user.LookupGroup(id); err == nil {
		t.Errorf("group %s survives", id)
	}
	paths := append([]string{rec.Layout.Home, rec.Layout.Log}, rec.Layout.Cgroups...)
	for _, p := range append(paths, mapValues(rec.Layout.Disks)...) {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survives: %v", p, err)
		}
	}
	if st, err := d.Status(context.Background(), model.Resource{Identifier: id}); err != nil || st != driver.ResourceNone {
		t.Errorf("Status = %q, %v; want NONE", st, err)
	}
	if ids, _ := d.Resources(context.Background()); slices.Contains(ids, id) {
		t.Errorf("Resources still lists %s", id)
	}
}

func wantOwned(t *testing.T, acct account, path string, perm os.FileMode) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != acct.UID || sys.Gid != acct.GID || st.Mode().Perm() != perm {
		t.Errorf("%s: owner %d:%d mode %v, want %d:%d %v", path, sys.Uid, sys.Gid, st.Mode().Perm(), acct.UID, acct.GID, perm)
	}
}

func wantNoHomes(t *testing.T, f *fixture) {
	t.Helper()
	entries, err := os.ReadDir(f.homes)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s survives in the homes directory", e.Name())
	}
}

func mustProcesses(t *testing.T, uid uint32) []int {
	t.Helper()
	pids, err := processesOf(uid)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// TestFactoryNeedsRoot: without root the factory fails and says why (run as another user).
func TestFactoryNeedsRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs only as a user other than root")
	}
	_, err := New(t.Context(), driver.Env{WorkDir: t.TempDir()}, Type, nil)
	if err == nil || !strings.Contains(err.Error(), "needs root") {
		t.Errorf("New as uid %d = %v, want an error saying it needs root", os.Geteuid(), err)
	}
}
