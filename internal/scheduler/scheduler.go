package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// SafetyInterval is how often waiting applications are reconsidered when nothing happened.
const SafetyInterval = 30 * time.Second

// Applier proposes commands.
type Applier interface {
	Apply(ctx context.Context, c command.Command) (any, error)
}

// Config wires a scheduler.
type Config struct {
	NodeUID model.UID
	Store   Applier
	State   func() *state.DB
	Bus     *store.Bus
	Fitter  func() Fitter // what this node can run right now
	Labels  *Labels
	Log     *slog.Logger
	Now     func() time.Time
}

// Scheduler votes for this node.
type Scheduler struct {
	cfg   Config
	log   *slog.Logger
	nudge chan struct{}

	mu       sync.Mutex
	defs     definitions
	mine     []string                  // definitions using this node's capacity, as of the last pass
	reserved map[model.UID]reservation // yes votes whose outcome is not known yet
	pending  map[model.UID]uint16      // votes being proposed: app → round
}

type reservation struct {
	round uint16
	res   model.Resources
}

// New makes a scheduler; Run starts it.
func New(cfg Config) *Scheduler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Scheduler{
		cfg:      cfg,
		log:      cfg.Log.With("component", "scheduler"),
		nudge:    make(chan struct{}, 1),
		reserved: map[model.UID]reservation{},
		pending:  map[model.UID]uint16{},
	}
}

// Nudge asks for a pass soon (maintenance switched off, a driver appeared...).
func (s *Scheduler) Nudge() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// Run votes until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	sub := s.cfg.Bus.Subscribe(1024)
	defer sub.Close()
	safety := time.NewTimer(0)
	defer safety.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C:
			if !relevant(ev) {
				continue
			}
		case <-s.nudge:
		case <-safety.C:
		}
		drain(sub.C)
		sub.Lost()
		safety.Reset(SafetyInterval)
		if err := s.pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduling pass failed", "err", err)
		}
	}
}

// relevant reports whether an event can change what this node should vote.
func relevant(ev state.Event) bool {
	switch ev.Kind {
	case state.EventNode, state.EventLabel:
		return true
	case state.EventApplication:
		// A new application or round, or capacity freed by one that ended. ELECTED and
		// ALLOCATED change nothing this node would vote differently on.
		return ev.Status == model.StatusNew || ev.Status.Final()
	}
	return false
}

func drain(c <-chan state.Event) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// pass votes on every waiting application that needs this node's vote.
func (s *Scheduler) pass(ctx context.Context) error {
	db := s.cfg.State()
	waiting, err := db.Waiting(ctx, s.cfg.NodeUID)
	if err != nil {
		return err
	}
	mine, err := db.NodeDefinitions(ctx, s.cfg.NodeUID)
	if err != nil {
		return err
	}
	fit := s.cfg.Fitter()

	s.mu.Lock()
	defer s.mu.Unlock()
	// The definitions in use and the reservations change together here, so that Prevote, which
	// reuses them between passes, never counts an application twice or not at all.
	s.releaseDecided(waiting)
	if mine == nil {
		mine = []string{}
	}
	s.mine = mine
	usage := s.usage(ctx, fit, mine)
	for _, w := range waiting {
		if _, busy := s.pending[w.UID]; busy {
			continue
		}
		if r, ok := s.reserved[w.UID]; ok && r.round == w.Round && !w.RoundClosed {
			continue // voted yes, waiting for the others
		}
		round := w.Round
		switch {
		case w.RoundClosed:
			round++ // the round ended without a winner: only a "yes" reopens the election
		case w.Voted:
			continue // voted, waiting for the others
		}
		l, err := s.cfg.Labels.Get(ctx, w.LabelUID)
		if errors.Is(err, state.ErrNotFound) {
			continue // nobody can serve an application whose label is gone
		}
		if err != nil {
			return err
		}
		idx := fit.First(ctx, l, usage)
		if idx < 0 && round != w.Round {
			continue // a closed round is reopened only by a node that can serve
		}
		if idx >= 0 {
			def := l.Definitions[idx]
			if !fit.Drivers[def.Driver].IsRemote() {
				usage = usage.Add(def.Resources)
			}
			s.reserved[w.UID] = reservation{round: round, res: def.Resources}
		}
		s.pending[w.UID] = round
		go s.vote(ctx, w.UID, round, idx)
	}
	return nil
}

