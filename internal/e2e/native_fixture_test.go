//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver/native/nativetest"
)

// The system side of the native driver tests: processes, cgroups, and the clean-up of what a
// failing test leaves behind.

// userPids lists the live processes whose real, effective or saved uid is uid, sorted.
func userPids(t *testing.T, uid uint32) []int {
	t.Helper()
	return nativetest.UserPids(t, uid)
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

// nativeRecord is what this test reads of a record of the native driver.
type nativeRecord = nativetest.Record

// nativeRecords reads the records of the node's native driver (in its default workspace).
func nativeRecords(t *testing.T, n *fishNode) []nativeRecord {
	t.Helper()
	return nativetest.Records(t, filepath.Join(n.dir, "fish_native_workspace"))
}

// removeNativeLeftovers removes, after the node stopped, every user the node's driver still has
// a record of (a failed test): its processes, account, home, disks and cgroups.
func removeNativeLeftovers(t *testing.T, s *nativeSetup) {
	t.Helper()
	if s.n == nil {
		return
	}
	for _, r := range nativeRecords(t, s.n) {
		t.Logf("clean-up: removing the left-over user %s", r.Identifier)
		nativetest.RemoveUser(t, r)
	}
}
