package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// allocate creates the resource of an application this node won.
func (e *Executor) allocate(ctx context.Context, app model.UID) {
	db := e.cfg.State()
	w, err := db.WorkOf(ctx, app)
	if err != nil || w.Status != model.StatusElected || w.NodeUID != e.cfg.NodeUID {
		return
	}
	a, err := db.Application(ctx, app)
	if err != nil {
		e.log.Error("read application", "app", app, "err", err)
		return
	}
	l, err := e.cfg.Labels.Get(ctx, a.LabelUID)
	if err != nil {
		e.fail(ctx, app, "Driver allocate resource error:unable to read the label: "+err.Error())
		return
	}
	def, ok := w.Def()
	if !ok {
		e.fail(ctx, app, fmt.Sprintf("Driver allocate resource error:label has no definition %d", w.DefinitionIndex))
		return
	}
	md, err := mergeMetadata(a.Metadata, l.Metadata)
	if err != nil {
		e.fail(ctx, app, err.Error())
		return
	}
	drv, ok := e.cfg.Drivers()[def.Driver]
	if !ok {
		e.fail(ctx, app, fmt.Sprintf("Driver allocate resource error:driver %s is not enabled on this node", def.Driver))
		return
	}
	log := e.log.With("app", app, "driver", def.Driver)
	log.Info("Fish: Allocate the resource using the driver " + def.Driver)
	resUID := model.NewUID(e.cfg.NodeUID)
	alloc, err := drv.Allocate(ctx, driver.AllocateRequest{
		ApplicationUID:  app,
		ResourceUID:     resUID,
		LabelUID:        l.UID,
		DefinitionIndex: w.DefinitionIndex,
		Definition:      def,
		Metadata:        md,
	})
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down: the application stays ELECTED and is resumed at the next start
		}
		log.Warn("allocation failed", "err", err)
		e.fail(ctx, app, "Driver allocate resource error:"+err.Error())
		return
	}
	mdJSON, _ := json.Marshal(md)
	now := e.cfg.Now()
	res := model.Resource{
		UID:             resUID,
		ApplicationUID:  app,
		CreatedAt:       now,
		DefinitionIndex: w.DefinitionIndex,
		HwAddr:          alloc.HwAddr,
		Identifier:      alloc.Identifier,
		IPAddr:          alloc.IPAddr,
		LabelUID:        l.UID,
		Metadata:        mdJSON,
		NodeUID:         e.cfg.NodeUID,
		UpdatedAt:       now,
	}
	err = e.record(ctx, command.ResourceCreate{Resource: res, State: model.ApplicationState{
		UID:         model.NewUID(e.cfg.NodeUID),
		CreatedAt:   now,
		Description: "Driver allocated the resource",
	}})
	if errors.Is(err, errGaveUp) {
		// The node is stopping before the cluster confirmed the resource either way: leave it;
		// the next start reconciles (the state knows it, or the driver inventory cleans it up).
		log.Warn("allocated resource not recorded before shutdown", "identifier", alloc.Identifier)
		return
	}
	if err != nil {
		// The application is no longer ours to serve (or the write failed): what was built must go.
		log.Warn("allocated resource is not wanted any more, destroying it", "identifier", alloc.Identifier, "err", err)
		if derr := drv.Deallocate(context.WithoutCancel(ctx), res); derr != nil && !errors.Is(derr, driver.ErrNotFound) {
			log.Error("destroy unwanted resource", "identifier", alloc.Identifier, "err", derr)
		}
		return
	}
	log.Info("allocated", "identifier", alloc.Identifier)
}

// errGaveUp says a command could not be committed before the executor stopped.
var errGaveUp = errors.New("gave up before the command was committed")

// record proposes a command that must not be lost, retrying while the cluster cannot commit
// (no leader, a lost answer): only the state's refusal is a final answer. Retrying is safe: the
// command is applied at most once (the state treats a repeated resource as the same one).
func (e *Executor) record(ctx context.Context, c command.Command) error {
	for attempt := 1; ; attempt++ {
		_, err := e.cfg.Store.Apply(ctx, c)
		if err == nil || isRefusal(err) {
			return err
		}
		e.log.Warn("unable to record, will retry", "command", c.Type(), "attempt", attempt, "err", err)
		if !e.sleep(ctx, e.backoff(attempt)) {
			return errGaveUp
		}
	}
}

func isRefusal(err error) bool {
	return errors.Is(err, state.ErrStatus) || errors.Is(err, state.ErrNotFound) ||
		errors.Is(err, state.ErrExists) || errors.Is(err, state.ErrInvalid)
}

// fail moves an application that this node was allocating to ERROR, retrying while the cluster
// cannot commit (left ELECTED, it would wait for the next safety pass to be tried again).
func (e *Executor) fail(ctx context.Context, app model.UID, description string) {
	err := e.record(ctx, command.ApplicationState{
		State: model.ApplicationState{
			UID:            model.NewUID(e.cfg.NodeUID),
			ApplicationUID: app,
			CreatedAt:      e.cfg.Now(),
			Status:         model.StatusError,
			Description:    description,
		},
		From: []model.Status{model.StatusElected},
		Node: e.cfg.NodeUID,
	})
	if err != nil && errors.Is(err, state.ErrStatus) {
		e.log.Debug("application moved on before its failure was recorded", "app", app)
	}
}
