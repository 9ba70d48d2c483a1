package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// appliedWindow is how many of the latest commands a node remembers the results of.
const appliedWindow = 8192

// applied follows what this node's FSM really applied (raft's AppliedIndex counts entries
// handed to the FSM, not applied yet), and remembers the results of the latest commands, by
// log index and by content. A proposer whose answer was lost (the leader died, the connection
// broke, leadership was lost while committing) proposes the same bytes again as a retry; the
// leader then answers from the earlier application instead of applying the command twice.
// Every node applies every entry, so a new leader knows its predecessor's results too.
type applied struct {
	mu      sync.Mutex
	byIndex map[uint64]appliedEntry
	byHash  map[[sha256.Size]byte]uint64
	ring    []uint64 // indexes in application order, appliedWindow at most
	next    int
	last    uint64        // the latest index the FSM applied (commands and configurations)
	changed chan struct{} // closed and replaced when last grows
}

type appliedEntry struct {
	sum [sha256.Size]byte
	res any
}

func newApplied() *applied {
	return &applied{
		byIndex: make(map[uint64]appliedEntry, appliedWindow),
		byHash:  make(map[[sha256.Size]byte]uint64, appliedWindow),
		ring:    make([]uint64, 0, appliedWindow),
		changed: make(chan struct{}),
	}
}

// advance records that the FSM applied every entry up to index i.
func (a *applied) advance(i uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i <= a.last {
		return
	}
	a.last = i
	close(a.changed)
	a.changed = make(chan struct{})
}

// index is the latest index the FSM applied.
func (a *applied) index() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// wait blocks until the FSM applied index i.
func (a *applied) wait(ctx context.Context, i uint64) error {
	for {
		a.mu.Lock()
		last, changed := a.last, a.changed
		a.mu.Unlock()
		if last >= i {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for entry %d to be applied here (applied %d): %w", i, last, ctx.Err())
		case <-changed:
		}
	}
}

// put records the result of the command entry l.
func (a *applied) put(l *raft.Log, res any) {
	if l.Type != raft.LogCommand {
		return
	}
	sum := sha256.Sum256(l.Data)
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.ring) < appliedWindow {
		a.ring = append(a.ring, l.Index)
	} else {
		old := a.ring[a.next]
		if e, ok := a.byIndex[old]; ok {
			if a.byHash[e.sum] == old {
				delete(a.byHash, e.sum)
			}
			delete(a.byIndex, old)
		}
		a.ring[a.next] = l.Index
		a.next = (a.next + 1) % appliedWindow
	}
	a.byIndex[l.Index] = appliedEntry{sum: sum, res: res}
	if _, dup := a.byHash[sum]; !dup {
		a.byHash[sum] = l.Index // the first application is the one that counted
	}
}

// find returns the index and result of an applied command with the same bytes as b.
func (a *applied) find(b []byte) (uint64, any, bool) {
	sum := sha256.Sum256(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	i, ok := a.byHash[sum]
	if !ok {
		return 0, nil, false
	}
	return i, a.byIndex[i].res, true
}

// recordingFSM is the FSM raft runs: the state's shim, recording what it applied.
type recordingFSM struct {
	*fsm
	rec   *applied
	snaps raft.SnapshotStore
}

var _ raft.BatchingFSM = recordingFSM{}

func (r recordingFSM) Apply(l *raft.Log) any {
	res := r.fsm.Apply(l)
	r.rec.put(l, res)
	r.rec.advance(l.Index)
	return res
}

func (r recordingFSM) ApplyBatch(logs []*raft.Log) []any {
	out := r.fsm.ApplyBatch(logs)
	for i, l := range logs {
		r.rec.put(l, out[i])
	}
	if len(logs) > 0 {
		r.rec.advance(logs[len(logs)-1].Index)
	}
	return out
}

// Restore installs a snapshot: the state is then at the snapshot's index, which raft does not
// tell the FSM; it is the newest snapshot of the store (raft restores the newest at start, and
// stores an installed one before restoring it).
func (r recordingFSM) Restore(rc io.ReadCloser) error {
	if err := r.fsm.Restore(rc); err != nil {
		return err
	}
	if metas, err := r.snaps.List(); err == nil && len(metas) > 0 {
		r.rec.advance(metas[0].Index)
	}
	return nil
}
