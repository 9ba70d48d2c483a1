// Package hostinfo collects the facts about the machine a node runs on: the Node.definition
// object of the API (host, memory, CPUs, root disk and network interfaces, as reported by
// gopsutil), the default node identifiers matched by label node filters, and the CPU and RAM
// totals that local drivers size their capacity with.
package hostinfo

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

// RootDisk is the key of Definition.Disks under which the node's data disk is reported.
const RootDisk = "/"

// Definition is the Node.definition object; field JSON names are gopsutil's.
type Definition struct {
	Host   *host.InfoStat             `json:"host"`
	Memory *mem.VirtualMemoryStat     `json:"memory"`
	CPU    []cpu.InfoStat             `json:"cpu"`
	Disks  map[string]*disk.UsageStat `json:"disks"`
	Nets   []net.InterfaceStat        `json:"nets"`
}

// Collect gathers the facts. Disks holds one entry, key "/", with the usage of the root
// filesystem, or of the filesystem holding dataDir when dataDir is not empty. A collector that
// fails leaves its part nil and the others are still filled; the returned error joins every
// failure and is informational (the caller may log it at debug level). Nothing here sleeps or
// samples over time, so Collect takes milliseconds.
func Collect(ctx context.Context, dataDir string) (Definition, error) {
	var d Definition
	var errs []error

	if h, err := host.InfoWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("host: %w", err))
	} else {
		d.Host = h
	}

	if m, err := mem.VirtualMemoryWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("memory: %w", err))
	} else {
		d.Memory = m
	}

	if c, err := cpu.InfoWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cpu: %w", err))
	} else {
		d.CPU = c
	}

	path := dataDir
	if path == "" {
		path = RootDisk
	}
	if u, err := disk.UsageWithContext(ctx, path); err != nil {
		errs = append(errs, fmt.Errorf("disk %s: %w", path, err))
	} else {
		d.Disks = map[string]*disk.UsageStat{RootDisk: u}
	}

	if n, err := net.InterfacesWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("nets: %w", err))
	} else {
		d.Nets = n
	}

	return d, errors.Join(errs...)
}

// Identifiers returns the default node identifiers matched by label node filters, in this order:
// FishName:<nodeName>, HostName:<hostname>, OS:<os>, OSVersion:<platform version>,
// OSPlatform:<platform>, OSFamily:<platform family>, Arch:<kernel arch>. Without host facts the
// values are empty, except OS which is then the one the binary was built for.
func Identifiers(nodeName string, d Definition) []string {
	h := d.Host
	if h == nil {
		h = &host.InfoStat{OS: runtime.GOOS}
	}
	return []string{
		"FishName:" + nodeName,
		"HostName:" + h.Hostname,
		"OS:" + h.OS,
		"OSVersion:" + h.PlatformVersion,
		"OSPlatform:" + h.Platform,
		"OSFamily:" + h.PlatformFamily,
		"Arch:" + h.KernelArch,
	}
}
