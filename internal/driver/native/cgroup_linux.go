//go:build linux

package native

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// CgroupNone as cgroup_path disables cgroups.
const CgroupNone = "none"

// cpuPeriod is the CPU bandwidth period, in microseconds.
const cpuPeriod = 100000

// cgroups is where the driver puts its users' cgroups. Every user gets a cgroup v2 directory
// when the unified hierarchy is writable: the entry is born in it, cgroup.kill ends all of it
// and, when the memory and cpu controllers are enabled there, it carries the limits. On hybrid
// hosts whose memory or cpu controller is bound to a version 1 hierarchy, the limits are set
// in a per-user directory of that hierarchy instead, under the node's own cgroup.
type cgroups struct {
	log          *slog.Logger
	v2           string // parent of the users' v2 cgroups, "" = none
	v2Mem, v2CPU bool   // controllers enabled for the users' v2 cgroups
	v1Mem, v1CPU string // parents of the users' v1 cgroups, "" = none
}

// userCgroup is the cgroups of one user.
type userCgroup struct {
	v2 string   // "" = none
	v1 []string // directories the entry must join
}

// mountInfo is one cgroup file system mount.
type mountInfo struct {
	root, point string
	opts        []string // super options: the v1 controllers
}

// detectCgroups finds what this host offers and prepares the parent directories. It never
// fails: without cgroups the driver still works, and says so.
func detectCgroups(path string, log *slog.Logger) *cgroups {
	c := &cgroups{log: log}
	if path == CgroupNone {
		log.Warn("cgroups disabled by cgroup_path: no CPU or memory limits, processes are found by uid")
		return c
	}
	v2, v1, err := cgroupMounts()
	if err != nil {
		log.Warn("cgroups unavailable: no CPU or memory limits, processes are found by uid", "err", err)
		return c
	}
	own := ownCgroups()
	if v2.point != "" {
		c.setupV2(v2, path)
	}
	if !c.v2Mem {
		c.v1Mem = c.setupV1(v1, own, "memory", "memory.limit_in_bytes")
	}
	if !c.v2CPU {
		c.v1CPU = c.setupV1(v1, own, "cpu", "cpu.cfs_quota_us")
	}
	mode := func(v2 bool, v1 string) string {
		switch {
		case v2:
			return "cgroup v2"
		case v1 != "":
			return "cgroup v1"
		}
		return "none"
	}
	log.Info("native driver cgroups", "v2", c.v2, "memory_limit", mode(c.v2Mem, c.v1Mem), "cpu_limit", mode(c.v2CPU, c.v1CPU))
	if c.v2 == "" {
		log.Warn("cgroup v2 unavailable: processes of a user are found by uid only")
	}
	if !c.v2Mem && c.v1Mem == "" {
		log.Warn("memory controller unavailable: the ram of a definition is not enforced")
	}
	if !c.v2CPU && c.v1CPU == "" {
		log.Warn("cpu controller unavailable: the cpu of a definition is not enforced")
	}
	return c
}

