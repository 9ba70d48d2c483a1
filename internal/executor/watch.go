package executor

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// taskRetry is how soon a task whose result stayed {} is tried again.
const taskRetry = 2 * time.Second

// unknownTask is the exact result of a task the driver does not have (sic).
var unknownTask = json.RawMessage(`{"error":"task not availble in driver"}`)

// watch keeps an allocated resource's lifetime timer and runs its ALLOCATED tasks.
func (e *Executor) watch(ctx context.Context, w state.Work) {
	db := e.cfg.State()
	res, err := db.ApplicationResource(ctx, w.UID)
	if err != nil {
		return
	}
	e.ensureTimer(ctx, w, res)
	tasks, err := db.PendingTasks(ctx, w.UID, model.StatusAllocated)
	if err != nil || len(tasks) == 0 {
		return
	}
	e.start(ctx, w.UID, func(ctx context.Context, app model.UID) {
		drv, err := e.resourceDriver(ctx, res)
		if err != nil {
			e.log.Warn("tasks wait for their driver", "app", app, "err", err)
			return
		}
		e.runTasks(ctx, w, res, drv)
	})
}

// ensureTimer arms the lifetime timer of an allocated resource once. The lifetime counts from
// the resource's creation, also across restarts.
func (e *Executor) ensureTimer(ctx context.Context, w state.Work, res model.Resource) {
	e.mu.Lock()
	_, armed := e.timers[w.UID]
	e.mu.Unlock()
	if armed {
		return
	}
	lifetime := e.lifetime(ctx, res)
	if lifetime <= 0 {
		e.mu.Lock()
		e.timers[w.UID] = time.NewTimer(time.Duration(1<<63 - 1)) // a placeholder: never fires
		e.mu.Unlock()
		e.log.Info("Fish: Resource have no lifetime set and will live until deallocated by user: " + w.UID.String())
		return
	}
	expiry := res.CreatedAt.Add(lifetime)
	e.log.Info("Fish: Resource " + w.UID.String() + " will be deallocated by timeout in " + time.Until(expiry).Round(time.Millisecond).String() + " (" + expiry.Format(time.RFC3339) + ")")
	app := w.UID
	t := time.AfterFunc(time.Until(expiry), func() {
		_, err := e.apply(ctx, command.ApplicationState{
			State: model.ApplicationState{
				UID:            model.NewUID(e.cfg.NodeUID),
				ApplicationUID: app,
				CreatedAt:      e.cfg.Now(),
				Status:         model.StatusDeallocate,
				Description:    "Resource lifetime timeout reached:" + lifetime.String(),
			},
			From: []model.Status{model.StatusAllocated},
			Node: e.cfg.NodeUID,
		})
		if err == nil {
			e.log.Info("lifetime reached", "app", app, "lifetime", lifetime)
		}
	})
	e.mu.Lock()
	e.timers[w.UID] = t
	e.mu.Unlock()
}

func (e *Executor) stopTimer(app model.UID) {
	e.mu.Lock()
	if t, ok := e.timers[app]; ok {
		t.Stop()
		delete(e.timers, app)
	}
	if t, ok := e.retries[app]; ok {
		t.Stop()
		delete(e.retries, app)
	}
	e.mu.Unlock()
}

// lifetime is the definition's lifetime, else the node default, else none. A definition lifetime
// that parses (even "0" or negative) is used as is: zero or less means no expiry.
func (e *Executor) lifetime(ctx context.Context, res model.Resource) time.Duration {
	if def, err := e.definition(ctx, res.ApplicationUID); err == nil {
		if s := def.Resources.Lifetime; s != "" {
			if d, err := time.ParseDuration(s); err == nil {
				return d
			}
		}
	}
	return e.cfg.DefaultLifetime
}

// runTasks runs the application's pending tasks for its current status, newest first, and
// stores each result. A task whose result stays {} is tried again a little later.
func (e *Executor) runTasks(ctx context.Context, w state.Work, res model.Resource, drv driver.Driver) {
	tasks, err := e.cfg.State().PendingTasks(ctx, w.UID, w.Status)
	if err != nil {
		return
	}
	retry := false
	tasker, _ := drv.(driver.Tasker)
	for _, t := range tasks {
		result := unknownTask
		if tasker != nil {
			if task, ok := tasker.Task(t.Task, t.Options); ok {
				out, err := task.Run(ctx, t, res)
				if err != nil {
					e.log.Warn("task failed", "app", w.UID, "task", t.Task, "err", err)
				}
				result = out
			}
		}
		if len(result) == 0 || string(result) == "{}" {
			retry = true
			continue
		}
		e.apply(ctx, command.TaskResult{UID: t.UID, Result: result, UpdatedAt: e.cfg.Now()})
	}
	if retry && w.Status == model.StatusAllocated {
		e.mu.Lock()
		if _, ok := e.retries[w.UID]; !ok {
			e.retries[w.UID] = time.AfterFunc(taskRetry, func() {
				e.mu.Lock()
				delete(e.retries, w.UID)
				e.mu.Unlock()
				e.handle(ctx, w.UID)
			})
		}
		e.mu.Unlock()
	}
}
