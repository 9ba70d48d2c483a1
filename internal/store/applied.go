package store

import (
	"crypto/sha256"
	"sync"

	"github.com/hashicorp/raft"
)

// appliedWindow is how many of the latest commands a node remembers the results of.
const appliedWindow = 8192

// applied remembers the results of the latest commands this node's FSM applied, by log index
// and by content. A proposer whose answer was lost (the leader died, the connection broke,
// leadership was lost while committing) proposes the same bytes again as a retry; the leader
// then answers from the earlier application instead of applying the command twice. Every node
// applies every entry, so a new leader knows the results of its predecessor's entries too.
type applied struct {
	mu      sync.Mutex
	byIndex map[uint64]appliedEntry
	byHash  map[[sha256.Size]byte]uint64
	ring    []uint64 // indexes in application order, appliedWindow at most
	next    int
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

// recordingFSM is the FSM raft runs: the state's shim, remembering each result.
type recordingFSM struct {
	*fsm
	rec *applied
}

var _ raft.BatchingFSM = recordingFSM{}

func (r recordingFSM) Apply(l *raft.Log) any {
	res := r.fsm.Apply(l)
	r.rec.put(l, res)
	return res
}

func (r recordingFSM) ApplyBatch(logs []*raft.Log) []any {
	out := r.fsm.ApplyBatch(logs)
	for i, l := range logs {
		r.rec.put(l, out[i])
	}
	return out
}