// setupV2 creates the parent directory of the users' cgroups and enables the memory and cpu
// controllers down to it where the hierarchy offers them.
func (c *cgroups) setupV2(m mountInfo, path string) {
	if path == "" {
		path = filepath.Join(m.point, "fish")
	}
	path = filepath.Clean(path)
	rel, err := filepath.Rel(m.point, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		c.log.Warn("cgroup_path is not below the cgroup v2 mount", "cgroup_path", path, "mount", m.point)
		return
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		c.log.Warn("cannot create the cgroup v2 parent", "path", path, "err", err)
		return
	}
	if _, err := os.Stat(filepath.Join(path, "cgroup.procs")); err != nil {
		c.log.Warn("cgroup v2 parent is not a cgroup", "path", path, "err", err)
		return
	}
	c.v2 = path
	// Enable each controller on every level from the mount down to the parent; a level that
	// refuses (for example a populated cgroup: "no internal processes") stops it.
	dirs := []string{m.point}
	for cur, parts := m.point, strings.Split(rel, string(filepath.Separator)); len(parts) > 0; parts = parts[1:] {
		cur = filepath.Join(cur, parts[0])
		dirs = append(dirs, cur)
	}
	offered := readString(filepath.Join(m.point, "cgroup.controllers"))
	for _, ctl := range []string{"memory", "cpu"} {
		if !hasWord(offered, ctl) {
			continue // bound to a version 1 hierarchy, or not built in
		}
		for _, dir := range dirs {
			if hasWord(readString(filepath.Join(dir, "cgroup.subtree_control")), ctl) {
				continue
			}
			if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+ctl); err != nil {
				c.log.Debug("cannot enable cgroup controller", "controller", ctl, "dir", dir, "err", err)
				break
			}
		}
	}
	enabled := readString(filepath.Join(path, "cgroup.subtree_control"))
	c.v2Mem, c.v2CPU = hasWord(enabled, "memory"), hasWord(enabled, "cpu")
}

// setupV1 returns the parent directory for users' cgroups of the v1 controller ctl, below
// the node's own cgroup of that hierarchy, or "" when there is none.
func (c *cgroups) setupV1(mounts []mountInfo, own map[string]string, ctl, probe string) string {
	for _, m := range mounts {
		if !slices.Contains(m.opts, ctl) {
			continue
		}
		cur, ok := "", false
		for hierarchy, path := range own {
			if slices.Contains(strings.Split(hierarchy, ","), ctl) {
				cur, ok = path, true
			}
		}
		if !ok {
			return ""
		}
		rel, ok := strings.CutPrefix(cur, m.root)
		if !ok {
			return ""
		}
		dir := filepath.Join(m.point, rel, "fish")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			c.log.Debug("cannot create a cgroup v1 parent", "controller", ctl, "dir", dir, "err", err)
			return ""
		}
		if _, err := os.Stat(filepath.Join(dir, probe)); err != nil {
			return ""
		}
		return dir
	}
	return ""
}

// dirs are the cgroup directories of user name, whether they exist or not.
func (c *cgroups) dirs(name string) []string {
	var out []string
	for _, parent := range []string{c.v2, c.v1Mem, c.v1CPU} {
		if parent != "" {
			out = append(out, filepath.Join(parent, name))
		}
	}
	return out
}

// create makes the cgroups of user name with the limits.
func (c *cgroups) create(name string, lim limits) (userCgroup, error) {
	var u userCgroup
	if c.v2 != "" {
		dir := filepath.Join(c.v2, name)
		if err := mkCgroup(dir); err != nil {
			return u, err
		}
		if lim.RAM > 0 && c.v2Mem {
			if err := writeFile(filepath.Join(dir, "memory.max"), strconv.FormatUint(uint64(lim.RAM)<<30, 10)); err != nil {
				return u, err
			}
			// Without swap the limit is the limit (the file exists only when swap accounting does).
			if err := writeFile(filepath.Join(dir, "memory.swap.max"), "0"); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return u, err
			}
		}
		if lim.CPU > 0 && c.v2CPU {
			if err := writeFile(filepath.Join(dir, "cpu.max"), fmt.Sprintf("%d %d", uint64(lim.CPU)*cpuPeriod, cpuPeriod)); err != nil {
				return u, err
			}
		}
		u.v2 = dir
	}
	if c.v1Mem != "" && lim.RAM > 0 {
		dir := filepath.Join(c.v1Mem, name)
		if err := mkCgroup(dir); err != nil {
			return u, err
		}
		bytes := strconv.FormatUint(uint64(lim.RAM)<<30, 10)
		if err := writeFile(filepath.Join(dir, "memory.limit_in_bytes"), bytes); err != nil {
			return u, err
		}
		// memory+swap must not exceed memory; absent without swap accounting.
		if err := writeFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), bytes); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return u, err
		}
		u.v1 = append(u.v1, dir)
	}
	if c.v1CPU != "" && lim.CPU > 0 {
		dir := filepath.Join(c.v1CPU, name)
		if err := mkCgroup(dir); err != nil {
			return u, err
		}
		if err := writeFile(filepath.Join(dir, "cpu.cfs_period_us"), strconv.Itoa(cpuPeriod)); err != nil {
			return u, err
		}
		if err := writeFile(filepath.Join(dir, "cpu.cfs_quota_us"), strconv.FormatUint(uint64(lim.CPU)*cpuPeriod, 10)); err != nil {
			return u, err
		}
		u.v1 = append(u.v1, dir)
	}
	return u, nil
}

