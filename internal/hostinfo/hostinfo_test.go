package hostinfo

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/host"
)

// collect runs Collect on this machine and returns the facts as the API would show them.
func collect(t *testing.T, dataDir string) (Definition, map[string]any) {
	t.Helper()
	start := time.Now()
	d, err := Collect(context.Background(), dataDir)
	if err != nil {
		t.Logf("Collect reported (informational): %v", err)
	}
	// Generous bound so that -race and a busy CI machine do not flake; typically a few ms.
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Collect took %v, want it fast", took)
	}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return d, m
}

type kind int

const (
	str kind = iota
	num
	strs
)

// checkKeys asserts every key is present in obj with the JSON type of §4.13.
func checkKeys(t *testing.T, what string, obj any, keys map[string]kind) {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want an object", what, obj)
	}
	for k, want := range keys {
		v, ok := m[k]
		if !ok {
			t.Errorf("%s: key %q missing", what, k)
			continue
		}
		switch want {
		case str:
			if _, ok := v.(string); !ok {
				t.Errorf("%s.%s = %T, want string", what, k, v)
			}
		case num:
			if _, ok := v.(float64); !ok {
				t.Errorf("%s.%s = %T, want number", what, k, v)
			}
		case strs:
			if v == nil {
				continue // an interface without flags
			}
			arr, ok := v.([]any)
			if !ok {
				t.Errorf("%s.%s = %T, want array", what, k, v)
				continue
			}
			for _, e := range arr {
				if _, ok := e.(string); !ok {
					t.Errorf("%s.%s has %T, want strings", what, k, e)
				}
			}
		}
	}
}

func TestCollectJSON(t *testing.T) {
	d, m := collect(t, "")
	if d.Host == nil || d.Memory == nil || len(d.CPU) == 0 {
		t.Fatalf("host %v, memory %v, cpu %d: want all collected", d.Host, d.Memory, len(d.CPU))
	}
	for _, k := range []string{"host", "memory", "cpu", "disks", "nets"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing", k)
		}
	}

	checkKeys(t, "host", m["host"], map[string]kind{
		"hostname": str, "uptime": num, "bootTime": num, "procs": num, "os": str,
		"platform": str, "platformFamily": str, "platformVersion": str, "kernelVersion": str,
		"kernelArch": str, "virtualizationSystem": str, "virtualizationRole": str, "hostId": str,
	})
	checkKeys(t, "memory", m["memory"], map[string]kind{
		"total": num, "available": num, "used": num, "usedPercent": num, "free": num,
	})
	cpus := m["cpu"].([]any)
	checkKeys(t, "cpu[0]", cpus[0], map[string]kind{
		"cpu": num, "vendorId": str, "family": str, "model": str, "stepping": num,
		"physicalId": str, "coreId": str, "cores": num, "modelName": str, "mhz": num,
		"cacheSize": num, "flags": strs, "microcode": str,
	})
	disks, ok := m["disks"].(map[string]any)
	if !ok {
		t.Fatalf("disks = %T, want object", m["disks"])
	}
	checkKeys(t, "disks./", disks["/"], map[string]kind{
		"path": str, "fstype": str, "total": num, "free": num, "used": num, "usedPercent": num,
		"inodesTotal": num, "inodesUsed": num, "inodesFree": num, "inodesUsedPercent": num,
	})
	nets, ok := m["nets"].([]any)
	if !ok || len(nets) == 0 {
		t.Fatalf("nets = %v, want a non-empty array", m["nets"])
	}
	for _, n := range nets {
		checkKeys(t, "net", n, map[string]kind{
			"index": num, "mtu": num, "name": str, "hardwareAddr": str, "flags": strs,
		})
		addrs, _ := n.(map[string]any)["addrs"].([]any)
		for _, a := range addrs {
			checkKeys(t, "net.addrs", a, map[string]kind{"addr": str})
			if addr := a.(map[string]any)["addr"].(string); !strings.Contains(addr, "/") {
				t.Errorf("addr %q, want ip/prefix", addr)
			}
		}
	}
}

func TestCollectDataDir(t *testing.T) {
	dir := t.TempDir()
	d, _ := collect(t, dir)
	u := d.Disks[RootDisk]
	if u == nil {
		t.Fatalf("disks = %v, want key %q", d.Disks, RootDisk)
	}
	if u.Path != dir {
		t.Errorf("disk path = %q, want the data dir %q", u.Path, dir)
	}
	if len(d.Disks) != 1 {
		t.Errorf("disks has %d entries, want 1", len(d.Disks))
	}
}

func TestCollectMissingDataDir(t *testing.T) {
	d, err := Collect(context.Background(), t.TempDir()+"/missing")
	if err == nil {
		t.Fatal("want an error for a missing data dir")
	}
	if d.Disks != nil {
		t.Errorf("disks = %v, want nil", d.Disks)
	}
	if d.Host == nil || d.Memory == nil {
		t.Error("one failing collector must not drop the others")
	}
}

func TestIdentifiers(t *testing.T) {
	tests := []struct {
		name string
		d    Definition
		want []string
	}{
		{
			name: "full",
			d: Definition{Host: &host.InfoStat{
				Hostname: "build-01", OS: "linux", Platform: "ubuntu", PlatformFamily: "debian",
				PlatformVersion: "22.04", KernelArch: "x86_64",
			}},
			want: []string{
				"FishName:node-1", "HostName:build-01", "OS:linux", "OSVersion:22.04",
				"OSPlatform:ubuntu", "OSFamily:debian", "Arch:x86_64",
			},
		},
		{
			name: "no host facts",
			want: []string{
				"FishName:node-1", "HostName:", "OS:" + runtime.GOOS, "OSVersion:",
				"OSPlatform:", "OSFamily:", "Arch:",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Identifiers("node-1", tt.d)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Identifiers = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIdentifiersThisHost(t *testing.T) {
	d, _ := collect(t, "")
	ids := Identifiers("me", d)
	if ids[1] != "HostName:"+d.Host.Hostname || ids[2] != "OS:"+runtime.GOOS {
		t.Errorf("Identifiers = %q", ids)
	}
}

func TestTotals(t *testing.T) {
	if n := TotalCPU(); n < 1 || n < uint32(runtime.NumCPU()) {
		t.Errorf("TotalCPU = %d, runtime.NumCPU = %d", n, runtime.NumCPU())
	}
	d, _ := collect(t, "")
	if got, want := TotalRAMGB(), uint32(d.Memory.Total>>30); got != want {
		t.Errorf("TotalRAMGB = %d, want %d", got, want)
	}
}
