package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/aquarium-fish/aquarium-fish/internal/state"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// fsm is the thin shim between raft and the state: decode, apply, publish.
type fsm struct {
	path string // the state database file
	db   atomic.Pointer[state.DB]
	bus  *Bus
	log  *slog.Logger
	seq  atomic.Uint64 // names snapshot files
}

var _ raft.BatchingFSM = (*fsm)(nil)

// ApplyBatch applies the commands of a batch of log entries in one database transaction.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	var items []state.Item
	var at []int
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		env, c, err := command.Decode(l.Data)
		if err != nil {
			panic(fmt.Sprintf("raft log index %d: %v", l.Index, err))
		}
		items = append(items, state.Item{Env: env, Command: c})
		at = append(at, i)
	}
	if len(items) == 0 {
		return out
	}
	results, events, err := f.db.Load().ApplyBatch(items)
	if err != nil {
		panic(fmt.Sprintf("raft log index %d..%d: %v", logs[0].Index, logs[len(logs)-1].Index, err))
	}
	for k, i := range at {
		out[i] = results[k]
	}
	f.bus.Publish(events)
	return out
}

func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	env, c, err := command.Decode(l.Data)
	if err != nil {
		// A replica that cannot apply an entry must not go on: it would diverge from the others.
		panic(fmt.Sprintf("raft log index %d: %v", l.Index, err))
	}
	res, events, err := f.db.Load().Apply(env, c)
	if err != nil {
		panic(fmt.Sprintf("raft log index %d: %v", l.Index, err))
	}
	f.bus.Publish(events)
	return res
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	tmp := fmt.Sprintf("%s.snap-%d", f.path, f.seq.Add(1))
	_ = state.Remove(tmp)
	if err := f.db.Load().Backup(context.Background(), tmp); err != nil {
		return nil, err
	}
	return &snapshot{path: tmp}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp := f.path + ".restore"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if old := f.db.Load(); old != nil {
		old.Close()
	}
	if err := state.Remove(f.path); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	db, err := state.Open(f.path)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.db.Store(db)
	f.bus.Publish([]state.Event{{Kind: state.EventNode}, {Kind: state.EventApplication}})
	return nil
}

// snapshot is a copy of the database file taken by Snapshot; Persist streams it to raft.
type snapshot struct{ path string }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	f, err := os.Open(s.path)
	if err != nil {
		sink.Cancel()
		return err
	}
	defer f.Close()
	if _, err := io.Copy(sink, f); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() { _ = os.Remove(s.path) }

// removeStale deletes snapshot copies left by a crash.
func removeStale(dbPath string) {
	matches, _ := filepath.Glob(dbPath + ".snap-*")
	for _, m := range matches {
		_ = os.Remove(m)
	}
	_ = os.Remove(dbPath + ".restore")
}
