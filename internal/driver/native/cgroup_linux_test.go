//go:build linux

package native

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMountInfo(t *testing.T) {
	const table = `25 30 0:22 / /sys rw,nosuid - sysfs sysfs rw
34 25 0:29 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
35 34 0:30 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
38 34 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:15 - cgroup cgroup rw,cpu,cpuacct
39 34 0:34 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
40 34 0:35 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
41 34 0:36 / /mnt/with\040space rw - cgroup2 cgroup2 rw
`
	v2, v1, err := parseMountInfo(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	if want := (mountInfo{root: "/", point: "/sys/fs/cgroup/unified"}); !reflect.DeepEqual(v2, want) {
		t.Errorf("v2 = %+v, want %+v", v2, want)
	}
	want := []mountInfo{
		{root: "/", point: "/sys/fs/cgroup/cpu,cpuacct", opts: []string{"cpu", "cpuacct"}},
		{root: "/docker/abc", point: "/sys/fs/cgroup/memory", opts: []string{"memory"}},
		{root: "/", point: "/sys/fs/cgroup/systemd", opts: []string{"xattr"}},
	}
	if !reflect.DeepEqual(v1, want) {
		t.Errorf("v1 = %+v, want %+v", v1, want)
	}
	if got := unescapeMount(`/mnt/with\040space`); got != "/mnt/with space" {
		t.Errorf("unescapeMount = %q", got)
	}
}

// TestCgroupLimits checks the control files written for each hierarchy, on a fake cgroupfs
// (the real one of a test host may offer only some controllers).
func TestCgroupLimits(t *testing.T) {
	root := t.TempDir()
	c := &cgroups{
		log: slog.New(slog.DiscardHandler),
		v2:  filepath.Join(root, "v2"), v2Mem: true, v2CPU: true,
		v1Mem: filepath.Join(root, "mem"), v1CPU: filepath.Join(root, "cpu"),
	}
	const name = "fish-abcdef"
	files := map[string]string{
		"v2/" + name + "/memory.max":                   "3221225472",
		"v2/" + name + "/memory.swap.max":              "0",
		"v2/" + name + "/cpu.max":                      "200000 100000",
		"mem/" + name + "/memory.limit_in_bytes":       "3221225472",
		"mem/" + name + "/memory.memsw.limit_in_bytes": "3221225472",
		"cpu/" + name + "/cpu.cfs_period_us":           "100000",
		"cpu/" + name + "/cpu.cfs_quota_us":            "200000",
	}
	for f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u, err := c.create(name, limits{CPU: 2, RAM: 3})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if u.v2 != filepath.Join(root, "v2", name) || len(u.v1) != 2 {
		t.Errorf("userCgroup = %+v", u)
	}
	for f, want := range files {
		if got := readString(filepath.Join(root, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	if got := c.dirs(name); len(got) != 3 {
		t.Errorf("dirs = %v, want 3", got)
	}
	// No limits: only the v2 cgroup (for containment and cgroup.kill).
	u, err = c.create(name, limits{})
	if err != nil || u.v2 == "" || len(u.v1) != 0 {
		t.Errorf("create without limits = %+v, %v", u, err)
	}
}
