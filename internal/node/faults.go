package node

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/scheduler"
)

// Options are the knobs of StartWith that tests and benchmarks use; the zero value is what a
// production node runs with.
type Options struct {
	// Faults, when set, lets a test cut the links between nodes (partitions, crashes).
	Faults *Faults
	// Timing shrinks the cluster's deadlines; zero fields keep the production values.
	Timing Timing
}

// Timing holds the cluster deadlines a test may shrink. Zero fields keep the defaults.
type Timing struct {
	// Raft is raft's heartbeat and election timeout (store default 300ms).
	Raft time.Duration
	// Apply bounds how long a write waits for a leader before it answers ErrNoLeader (store
	// default 10s).
	Apply time.Duration
	// Heartbeat is how often the node proposes its liveness heartbeat (default
	// state.HeartbeatInterval). The election's live window in the FSM stays state.LiveWindow.
	Heartbeat time.Duration
	// Supervise are the leader's deadlines: round timeout, liveness, lost grace, voter grace.
	Supervise scheduler.Deadlines
}

// errPartitioned is what a connection across a cut link reports.
var errPartitioned = errors.New("link to the peer is cut (test fault injection)")

// Faults cuts links between nodes, by node UID, for tests. One value is shared by every node of
// a test cluster. A cut pair cannot open connections to each other, and the connections already
// open between them (pooled raft and HTTP connections, both directions) fail at once.
type Faults struct {
	mu       sync.Mutex
	group    map[string]int  // node UID → partition group; nodes in no group reach everyone
	isolated map[string]bool // nodes cut from everyone
	conns    map[*faultConn]struct{}
}

// NewFaults makes a Faults with every link up.
func NewFaults() *Faults {
	return &Faults{group: map[string]int{}, isolated: map[string]bool{}, conns: map[*faultConn]struct{}{}}
}

// Partition splits the listed nodes into groups that cannot reach each other; it replaces the
// previous partition. A node in no group still reaches every node.
func (f *Faults) Partition(groups ...[]string) {
	f.mu.Lock()
	f.group = map[string]int{}
	for i, g := range groups {
		for _, uid := range g {
			f.group[uid] = i
		}
	}
	f.mu.Unlock()
	f.dropCut()
}

// Isolate cuts a node from every other node (until Reconnect or Heal).
func (f *Faults) Isolate(uid string) {
	f.mu.Lock()
	f.isolated[uid] = true
	f.mu.Unlock()
	f.dropCut()
}

// Reconnect undoes Isolate.
func (f *Faults) Reconnect(uid string) {
	f.mu.Lock()
	delete(f.isolated, uid)
	f.mu.Unlock()
}

// Heal removes every partition and isolation.
func (f *Faults) Heal() {
	f.mu.Lock()
	f.group = map[string]int{}
	f.isolated = map[string]bool{}
	f.mu.Unlock()
}

// Cut reports whether nodes a and b cannot reach each other now. A nil Faults cuts nothing.
func (f *Faults) Cut(a, b string) bool {
	if f == nil || a == "" || b == "" || a == b {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cutLocked(a, b)
}

func (f *Faults) cutLocked(a, b string) bool {
	if f.isolated[a] || f.isolated[b] {
		return true
	}
	ga, oka := f.group[a]
	gb, okb := f.group[b]
	return oka && okb && ga != gb
}

// dropCut closes the open connections of every pair that is cut now.
func (f *Faults) dropCut() {
	f.mu.Lock()
	var drop []*faultConn
	for c := range f.conns {
		if p := c.peerUID(); p != "" && f.cutLocked(c.self, p) {
			drop = append(drop, c)
		}
	}
	f.mu.Unlock()
	for _, c := range drop {
		c.Close()
	}
}

// wrap watches c, a connection of node self to a peer whose UID is told later by identify (it
// is known only once the TLS handshake is done). A nil Faults returns c unchanged.
func (f *Faults) wrap(self string, c net.Conn) net.Conn {
	if f == nil {
		return c
	}
	fc := &faultConn{Conn: c, f: f, self: self}
	f.mu.Lock()
	f.conns[fc] = struct{}{}
	f.mu.Unlock()
	return fc
}

// identify records the peer of a connection made by wrap (found under any TLS layer) and
// fails when the pair is cut.
func (f *Faults) identify(c net.Conn, peer string) error {
	if f == nil {
		return nil
	}
	fc, ok := c.(*faultConn)
	if !ok {
		return nil
	}
	fc.peer.Store(&peer)
	if f.Cut(fc.self, peer) {
		fc.Close()
		return errPartitioned
	}
	return nil
}

// faultConn is a connection that fails once its pair of nodes is cut.
type faultConn struct {
	net.Conn
	f    *Faults
	self string
	peer atomic.Pointer[string]
	once sync.Once
}

func (c *faultConn) peerUID() string {
	if p := c.peer.Load(); p != nil {
		return *p
	}
	return ""
}

func (c *faultConn) cut() bool { return c.f.Cut(c.self, c.peerUID()) }

func (c *faultConn) Read(p []byte) (int, error) {
	if c.cut() {
		c.Close()
		return 0, errPartitioned
	}
	return c.Conn.Read(p)
}

func (c *faultConn) Write(p []byte) (int, error) {
	if c.cut() {
		c.Close()
		return 0, errPartitioned
	}
	return c.Conn.Write(p)
}

func (c *faultConn) Close() error {
	c.once.Do(func() {
		c.f.mu.Lock()
		delete(c.f.conns, c)
		c.f.mu.Unlock()
	})
	return c.Conn.Close()
}

// tick pokes c every interval (without blocking) until ctx ends: the heartbeat loop beats on
// each poke, so a test can beat more often than state.HeartbeatInterval.
func tick(ctx context.Context, every time.Duration, c chan<- struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
}

// IsLeader reports whether the node leads the cluster now (tests and benchmarks).
func (n *Node) IsLeader() bool { return n.st.IsLeader() }
