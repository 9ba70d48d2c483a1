package executor

import (
	"context"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Reconcile runs once at start, before any election: it logs the allocations this node serves
// (their lifetimes and usage are picked up from the state) and destroys resources the drivers
// hold for this node that the state does not know (left by a crash between allocation and its
// record). Applications this node was allocating when it stopped are resumed by Run.
func (e *Executor) Reconcile(ctx context.Context) error {
	db := e.cfg.State()
	resources, err := db.NodeResources(ctx, e.cfg.NodeUID)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, r := range resources {
		known[r.Identifier] = true
		if w, err := db.WorkOf(ctx, r.ApplicationUID); err == nil && w.Status == model.StatusAllocated {
			e.log.Info("Fish: Found allocated resource to serve: " + r.UID.String())
		}
	}
	for name, drv := range e.cfg.Drivers() {
		inv, ok := drv.(driver.Inventory)
		if !ok {
			continue
		}
		ids, err := inv.Resources(ctx)
		if err != nil {
			e.log.Warn("unable to list the driver's resources", "driver", name, "err", err)
			continue
		}
		for _, id := range ids {
			if known[id] {
				continue
			}
			e.log.Info("destroying a resource the state does not know", "driver", name, "identifier", id)
			if err := inv.Destroy(ctx, id); err != nil {
				e.log.Error("destroy unknown resource", "driver", name, "identifier", id, "err", err)
			}
		}
	}
	return nil
}
