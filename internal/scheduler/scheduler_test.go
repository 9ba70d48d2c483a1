package scheduler

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// loop is a one-node cluster with a running scheduler.
type loop struct {
	t     *testing.T
	st    *store.Store
	node  model.UID
	label model.UID
	n     byte
}

func newLoop(t *testing.T, driverCfg string, res model.Resources) *loop {
	t.Helper()
	node := model.UID{0x4a, 1}
	st, err := store.Open(store.Config{Dir: t.TempDir(), NodeID: node.String(), Address: "n1", Alone: true,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	l := &loop{t: t, st: st, node: node, label: model.UID{0x1a, 1}}
	l.apply(command.NodeRegister{Node: model.Node{UID: node, Name: "n1", Pubkey: []byte("k")}, Drivers: []string{"test"}})
	l.apply(command.LabelCreate{Label: model.Label{UID: l.label, Name: "l", Version: 1,
		Definitions: []model.LabelDefinition{{Driver: "test", Resources: res}}}})

	drv := newTestDriver(t, "test", driverCfg)
	s := New(Config{
		NodeUID: node,
		Store:   st,
		State:   st.State,
		Bus:     st.Bus(),
		Fitter:  func() Fitter { return Fitter{Drivers: map[string]driver.Driver{"test": drv}} },
		Labels:  NewLabels(st.State),
		Log:     slog.New(slog.DiscardHandler),
	})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	return l
}

func (l *loop) apply(c command.Command) {
	l.t.Helper()
	if _, err := l.st.Apply(l.t.Context(), c); err != nil {
		l.t.Fatalf("apply %T: %v", c, err)
	}
}

// app creates an application of the loop's label.
func (l *loop) app() model.UID {
	l.t.Helper()
	l.n++
	uid := model.UID{0x2a, l.n}
	l.apply(command.ApplicationCreate{
		Application: model.Application{UID: uid, CreatedAt: time.Now(), LabelUID: l.label, OwnerName: "alice", Metadata: json.RawMessage(`{}`)},
		State:       model.ApplicationState{UID: model.UID{0x3a, l.n}, CreatedAt: time.Now()},
	})
	return uid
}

func (l *loop) work(app model.UID) state.Work {
	l.t.Helper()
	w, err := l.st.State().WorkOf(l.t.Context(), app)
	if err != nil {
		l.t.Fatalf("WorkOf: %v", err)
	}
	return w
}

// eventually polls cond until it holds or a deadline passes.
func (l *loop) eventually(what string, cond func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(15 * time.Second) // generous: CI runs the race detector on 2 cores
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			l.t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestSchedulerElectsThisNode(t *testing.T) {
	t.Parallel()
	l := newLoop(t, `{"cpu_limit":4,"ram_limit":8}`, model.Resources{CPU: 2, RAM: 4})
	a := l.app()
	l.eventually("ELECTED", func() bool { return l.work(a).Status == model.StatusElected })
	if w := l.work(a); w.NodeUID != l.node || w.DefinitionIndex != 0 {
		t.Errorf("work = %+v", w)
	}
}

// TestSchedulerReservesAndRevotes: three applications arrive at once on a node with room for
// two; the third waits without busy rounds and is elected when room is freed, before a later one.
func TestSchedulerReservesAndRevotes(t *testing.T) {
	t.Parallel()
	l := newLoop(t, `{"cpu_limit":4,"ram_limit":8}`, model.Resources{CPU: 2, RAM: 4})
	a, b, c := l.app(), l.app(), l.app()
	l.eventually("two ELECTED and one round closed", func() bool {
		return l.work(a).Status == model.StatusElected && l.work(b).Status == model.StatusElected && l.work(c).RoundClosed
	})
	if w := l.work(c); w.Status != model.StatusNew || w.Round != 0 {
		t.Fatalf("third application: %+v, want NEW with round 0 closed", w)
	}
	// A change that frees nothing does not make the node repeat its "no": after a heartbeat
	// and a fourth application (whose "no" proves a pass ran), c is still in round 0.
	l.apply(command.NodeHeartbeat{UID: l.node, Drivers: []string{"test"}})
	d := l.app()
	l.eventually("fourth round closed", func() bool { return l.work(d).RoundClosed })
	if wc, wd := l.work(c), l.work(d); wc.Round != 0 || wd.Round != 0 {
		t.Errorf("a no vote was repeated: rounds %d and %d", wc.Round, wd.Round)
	}

	// a is recalled before it was allocated: its capacity comes back and c is elected.
	l.apply(command.ApplicationDealloc{State: model.ApplicationState{UID: model.UID{0x3a, 0xf0}, ApplicationUID: a, CreatedAt: time.Now()}})
	// The oldest waiting application gets the room; the next one keeps waiting.
	l.eventually("third ELECTED", func() bool { return l.work(c).Status == model.StatusElected })
	if w := l.work(c); w.Round != 1 || w.NodeUID != l.node {
		t.Errorf("third application: %+v, want ELECTED in round 1", w)
	}
	if w := l.work(d); w.Status != model.StatusNew || w.Round != 0 {
		t.Errorf("fourth application: %+v, want NEW in round 0", w)
	}
}
