package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// Deadlines the leader enforces so that no application waits on a node that is gone.
const (
	// RoundTimeout closes an election round that some eligible node did not vote in.
	RoundTimeout = 5 * time.Second
	// LostGrace is how long a node holding allocated resources may stay away before its
	// applications are marked ERROR, so their clients can react.
	LostGrace      = 60 * time.Second
	superviseEvery = time.Second
)

// Deadlines are the supervisor's timings; zero fields take the defaults. Tests shrink them.
type Deadlines struct {
	RoundTimeout time.Duration // default RoundTimeout
	// LiveWindow: a node whose last heartbeat is older is gone (default state.LiveWindow). It
	// must cover a few of the nodes' heartbeat intervals.
	LiveWindow time.Duration
	LostGrace  time.Duration // default LostGrace
	VoterGrace time.Duration // a voter away this long is replaced; default LostGrace
	Every      time.Duration // supervision pass interval; default one second
}

// withDefaults fills the zero fields.
func (d Deadlines) withDefaults() Deadlines {
	if d.RoundTimeout <= 0 {
		d.RoundTimeout = RoundTimeout
	}
	if d.LiveWindow <= 0 {
		d.LiveWindow = state.LiveWindow
	}
	if d.LostGrace <= 0 {
		d.LostGrace = LostGrace
	}
	if d.VoterGrace <= 0 {
		d.VoterGrace = LostGrace
	}
	if d.Every <= 0 {
		d.Every = superviseEvery
	}
	return d
}

// SupervisorConfig wires a supervisor.
type SupervisorConfig struct {
	NodeUID  model.UID
	Store    Applier
	State    func() *state.DB
	IsLeader func() bool
	// Balance runs the leader's membership upkeep with when each node was last seen and how
	// long a voter may be away before it is replaced.
	Balance   func(lastSeen map[model.UID]time.Time, grace time.Duration, now time.Time)
	Deadlines Deadlines
	Log       *slog.Logger
	Now       func() time.Time
}

// Supervise runs on every node and acts only while it leads: it closes election rounds past
// their deadline, returns applications elected to a node that died before allocating them to a
// new round, marks the applications of a node that stays away as lost, and keeps the raft
// membership balanced.
func Supervise(ctx context.Context, cfg SupervisorConfig) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Deadlines = cfg.Deadlines.withDefaults()
	log := cfg.Log.With("component", "supervisor")
	t := time.NewTicker(cfg.Deadlines.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !cfg.IsLeader() {
			continue
		}
		if err := supervise(ctx, cfg, log); err != nil && ctx.Err() == nil {
			log.Warn("supervision pass failed", "err", err)
		}
	}
}

func supervise(ctx context.Context, cfg SupervisorConfig, log *slog.Logger) error {
	db := cfg.State()
	now := cfg.Now()
	dl := cfg.Deadlines
	seen, err := db.NodesLastSeen(ctx)
	if err != nil {
		return err
	}
	if cfg.Balance != nil {
		cfg.Balance(seen, dl.VoterGrace, now)
	}
	live := func(n model.UID) bool {
		t, ok := seen[n]
		return ok && now.Sub(t) < dl.LiveWindow
	}
	work, err := db.WorkByStatus(ctx, model.StatusNew, model.StatusElected, model.StatusAllocated, model.StatusDeallocate)
	if err != nil {
		return err
	}
	for _, w := range work {
		var c command.Command
		switch {
		case w.Status == model.StatusNew && !w.RoundClosed && now.Sub(w.RoundAt) > dl.RoundTimeout:
			c = command.CloseRound{ApplicationUID: w.UID, Round: w.Round, StateUID: model.NewUID(cfg.NodeUID)}
		case w.Status == model.StatusElected && !live(w.NodeUID) && now.Sub(w.StatusAt) > dl.LiveWindow:
			log.Warn("elected node is gone before allocating, electing again", "app", w.UID, "node", w.NodeUID)
			c = command.Reelect{ApplicationUID: w.UID, Round: w.Round + 1, State: model.ApplicationState{
				UID:         model.NewUID(cfg.NodeUID),
				CreatedAt:   now,
				Description: fmt.Sprintf("Elected node %s is gone before allocating: electing again", w.NodeUID),
			}}
		case (w.Status == model.StatusAllocated || w.Status == model.StatusDeallocate) && now.Sub(seen[w.NodeUID]) > dl.LostGrace:
			log.Warn("node holding an allocation is lost", "app", w.UID, "node", w.NodeUID)
			c = command.ApplicationState{
				State: model.ApplicationState{
					UID:            model.NewUID(cfg.NodeUID),
					ApplicationUID: w.UID,
					CreatedAt:      now,
					Status:         model.StatusError,
					Description:    fmt.Sprintf("Node %s is lost: not seen since %s", w.NodeUID, seen[w.NodeUID].Format(time.RFC3339)),
				},
				From: []model.Status{w.Status},
			}
		default:
			continue
		}
		if _, err := cfg.Store.Apply(ctx, c); err != nil && ctx.Err() == nil {
			log.Debug("supervision command refused", "app", w.UID, "err", err)
		}
	}
	return nil
}