// Prevote is this node's round-0 vote for an application about to be created through it, or
// nil when it cannot serve the application now. A "yes" is reserved at once; done must be
// called with the outcome of the creation.
func (s *Scheduler) Prevote(ctx context.Context, app model.Application) (vote *command.Vote, done func(created bool)) {
	noop := func(bool) {}
	l, err := s.cfg.Labels.Get(ctx, app.LabelUID)
	if err != nil {
		return nil, noop
	}
	fit := s.cfg.Fitter()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mine == nil {
		return nil, noop // no pass yet: let the first one vote
	}
	idx := fit.First(ctx, l, s.usage(ctx, fit, s.mine))
	if idx < 0 {
		return nil, noop // a "no" is cast by the scheduler's pass, as for any other application
	}
	s.reserved[app.UID] = reservation{round: 0, res: l.Definitions[idx].Resources}
	s.pending[app.UID] = 0
	v := &command.Vote{
		Vote: model.Vote{
			UID:            model.NewUID(s.cfg.NodeUID),
			ApplicationUID: app.UID,
			Available:      idx,
			CreatedAt:      s.cfg.Now(),
			NodeUID:        s.cfg.NodeUID,
			Rand:           rand.Uint32(),
		},
		StateUID: model.NewUID(s.cfg.NodeUID),
	}
	return v, func(created bool) {
		s.mu.Lock()
		delete(s.pending, app.UID)
		if !created {
			delete(s.reserved, app.UID)
		}
		s.mu.Unlock()
		s.Nudge()
	}
}

// releaseDecided drops reservations whose application is no longer waiting in that round.
func (s *Scheduler) releaseDecided(waiting []state.Work) {
	open := make(map[model.UID]state.Work, len(waiting))
	for _, w := range waiting {
		open[w.UID] = w
	}
	for uid, r := range s.reserved {
		if _, proposing := s.pending[uid]; proposing {
			continue // its vote is on its way (it may not even be created yet)
		}
		w, ok := open[uid]
		if !ok || w.Round != r.round || w.RoundClosed {
			delete(s.reserved, uid)
		}
	}
}

// usage is what this node's applications (their chosen definitions) and pending reservations
// consume.
func (s *Scheduler) usage(ctx context.Context, fit Fitter, mine []string) driver.Usage {
	var u driver.Usage
	for _, text := range mine {
		d, ok := s.defs.get(text)
		if !ok {
			continue
		}
		if drv, ok := fit.Drivers[d.Driver]; ok && drv.IsRemote() {
			continue
		}
		u = u.Add(d.Resources)
	}
	for _, r := range s.reserved {
		u = u.Add(r.res)
	}
	return u
}

func (s *Scheduler) vote(ctx context.Context, app model.UID, round uint16, idx int) {
	v := model.Vote{
		UID:            model.NewUID(s.cfg.NodeUID),
		ApplicationUID: app,
		Available:      idx,
		CreatedAt:      s.cfg.Now(),
		NodeUID:        s.cfg.NodeUID,
		Rand:           rand.Uint32(),
		Round:          round,
	}
	_, err := s.cfg.Store.Apply(ctx, command.Vote{Vote: v, StateUID: model.NewUID(s.cfg.NodeUID)})
	s.mu.Lock()
	delete(s.pending, app)
	if err != nil {
		delete(s.reserved, app)
	}
	s.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("vote failed", "app", app, "round", round, "err", err)
		}
		s.Nudge()
		return
	}
	s.log.Debug("voted", "app", app, "round", round, "available", idx)
}
