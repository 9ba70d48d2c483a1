package executor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/scheduler"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// Applier proposes commands.
type Applier interface {
	Apply(ctx context.Context, c command.Command) (any, error)
}

// Config wires an executor.
type Config struct {
	NodeUID         model.UID
	Store           Applier
	State           func() *state.DB
	Bus             *store.Bus
	Drivers         func() map[string]driver.Driver
	Labels          *scheduler.Labels
	DefaultLifetime time.Duration // for definitions without a lifetime; 0 = none
	Log             *slog.Logger
	Now             func() time.Time
	// Retry timing of deallocation: Attempts tries, Backoff doubling up to MaxBackoff.
	DeallocAttempts int
	Backoff         time.Duration
	MaxBackoff      time.Duration
}

// Executor runs this node's applications.
type Executor struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{} // a full pass is wanted

	mu       sync.Mutex
	busy     map[model.UID]bool        // applications with a goroutine working on them
	missed   map[model.UID]bool        // busy applications that were asked for more meanwhile
	timers   map[model.UID]*time.Timer // lifetime timers of allocated resources
	retries  map[model.UID]*time.Timer // task retries
	changed  chan struct{}             // closed and replaced when the amount of work changes
	inflight sync.WaitGroup
}

// New makes an executor.
func New(cfg Config) *Executor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DeallocAttempts == 0 {
		cfg.DeallocAttempts = 11
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	return &Executor{
		cfg:     cfg,
		log:     cfg.Log.With("component", "executor"),
		wake:    make(chan struct{}, 1),
		busy:    map[model.UID]bool{},
		missed:  map[model.UID]bool{},
		timers:  map[model.UID]*time.Timer{},
		retries: map[model.UID]*time.Timer{},
		changed: make(chan struct{}),
	}
}

// Run handles this node's applications until ctx ends. Reconcile must have run before.
func (e *Executor) Run(ctx context.Context) {
	sub := e.cfg.Bus.Subscribe(4096)
	defer sub.Close()
	defer e.stopTimers()
	defer e.inflight.Wait()
	e.pass(ctx)
	safety := time.NewTicker(scheduler.SafetyInterval)
	defer safety.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C:
			if sub.Lost() {
				e.pass(ctx)
				continue
			}
			if ev.Kind == state.EventTask && ev.App == model.NilUID {
				continue // a task result: nothing to do
			}
			if ev.Node != e.cfg.NodeUID {
				continue
			}
			// A resource event matters alone only for a recalled application (its resource
			// must go); otherwise an application event about the same change follows.
			if ev.Kind == state.EventApplication || ev.Kind == state.EventTask ||
				ev.Kind == state.EventResource && ev.Status == model.StatusRecalled {
				e.handle(ctx, ev.App)
			}
		case <-e.wake:
			e.pass(ctx)
		case <-safety.C:
			e.pass(ctx)
		}
	}
}

// pass looks at every application of this node.
func (e *Executor) pass(ctx context.Context) {
	work, err := e.cfg.State().NodeWork(ctx, e.cfg.NodeUID)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("read this node's applications", "err", err)
		}
		return
	}
	for _, w := range work {
		e.act(ctx, w)
	}
}

// handle looks at one application.
func (e *Executor) handle(ctx context.Context, app model.UID) {
	w, err := e.cfg.State().WorkOf(ctx, app)
	if err != nil {
		if !errors.Is(err, state.ErrNotFound) && ctx.Err() == nil {
			e.log.Error("read application", "app", app, "err", err)
		}
		return
	}
	if w.NodeUID == e.cfg.NodeUID {
		e.act(ctx, w)
	}
	e.signalChange()
}

// act starts what the application's status asks of this node.
func (e *Executor) act(ctx context.Context, w state.Work) {
	switch {
	case w.Status == model.StatusElected && !w.HasResource:
		e.start(ctx, w.UID, e.allocate)
	case w.Status == model.StatusAllocated && w.HasResource:
		e.watch(ctx, w)
	case w.HasResource && (w.Status == model.StatusDeallocate || w.Status.Final()):
		e.start(ctx, w.UID, e.deallocate)
	}
}

// start runs fn for app unless something already works on it; then the application is looked
// at again once fn is done, as the status may have moved on meanwhile.
func (e *Executor) start(ctx context.Context, app model.UID, fn func(context.Context, model.UID)) {
	e.mu.Lock()
	if e.busy[app] {
		e.missed[app] = true
		e.mu.Unlock()
		return
	}
	e.busy[app] = true
	e.inflight.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.inflight.Done()
		fn(ctx, app)
		e.mu.Lock()
		delete(e.busy, app)
		again := e.missed[app]
		delete(e.missed, app)
		e.mu.Unlock()
		e.signalChange()
		if again && ctx.Err() == nil {
			e.handle(ctx, app)
		}
	}()
}

// Busy counts the applications this node serves or is about to serve.
func (e *Executor) Busy(ctx context.Context) (int, error) {
	work, err := e.cfg.State().NodeWork(ctx, e.cfg.NodeUID)
	return len(work), err
}

// Changed returns a channel closed the next time the amount of work may have changed.
func (e *Executor) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

func (e *Executor) signalChange() {
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// Wake asks for a full pass.
func (e *Executor) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Executor) stopTimers() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.timers {
		t.Stop()
	}
	for _, t := range e.retries {
		t.Stop()
	}
}

// apply proposes a command and logs a failure; the state decides whether it still applies.
func (e *Executor) apply(ctx context.Context, c command.Command) (any, error) {
	v, err := e.cfg.Store.Apply(ctx, c)
	if err != nil && ctx.Err() == nil && !errors.Is(err, state.ErrStatus) {
		e.log.Error("apply failed", "command", c.Type(), "err", err)
	}
	return v, err
}
