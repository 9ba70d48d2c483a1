package driver

import "fmt"

// CapacityConfig is the part of a local driver's node-level configuration that sizes its
// capacity from the host's (drivers.md §3.1, §4.1). A driver embeds it in its Config, so the
// keys decode beside the driver's own and strict decoding still rejects unknown ones.
type CapacityConfig struct {
	// CPUAlter and RAMAlter (GB) are added to the host's totals; a negative amount keeps some
	// for the host and must leave at least one.
	CPUAlter int `json:"cpu_alter"`
	RAMAlter int `json:"ram_alter"`
	// CPUOverbook and RAMOverbook (GB) are the extra amounts overbook-tolerant tenants may use.
	CPUOverbook uint32 `json:"cpu_overbook"`
	RAMOverbook uint32 `json:"ram_overbook"`
}

// Limits applies the config to the host's totals (CPUs and RAM GB): the alter amounts are
// added, the overbook amounts carried over. An alter that leaves less than one is an
// *AlterError.
func (c CapacityConfig) Limits(hostCPU, hostRAM uint32) (Limits, error) {
	cpu, err := ApplyAlter("cpu_alter", c.CPUAlter, hostCPU)
	if err != nil {
		return Limits{}, err
	}
	ram, err := ApplyAlter("ram_alter", c.RAMAlter, hostRAM)
	if err != nil {
		return Limits{}, err
	}
	return Limits{CPU: cpu, RAM: ram, CPUOverbook: c.CPUOverbook, RAMOverbook: c.RAMOverbook}, nil
}

// ApplyAlter adds alter to total, the host's amount, capping the sum at the largest uint32.
// The sum must be at least one (|alter| < total for an alter of zero or less), else the error
// is an *AlterError naming key.
func ApplyAlter(key string, alter int, total uint32) (uint32, error) {
	// Clamped to ±2³², alter cannot overflow the sum and still decides it.
	v := int64(total) + min(max(int64(alter), -1<<32), 1<<32)
	if v < 1 {
		return 0, &AlterError{Key: key, Alter: alter, Total: total}
	}
	return uint32(min(v, int64(^uint32(0)))), nil
}

// AlterError is a cpu_alter or ram_alter that leaves nothing of the host's total. A driver
// may word it its own way from the fields.
type AlterError struct {
	Key   string // the config key: "cpu_alter" or "ram_alter"
	Alter int    // the configured amount
	Total uint32 // the host's total it applies to
}

func (e *AlterError) Error() string {
	return fmt.Sprintf("|%s| (%d) must be less than the host total %d", e.Key, e.Alter, e.Total)
}
