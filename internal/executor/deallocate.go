package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// deallocate tears down the resource of an application that no longer needs it: DEALLOCATE
// tasks first (they must see the resource), then the driver, retried with backoff.
func (e *Executor) deallocate(ctx context.Context, app model.UID) {
	db := e.cfg.State()
	w, err := db.WorkOf(ctx, app)
	if err != nil || !w.HasResource {
		return
	}
	res, err := db.ApplicationResource(ctx, app)
	if err != nil {
		return
	}
	e.stopTimer(app)
	log := e.log.With("app", app, "identifier", res.Identifier)
	drv, derr := e.resourceDriver(ctx, res)
	if derr == nil {
		if w.Status == model.StatusDeallocate {
			e.runTasks(ctx, w, res, drv)
		}
		for attempt := 1; ; attempt++ {
			derr = drv.Deallocate(ctx, res)
			if derr == nil || errors.Is(derr, driver.ErrNotFound) {
				derr = nil // gone is what we want
				break
			}
			if ctx.Err() != nil {
				return // shutting down: reconciled at the next start
			}
			if attempt >= e.cfg.DeallocAttempts {
				break
			}
			log.Warn("deallocation failed, will retry", "attempt", attempt, "err", derr)
			if !e.sleep(ctx, e.backoff(attempt)) {
				return
			}
		}
	}
	st := model.ApplicationState{UID: model.NewUID(e.cfg.NodeUID), CreatedAt: e.cfg.Now()}
	if derr != nil {
		st.Status, st.Description = model.StatusError, "Driver deallocate resource error:"+derr.Error()
		log.Error("deallocation failed for good", "err", derr)
	} else {
		st.Status, st.Description = model.StatusDeallocated, "Driver deallocated the resource"
		log.Info("Fish: Successful deallocation of the Application: " + app.String())
	}
	if err := e.record(ctx, command.ResourceDelete{ApplicationUID: app, State: st}); err != nil && !errors.Is(err, errGaveUp) {
		log.Error("record deallocation", "err", err)
	}
}

// resourceDriver finds the driver instance that made res, from the definition recorded when
// its application was elected (the label may be gone since).
func (e *Executor) resourceDriver(ctx context.Context, res model.Resource) (driver.Driver, error) {
	def, err := e.definition(ctx, res.ApplicationUID)
	if err != nil {
		return nil, err
	}
	name := def.Driver
	drv, ok := e.cfg.Drivers()[name]
	if !ok {
		return nil, fmt.Errorf("driver %s is not enabled on this node", name)
	}
	return drv, nil
}

// definition is the label definition the election chose for app.
func (e *Executor) definition(ctx context.Context, app model.UID) (model.LabelDefinition, error) {
	w, err := e.cfg.State().WorkOf(ctx, app)
	if err != nil {
		return model.LabelDefinition{}, fmt.Errorf("unable to read the application: %w", err)
	}
	def, ok := w.Def()
	if !ok {
		return def, fmt.Errorf("no definition recorded for application %s", app)
	}
	return def, nil
}

func (e *Executor) backoff(attempt int) time.Duration {
	d := e.cfg.Backoff << min(attempt-1, 16)
	return min(d, e.cfg.MaxBackoff)
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func (e *Executor) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
