package hostinfo

import (
	"runtime"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
)

// bytesPerGB is the unit of RAM in label resources and driver limits.
const bytesPerGB = 1 << 30

// TotalCPU returns the number of logical CPUs of the machine (hardware threads, not cores).
// When the system cannot tell, it falls back to the CPUs this process may use.
func TotalCPU() uint32 {
	n, err := cpu.Counts(true)
	if err != nil || n <= 0 {
		n = runtime.NumCPU()
	}
	return uint32(n)
}

// TotalRAMGB returns the machine's total memory in whole GB (2^30 bytes, rounded down), or 0
// when it cannot be read.
func TotalRAMGB() uint32 {
	m, err := mem.VirtualMemory()
	if err != nil {
		return 0
	}
	return uint32(m.Total / bytesPerGB)
}
