//go:build linux

package nativetest

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestRemoveUser: a user left with a running process, a home, a disk and a record in the
// workspace is listed by Records and removed whole by RemoveUser.
func TestRemoveUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creates a user: needs root (run go test as root)")
	}
	name := randomName()
	if out, err := exec.Command("useradd", "-M", "-N", "-g", "nogroup", name).CombinedOutput(); err != nil {
		t.Skipf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("userdel", "--force", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)

	homes := t.TempDir()
	home, disk := filepath.Join(homes, name), filepath.Join(homes, name+"-disk-data")
	other := filepath.Join(homes, "other")
	for _, d := range []string{home, disk, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sleeper := exec.Command("sleep", "600")
	sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = sleeper.Wait(); close(waited) }()
	t.Cleanup(func() { _ = sleeper.Process.Kill(); <-waited })
	if pids := UserPids(t, uint32(uid)); !slices.Contains(pids, sleeper.Process.Pid) {
		t.Fatalf("UserPids(%d) = %v, want it to hold %d", uid, pids, sleeper.Process.Pid)
	}

	ws := t.TempDir()
	rec := map[string]any{"identifier": name, "uid": uid,
		"layout": map[string]any{"home": home, "disks": map[string]string{"data": disk, "bad": other}}}
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(ws, name+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	// Being written: named by its file, nothing else known.
	if err := os.WriteFile(filepath.Join(ws, "fish-zzzzzz.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	recs := Records(t, ws)
	if len(recs) != 2 || recs[0].Identifier != name || recs[0].UID != uint32(uid) || recs[0].Layout.Home != home ||
		recs[1].Identifier != "fish-zzzzzz" || recs[1].UID != 0 {
		t.Fatalf("Records = %+v", recs)
	}

	RemoveUser(t, recs[0])
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatal("the user's process survives RemoveUser")
	}
	if _, err := user.Lookup(name); err == nil {
		t.Errorf("user %s survives", name)
	}
	for _, p := range []string{home, disk} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s survives: %v", p, err)
		}
	}
	if _, err := os.Lstat(other); err != nil {
		t.Errorf("a path that is not the user's was removed: %v", err)
	}
}

// randomName is a user name of the driver's shape that no other test uses.
func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return "fish-" + string(b)
}
