//go:build linux

package native

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// killTimeout bounds the wait for the processes of a user to be gone.
const killTimeout = 30 * time.Second

// killUser stops every process of acct. Three nets, repeated until /proc shows none of its
// processes:
//   - cgroup.kill on its cgroup v2 kills everything born in it, atomically;
//   - kill(-1, SIGKILL) sent by a process running as the user reaches every process the user
//     may signal, in one pass the kernel makes with new forks held off, so a double-forked or
//     setsid'ed process, or a fork loop, has no way out;
//   - every remaining process whose real, effective or saved uid is the user's gets SIGKILL.
func killUser(ctx context.Context, acct account, sh string, cgroupDirs []string) error {
	ctx, cancel := context.WithTimeout(ctx, killTimeout)
	defer cancel()
	var left []int
	err := poll(ctx, func() (bool, error) {
		killCgroups(cgroupDirs)
		killAsUser(ctx, acct, sh)
		pids, err := processesOf(acct.UID)
		if err != nil {
			return false, err
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		left = pids
		return len(pids) == 0, nil
	})
	if err != nil && len(left) > 0 {
		return fmt.Errorf("processes %v of %s survive: %w", left, acct.Name, err)
	}
	return err
}

// killAsUser runs `kill -9 -1` as the user; the shell itself is spared by the kernel.
func killAsUser(ctx context.Context, acct account, sh string) {
	cmd := exec.CommandContext(ctx, sh, "-c", "kill -9 -1")
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=" + defaultPath}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: acct.UID, Gid: acct.GID, Groups: []uint32{}},
	}
	cmd.Run() // "no process" is an error for kill; only the /proc scan decides
}

// processesOf lists the live (non-zombie) processes with uid as real, effective or saved uid.
func processesOf(uid uint32) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	want := strconv.FormatUint(uint64(uid), 10)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 {
			continue
		}
		uids, state, ok := procStatus(pid)
		if !ok || state == "Z" || state == "X" {
			continue
		}
		if slices.Contains(uids, want) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// procStatus reads the real, effective and saved uid and the state of a process; ok is false
// when the process is gone.
func procStatus(pid int) (uids []string, state string, ok bool) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, found := strings.CutPrefix(line, "State:"); found {
			if fields := strings.Fields(v); len(fields) > 0 {
				state = fields[0]
			}
		}
		if v, found := strings.CutPrefix(line, "Uid:"); found {
			if fields := strings.Fields(v); len(fields) >= 3 {
				uids = fields[:3]
			}
			return uids, state, true // Uid: comes after State:
		}
	}
	return nil, "", false
}

// sweepDepth bounds the descent into the temporary directories.
const sweepDepth = 32

// removeOwned removes every file acct owns below roots, and the given files when acct owns
// them. Only directories the user could enter are searched: a file of the user cannot be
// anywhere else. It must run after the user's processes are gone, so that nothing swaps a
// directory for a link meanwhile.
func removeOwned(ctx context.Context, acct account, roots, files []string) error {
	var errs []error
	for _, root := range roots {
		if err := sweep(ctx, acct, root, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	for _, f := range files {
		if st, err := os.Lstat(f); err == nil && ownedBy(st, acct.UID) {
			if err := os.RemoveAll(f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func sweep(ctx context.Context, acct account, dir string, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		info, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		switch {
		case ownedBy(info, acct.UID):
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
			}
		case info.IsDir() && depth < sweepDepth && enterable(info, acct):
			if err := sweep(ctx, acct, p, depth+1); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func ownedBy(info fs.FileInfo, uid uint32) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Uid == uid
}

// enterable reports whether acct may search the directory info.
func enterable(info fs.FileInfo, acct account) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	perm := info.Mode().Perm()
	if perm&0o001 != 0 {
		return true
	}
	return perm&0o010 != 0 && (st.Gid == acct.GID || slices.Contains(acct.Groups, st.Gid))
}
