//go:build linux

// Package nativetest holds what the native driver's tests and the end-to-end tests share to
// look at the users the driver makes: the records it keeps in its workspace, the processes
// of a uid, and the forced removal of what a failing test leaves behind. It reads the
// driver's records as its package doc describes them, not through the driver's code, so a
// broken driver cannot hide its own leftovers. It is imported by tests only.
package nativetest

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// userName is the shape of every user the driver makes: "fish-" and 6 lowercase letters.
var userName = regexp.MustCompile(`^fish-[a-z]{6}$`)

// Record is what a test reads of a record of the native driver, <workspace>/<user>.json.
type Record struct {
	Identifier string `json:"identifier"`
	// UID is the account's uid, 0 while the driver did not know it yet.
	UID    uint32 `json:"uid"`
	Layout struct {
		Home    string            `json:"home"`
		Disks   map[string]string `json:"disks"`
		Cgroups []string          `json:"cgroups"`
	} `json:"layout"`
}

// Records reads the records in the driver's workspace directory, in name order. A record
// that cannot be read yet (being written) still names its user, with nothing else known.
func Records(tb testing.TB, workspace string) []Record {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(workspace, "fish-*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var recs []Record
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".json")
		if !userName.MatchString(id) {
			continue
		}
		var r Record
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &r) != nil || r.Identifier != id {
			r = Record{Identifier: id}
		}
		recs = append(recs, r)
	}
	return recs
}

// UserPids lists the live processes whose real, effective or saved uid is uid, sorted.
// Zombies are left out: they are dead and only wait for their parent (pid 1 for a resource's
// orphans) to reap them.
func UserPids(tb testing.TB, uid uint32) []int {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	want := strconv.FormatUint(uint64(uid), 10)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if uids, live := procUids(pid); live && slices.Contains(uids, want) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// procUids reads the real, effective and saved uid of process pid; live is false when it is
// gone or a zombie.
func procUids(pid int) (uids []string, live bool) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, false // exited meanwhile
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if state, ok := strings.CutPrefix(sc.Text(), "State:"); ok {
			if s := strings.TrimSpace(state); strings.HasPrefix(s, "Z") || strings.HasPrefix(s, "X") {
				return nil, false
			}
		}
		if ids, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			if f := strings.Fields(ids); len(f) >= 3 {
				return f[:3], true
			}
			return nil, true
		}
	}
	return nil, false
}

// RemoveUser removes by force what user r.Identifier left: its processes, account and group,
// home and disks, and cgroups. It is the clean-up after a failing test, not a check of the
// driver; the test fails when the account cannot be removed.
func RemoveUser(tb testing.TB, r Record) {
	tb.Helper()
	if !userName.MatchString(r.Identifier) {
		tb.Errorf("clean-up: %q is not a user of the native driver: left alone", r.Identifier)
		return
	}
	// The processes to kill are those of the account's uid. The record's uid is used only when
	// the account is gone already (its processes may live on), and only if no other account
	// has that uid now: a corrupted record must not name somebody else's processes.
	var uid uint32
	if u, err := user.Lookup(r.Identifier); err == nil {
		if n, err := strconv.ParseUint(u.Uid, 10, 32); err == nil {
			uid = uint32(n)
		}
	} else if _, err := user.LookupId(strconv.FormatUint(uint64(r.UID), 10)); err != nil {
		uid = r.UID
	}
	if uid != 0 {
		// A process that forks while the list is read escapes one round, not three.
		for range 3 {
			for _, pid := range UserPids(tb, uid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	// A node killed mid-allocation may leave a useradd running: retry until the account is gone.
	if !until(10*time.Second, func() bool {
		_ = exec.Command("userdel", "--force", r.Identifier).Run()
		_ = exec.Command("groupdel", r.Identifier).Run()
		_, errU := user.Lookup(r.Identifier)
		_, errG := user.LookupGroup(r.Identifier)
		return errU != nil && errG != nil
	}) {
		tb.Errorf("clean-up: cannot remove the user %s", r.Identifier)
	}
	paths := []string{r.Layout.Home}
	for _, d := range r.Layout.Disks {
		paths = append(paths, d)
	}
	for _, p := range paths {
		// A corrupted record names nothing but the user's own things.
		if p != "" && filepath.IsAbs(p) && strings.Contains(filepath.Base(p), r.Identifier) {
			_ = os.RemoveAll(p)
		}
	}
	for _, cg := range r.Layout.Cgroups {
		_ = syscall.Rmdir(cg)
	}
}

// until checks cond every 50 ms until it holds (true) or timeout passes (false).
func until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
