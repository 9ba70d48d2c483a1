//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
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
)

// The system side of the native driver tests: processes, cgroups, and the clean-up of what a
// failing test leaves behind.

// userPids lists the live processes (zombies are dead: they only wait for their parent, pid 1
// for a resource's orphans, to reap them) whose real, effective or saved uid is uid, sorted.
func userPids(t *testing.T, uid uint32) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue // exited meanwhile
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if state, ok := strings.CutPrefix(sc.Text(), "State:"); ok && strings.HasPrefix(strings.TrimSpace(state), "Z") {
				break
			}
			ids, ok := strings.CutPrefix(sc.Text(), "Uid:")
			if !ok {
				continue
			}
			if slices.Contains(strings.Fields(ids)[:3], strconv.FormatUint(uint64(uid), 10)) {
				pids = append(pids, pid)
			}
			break
		}
		f.Close()
	}
	slices.Sort(pids)
	return pids
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: the command may hold spaces and parentheses.
	_, rest, ok := strings.Cut(string(b), ") ")
	return ok && !strings.HasPrefix(rest, "Z")
}

// memoryLimits lists the memory limits of the cgroups the processes are in ("v1 <bytes>" or
// "v2 <bytes>"), for the log.
func memoryLimits(t *testing.T, pids []int) []string {
	t.Helper()
	var out []string
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 {
				continue
			}
			var files []string
			switch {
			case parts[0] == "0" && parts[1] == "":
				files = []string{"/sys/fs/cgroup" + parts[2] + "/memory.max", "/sys/fs/cgroup/unified" + parts[2] + "/memory.max"}
			case slices.Contains(strings.Split(parts[1], ","), "memory"):
				files = []string{"/sys/fs/cgroup/memory" + parts[2] + "/memory.limit_in_bytes"}
			}
			for _, f := range files {
				if v, err := os.ReadFile(f); err == nil {
					out = append(out, parts[2]+" "+filepath.Base(f)+"="+strings.TrimSpace(string(v)))
				}
			}
		}
		break // the processes of one resource share their cgroups
	}
	return out
}

// waitSleepers waits until uid runs exactly want "sleep 600" processes (what the test entry
// leaves running) and returns them.
func waitSleepers(t *testing.T, uid uint32, want int) []int {
	t.Helper()
	var pids, all []int
	if !poll(5*time.Second, func() bool {
		all = userPids(t, uid)
		pids = pids[:0]
		for _, pid := range all {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); string(b) == "sleep\x00600\x00" {
				pids = append(pids, pid)
			}
		}
		return len(pids) == want
	}) {
		t.Fatalf("uid %d runs %v, want %d \"sleep 600\"", uid, describePids(all), want)
	}
	return pids
}

// describePids is "pid:command line" of each process.
func describePids(pids []int) []string {
	out := make([]string, 0, len(pids))
	for _, pid := range pids {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, strconv.Itoa(pid)+":"+strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")))
	}
	return out
}

// nativeRecord is what this test reads of a record of the native driver (its doc.go):
// <workspace>/<user>.json.
type nativeRecord struct {
	Identifier string `json:"identifier"`
	UID        uint32 `json:"uid"`
	Layout     struct {
		Home    string            `json:"home"`
		Disks   map[string]string `json:"disks"`
		Cgroups []string          `json:"cgroups"`
	} `json:"layout"`
}

// nativeRecords reads the records of the node's native driver.
func nativeRecords(t *testing.T, n *fishNode) []nativeRecord {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(n.dir, "fish_native_workspace", "fish-*.json"))
	var recs []nativeRecord
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r nativeRecord
		if json.Unmarshal(b, &r) == nil && strings.HasPrefix(r.Identifier, "fish-") {
			recs = append(recs, r)
		}
	}
	return recs
}

// removeNativeLeftovers removes, after the node stopped, every user the node's driver still has
// a record of (a failed test): its processes, account, home, disks and cgroups.
func removeNativeLeftovers(t *testing.T, s *nativeSetup) {
	if s.n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, r := range nativeRecords(t, s.n) {
		t.Logf("clean-up: removing the left-over user %s", r.Identifier)
		if r.UID != 0 {
			for range 3 {
				for _, pid := range userPids(t, r.UID) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		// A node killed mid-allocation may leave a useradd running: retry until the account is gone.
		if !poll(10*time.Second, func() bool {
			_ = exec.CommandContext(ctx, "userdel", "--force", r.Identifier).Run()
			_ = exec.CommandContext(ctx, "groupdel", r.Identifier).Run()
			_, errU := user.Lookup(r.Identifier)
			_, errG := user.LookupGroup(r.Identifier)
			return errU != nil && errG != nil
		}) {
			t.Errorf("clean-up: cannot remove the user %s", r.Identifier)
		}
		for _, p := range append([]string{r.Layout.Home}, mapValues(r.Layout.Disks)...) {
			if p != "" && strings.Contains(p, r.Identifier) {
				_ = os.RemoveAll(p)
			}
		}
		for _, cg := range r.Layout.Cgroups {
			_ = syscall.Rmdir(cg)
		}
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
