package driver

import "github.com/aquarium-fish/aquarium-fish/internal/model"

// Usage is what a node's local allocations consume. The tenancy flags are those of the first
// tenant: they decide whether later tenants may share and overbook.
type Usage struct {
	CPU          uint32
	RAM          uint32
	Multitenancy bool
	CPUOverbook  bool
	RAMOverbook  bool
}

// Empty reports whether nothing is allocated.
func (u Usage) Empty() bool { return u.CPU == 0 && u.RAM == 0 }

// Add accounts one more allocation of r. The first tenant's tenancy flags are kept.
func (u Usage) Add(r model.Resources) Usage {
	if u.Empty() {
		u.Multitenancy, u.CPUOverbook, u.RAMOverbook = r.Multitenancy, r.CPUOverbook, r.RAMOverbook
	}
	u.CPU += r.CPU
	u.RAM += r.RAM
	return u
}

// Limits are a local driver's totals and overbook allowances.
type Limits struct {
	CPU, RAM                 uint32
	CPUOverbook, RAMOverbook uint32
}

// Capacity is the arithmetic of behaviour.md §2.4 shared by local drivers: how many more
// instances of r fit into lim given usage. It never underflows.
func Capacity(lim Limits, usage Usage, r model.Resources) int {
	if r.CPU == 0 || r.RAM == 0 || r.CPU > lim.CPU || r.RAM > lim.RAM {
		return 0
	}
	mods := usage
	if usage.Empty() {
		mods = Usage{Multitenancy: r.Multitenancy, CPUOverbook: r.CPUOverbook, RAMOverbook: r.RAMOverbook}
	}
	totalCPU, totalRAM := uint64(lim.CPU), uint64(lim.RAM)
	if mods.Multitenancy && r.Multitenancy {
		if mods.CPUOverbook && r.CPUOverbook {
			totalCPU += uint64(lim.CPUOverbook)
		}
		if mods.RAMOverbook && r.RAMOverbook {
			totalRAM += uint64(lim.RAMOverbook)
		}
	}
	if uint64(usage.CPU) >= totalCPU || uint64(usage.RAM) >= totalRAM {
		return 0
	}
	return int(min((totalCPU-uint64(usage.CPU))/uint64(r.CPU), (totalRAM-uint64(usage.RAM))/uint64(r.RAM)))
}