func mkCgroup(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create cgroup: %w", err)
	}
	return nil
}

// kill kills every process of the cgroup v2 directories among dirs that support cgroup.kill
// and reports whether it could.
func killCgroups(dirs []string) bool {
	killed := false
	for _, dir := range dirs {
		if err := writeFile(filepath.Join(dir, "cgroup.kill"), "1"); err == nil {
			killed = true
		}
	}
	return killed
}

// remove removes the cgroup directories of user name, waiting for their last processes to
// leave (a cgroup with processes cannot be removed).
func (c *cgroups) remove(ctx context.Context, name string, dirs []string) error {
	var errs []error
	for _, dir := range dirs {
		if filepath.Base(dir) != name || !isCgroupFS(dir) {
			errs = append(errs, fmt.Errorf("refusing to remove cgroup %q: not a cgroup of %s", dir, name))
			continue
		}
		err := poll(ctx, func() (bool, error) {
			err := syscall.Rmdir(dir)
			switch {
			case err == nil || errors.Is(err, syscall.ENOENT):
				return true, nil
			case errors.Is(err, syscall.EBUSY):
				killCgroups([]string{dir})
				return false, nil
			}
			return false, err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}

// The file system magic numbers of cgroupfs (statfs(2)).
const (
	cgroup2Magic = 0x63677270
	cgroup1Magic = 0x27e0eb
)

// isCgroupFS reports whether dir is on a cgroup file system, or does not exist (nothing to
// remove then).
func isCgroupFS(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return errors.Is(err, syscall.ENOENT)
	}
	return st.Type == cgroup2Magic || st.Type == cgroup1Magic
}

// cgroupMounts reads the cgroup mounts of this mount namespace.
func cgroupMounts() (v2 mountInfo, v1 []mountInfo, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return v2, nil, err
	}
	defer f.Close()
	return parseMountInfo(f)
}

// parseMountInfo picks the first cgroup2 mount and every cgroup (v1) mount out of a
// /proc/<pid>/mountinfo table.
func parseMountInfo(r io.Reader) (v2 mountInfo, v1 []mountInfo, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// id parent major:minor root mount-point options [optional...] - type source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 3 {
			continue
		}
		m := mountInfo{root: unescapeMount(a[3]), point: unescapeMount(a[4])}
		switch b[0] {
		case "cgroup2":
			if v2.point == "" {
				v2 = m
			}
		case "cgroup":
			for _, o := range strings.Split(b[2], ",") {
				if o != "rw" && o != "ro" && !strings.Contains(o, "=") {
					m.opts = append(m.opts, o)
				}
			}
			v1 = append(v1, m)
		}
	}
	return v2, v1, sc.Err()
}

// ownCgroups maps each v1 hierarchy ("cpu,cpuacct") of this process to its cgroup path.
func ownCgroups() map[string]string {
	own := map[string]string{}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return own
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] != "" {
			own[parts[1]] = parts[2]
		}
	}
	return own
}

// unescapeMount undoes the octal escapes of mountinfo (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func hasWord(s, w string) bool { return slices.Contains(strings.Fields(s), w) }
