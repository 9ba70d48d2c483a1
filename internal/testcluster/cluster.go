package testcluster

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/node"
	"github.com/aquarium-fish/aquarium-fish/internal/scheduler"

	_ "github.com/aquarium-fish/aquarium-fish/internal/driver/test" // the nodes run the test driver
)

// Options configure a cluster. The zero value runs DefaultTiming with info logs.
type Options struct {
	Timing node.Timing
	// DriverCfg adds keys to every node's test driver configuration (workspace_path is set).
	DriverCfg map[string]any
	// Debug logs at debug level (the logs are shown when the test fails).
	Debug bool
	// StartTimeout bounds a node's start (join included); 60s when zero.
	StartTimeout time.Duration
}

// DefaultTiming are the tight deadlines of in-process clusters: a leader is replaced within a
// few hundred milliseconds, a node is gone after a second and a half without heartbeat, an
// election round closes after a second, and a voter away for two seconds is replaced. Lost
// allocations are marked only after a minute, so slow tests do not trigger it by accident.
// Under the race detector, raft and liveness deadlines are stretched.
func DefaultTiming() node.Timing {
	return node.Timing{
		Raft:      150 * time.Millisecond * raceSlowdown,
		Apply:     3 * time.Second * raceSlowdown,
		Heartbeat: 200 * time.Millisecond,
		Supervise: scheduler.Deadlines{
			RoundTimeout: time.Second,
			LiveWindow:   1500 * time.Millisecond * raceSlowdown,
			LostGrace:    time.Minute,
			VoterGrace:   2 * time.Second * raceSlowdown,
			Every:        200 * time.Millisecond,
		},
	}
}

// Cluster is a set of nodes running in this process. Methods taking a node index refer to the
// order in which nodes were added (0 is the seed).
type Cluster struct {
	tb     testing.TB
	opts   Options
	Faults *node.Faults
	root   string

	mu       sync.Mutex
	nodes    []*Node
	password string
	client   *Client
}

// New starts a cluster of n nodes with the default options; it is stopped when the test ends.
func New(tb testing.TB, n int) *Cluster { return NewWith(tb, n, Options{}) }

// NewWith starts a cluster of n nodes: the seed first, then the others joining it.
func NewWith(tb testing.TB, n int, opts Options) *Cluster {
	tb.Helper()
	if opts.Timing == (node.Timing{}) {
		opts.Timing = DefaultTiming()
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	c := &Cluster{tb: tb, opts: opts, Faults: node.NewFaults(), root: tb.TempDir()}
	tb.Cleanup(c.close)
	seed := c.newNode(nil)
	if err := seed.start(); err != nil {
		tb.Fatalf("start the seed: %v", err)
	}
	pass, ok := seed.out.Find(func(l string) bool { return strings.HasPrefix(l, adminPassPrefix) })
	if !ok {
		tb.Fatalf("the seed printed no admin password")
	}
	c.password = strings.TrimPrefix(pass, adminPassPrefix)
	c.client = newClient(c.password)
	for range n - 1 {
		c.AddNode()
	}
	return c
}

const adminPassPrefix = "Admin user pass: "

// AddNode starts a new node that joins the cluster through the running members.
func (c *Cluster) AddNode() *Node {
	c.tb.Helper()
	var join []string
	for _, nd := range c.Nodes() {
		if nd.Running() {
			join = append(join, nd.Addr())
		}
	}
	nd := c.newNode(join)
	if err := nd.copyCA(c.Node(0).Dir); err != nil {
		c.tb.Fatal(err)
	}
	if err := nd.start(); err != nil {
		c.tb.Fatalf("start %s: %v", nd.Name, err)
	}
	return nd
}

func (c *Cluster) newNode(join []string) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := len(c.nodes)
	dir := filepath.Join(c.root, fmt.Sprintf("node-%d", i))
	nd := &Node{
		c:         c,
		Index:     i,
		Name:      fmt.Sprintf("node-%d", i),
		Dir:       filepath.Join(dir, "data"),
		Workspace: filepath.Join(dir, "workspace"),
		out:       newOutput(),
		join:      join,
	}
	c.nodes = append(c.nodes, nd)
	return nd
}

// Node returns node i.
func (c *Cluster) Node(i int) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Nodes returns every node ever added, running or not.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Running returns the nodes that run now.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, nd := range c.Nodes() {
		if nd.Running() {
			out = append(out, nd)
		}
	}
	return out
}

// Password is the admin password printed by the seed.
func (c *Cluster) Password() string { return c.password }

// Client is the admin's API client.
func (c *Cluster) Client() *Client { return c.client }

// Leader waits until exactly one running node leads and returns it.
func (c *Cluster) Leader() *Node {
	c.tb.Helper()
	nd, err := c.WaitLeader(15 * time.Second)
	if err != nil {
		c.tb.Fatal(err)
	}
	return nd
}

// WaitLeader waits up to timeout until exactly one running node leads.
func (c *Cluster) WaitLeader(timeout time.Duration) (*Node, error) {
	var found []*Node
	err := poll(timeout, func() bool {
		found = found[:0]
		for _, nd := range c.Running() {
			if nd.IsLeader() {
				found = append(found, nd)
			}
		}
		return len(found) == 1
	})
	if err != nil {
		return nil, fmt.Errorf("no single leader within %v (leaders: %d)", timeout, len(found))
	}
	return found[0], nil
}

// Stop stops node i gracefully (leadership hand-over, draining).
func (c *Cluster) Stop(i int) {
	c.tb.Helper()
	c.Node(i).stop()
}

// Kill crashes node i: its links are cut at once and it stops without any hand-over. Its
// resources stay in its workspace until it restarts.
func (c *Cluster) Kill(i int) {
	c.tb.Helper()
	c.Node(i).kill()
}

// Restart starts node i again in its data directory (on a new port). A running node is
// stopped gracefully first.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	nd := c.Node(i)
	if nd.Running() {
		nd.stop()
	}
	if err := nd.start(); err != nil {
		c.tb.Fatalf("restart %s: %v", nd.Name, err)
	}
}

// Partition splits the nodes into groups (by index) that cannot reach each other; nodes in no
// group reach everyone. Clients still reach every node.
func (c *Cluster) Partition(groups ...[]int) {
	var byUID [][]string
	for _, g := range groups {
		var uids []string
		for _, i := range g {
			uids = append(uids, c.Node(i).UID())
		}
		byUID = append(byUID, uids)
	}
	c.Faults.Partition(byUID...)
}

// Heal ends every partition (killed nodes stay cut until they restart).
func (c *Cluster) Heal() {
	c.Faults.Partition()
}

// close stops every running node and shows their logs when the test failed.
func (c *Cluster) close() {
	var wg sync.WaitGroup
	for _, nd := range c.Nodes() {
		if nd.Running() {
			wg.Go(nd.stop)
		}
	}
	wg.Wait()
	c.client.close()
	if c.tb.Failed() {
		for _, nd := range c.Nodes() {
			c.tb.Logf("==== %s (%s) output, last lines:\n%s", nd.Name, nd.UID(), nd.out.Tail(150))
		}
	}
}

// poll calls ok every few milliseconds until it returns true or timeout passes.
func poll(timeout time.Duration, ok func() bool) error {
	return pollEvery(5*time.Millisecond, timeout, ok)
}

// pollEvery calls ok every interval until it returns true or timeout passes.
func pollEvery(interval, timeout time.Duration, ok func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if ok() {
			return nil
		}
		select {
		case <-deadline.C:
			if ok() {
				return nil
			}
			return fmt.Errorf("not done within %v", timeout)
		case <-tick.C:
		}
	}
}
