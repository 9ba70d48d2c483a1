package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func TestApplyAndRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stamp := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	s := openWith(t, Config{Dir: t.TempDir(), Now: func() time.Time { return stamp }})

	nodeUID := model.UID{0x4a, 1}
	v, err := s.Apply(ctx, command.NodeRegister{Node: model.Node{UID: nodeUID, Name: "n1", Pubkey: []byte("k")}, Drivers: []string{"test"}})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	reg, ok := v.(state.NodeRegistration)
	if !ok || !reg.Created {
		t.Fatalf("register value = %#v", v)
	}
	// The FSM's only clock is the one the proposer stamped into the command.
	if !reg.Node.CreatedAt.Equal(stamp) {
		t.Errorf("node created_at = %v, want the proposer's %v", reg.Node.CreatedAt, stamp)
	}

	label := model.Label{UID: model.UID{0x1a, 1}, CreatedAt: stamp, Name: "l", Version: 1, Metadata: json.RawMessage(`{"b":1,"a":2}`),
		Definitions: []model.LabelDefinition{{Driver: "test", Resources: model.Resources{CPU: 1, RAM: 1}}}}
	if v, err = s.Apply(ctx, &command.LabelCreate{Label: label}); err != nil {
		t.Fatalf("label: %v", err)
	}
	if got, ok := v.(model.Label); !ok || got.UID != label.UID {
		t.Errorf("label value = %#v", v)
	}
	app := model.Application{UID: model.UID{0x2a, 1}, CreatedAt: stamp, LabelUID: label.UID, OwnerName: "alice"}
	if _, err := s.Apply(ctx, &command.ApplicationCreate{Application: app, State: model.ApplicationState{UID: model.UID{0x3a, 1}, CreatedAt: stamp}}); err != nil {
		t.Fatalf("application: %v", err)
	}
	if _, err := s.Apply(ctx, &command.Vote{Vote: model.Vote{UID: model.UID{0x5a, 1}, ApplicationUID: app.UID, NodeUID: nodeUID, Available: 0, CreatedAt: stamp},
		StateUID: model.UID{0x3a, 2}}); err != nil {
		t.Fatalf("vote: %v", err)
	}

	st, _, err := s.State().OwnedState(ctx, app.UID)
	if err != nil || st.Status != model.StatusElected || st.Description != "Elected node: n1" {
		t.Errorf("state = %+v, %v", st, err)
	}
	got, err := s.State().Label(ctx, label.UID)
	if err != nil || string(got.Metadata) != `{"b":1,"a":2}` {
		t.Errorf("label = %+v, %v", got, err)
	}
}

func TestApplyRefusedReturnsSentinel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, t.TempDir())
	if _, err := s.Apply(ctx, user("alice")); err != nil {
		t.Fatalf("first create: %v", err)
	}
	if _, err := s.Apply(ctx, user("alice")); !errors.Is(err, state.ErrExists) {
		t.Errorf("duplicate user: err = %v, want state.ErrExists", err)
	}
	_, err := s.Apply(ctx, &command.ApplicationCreate{Application: model.Application{UID: model.UID{1}, LabelUID: model.UID{2}}})
	if !errors.Is(err, state.ErrNotFound) {
		t.Errorf("application of an unknown label: err = %v, want state.ErrNotFound", err)
	}
	if n := users(t, s); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
}

func TestReopenReplaysLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	applyUsers(t, s, "u", 25)
	s.shut(t)

	s = open(t, dir)
	if n := users(t, s); n != 25 {
		t.Errorf("after reopen: users = %d, want 25", n)
	}
	// The rebuilt state accepts more writes, and refuses what it must.
	applyUsers(t, s, "v", 5)
	if _, err := s.Apply(context.Background(), user("u0")); !errors.Is(err, state.ErrExists) {
		t.Errorf("re-creating a replayed user: err = %v, want ErrExists", err)
	}
	s.shut(t)
	s = open(t, dir)
	if n := users(t, s); n != 30 {
		t.Errorf("after second reopen: users = %d, want 30", n)
	}
}

func TestSnapshotAndTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	applyUsers(t, s, "before", 10)
	if err := s.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if err := s.Snapshot(); err != nil {
		t.Errorf("snapshot with nothing new: %v", err)
	}
	applyUsers(t, s, "after", 10)
	s.shut(t)

	if snaps, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*")); len(snaps) == 0 {
		t.Errorf("no snapshot on disk")
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "sqlite.db.snap-*")); len(tmp) != 0 {
		t.Errorf("snapshot copies left behind: %v", tmp)
	}
	s = open(t, dir)
	if n := users(t, s); n != 20 {
		t.Errorf("after reopen: users = %d, want 20 (snapshot + tail)", n)
	}
	ctx := context.Background()
	for _, name := range []string{"before0", "before9", "after0", "after9"} {
		if _, err := s.State().User(ctx, name); err != nil {
			t.Errorf("user %s: %v", name, err)
		}
	}
	// A snapshot restored at start leaves a working database: write and snapshot again.
	applyUsers(t, s, "more", 3)
	if err := s.Snapshot(); err != nil {
		t.Errorf("second snapshot: %v", err)
	}
	s.shut(t)
	s = open(t, dir)
	if n := users(t, s); n != 23 {
		t.Errorf("after second reopen: users = %d, want 23", n)
	}
}

// applyParallel applies n user creations from workers goroutines.
func applyParallel(t *testing.T, s *testStore, prefix string, n, workers int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				if _, err := s.Apply(context.Background(), user(fmt.Sprintf("%s%d", prefix, i))); err != nil {
					errs <- fmt.Errorf("%s%d: %w", prefix, i, err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("apply: %v", err)
	}
}

func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	applyParallel(t, s, "c", 400, 20)
	if n := users(t, s); n != 400 {
		t.Errorf("users = %d, want 400", n)
	}
}

// TestManyCommandsCompact writes more entries than raft keeps after a snapshot (TrailingLogs
// 4096), so the snapshot truncates the log: the next start restores the snapshot and replays
// only the tail. Under the race detector it writes fewer entries (the log is not truncated
// then, but the start still comes from the snapshot).
func TestManyCommandsCompact(t *testing.T) {
	t.Parallel()
	n := 4500
	if raceEnabled {
		n = 2100
	}
	dir := t.TempDir()
	s := open(t, dir)
	start := time.Now()
	applyParallel(t, s, "m", n, 32)
	t.Logf("%d applies from 32 goroutines: %v", n, time.Since(start))
	if err := s.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	first, err := s.logs.FirstIndex()
	if err != nil {
		t.Fatalf("first index: %v", err)
	}
	if !raceEnabled && first <= 1 {
		t.Errorf("log not compacted: first index = %d", first)
	}
	applyUsers(t, s, "tail", 3)
	s.shut(t)

	start = time.Now()
	s = open(t, dir)
	reopen := time.Since(start)
	t.Logf("reopen after snapshot: %v (log starts at %d)", reopen, first)
	if got := users(t, s); got != n+3 {
		t.Errorf("users = %d, want %d", got, n+3)
	}
	if reopen > 5*time.Second {
		t.Errorf("reopen took %v", reopen)
	}
}

func TestApplyAfterClose(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	s.shut(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Apply(ctx, user("late"))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("apply after close: err = %v, want ErrClosed", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("apply after close took %v", d)
	}
}

// TestApplyWhileElecting proposes before the node knows it leads: the write must wait for the
// election, not fail because there is no peer to forward it to.
func TestApplyWhileElecting(t *testing.T) {
	t.Parallel()
	s, err := Open(Config{Dir: t.TempDir(), NodeID: testNodeID, Address: "node-1", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := s.Apply(ctx, user("early")); err != nil {
		t.Errorf("apply during the first election: %v", err)
	}
}

func TestOpenRemovesStaleFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	applyUsers(t, s, "u", 3)
	s.shut(t)
	// A crash left a snapshot copy and a half-restored database behind.
	for _, name := range []string{"sqlite.db.snap-7", "sqlite.db.restore"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s = open(t, dir)
	if n := users(t, s); n != 3 {
		t.Errorf("users = %d, want 3", n)
	}
	for _, name := range []string{"sqlite.db.snap-7", "sqlite.db.restore"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed: %v", name, err)
		}
	}
}
