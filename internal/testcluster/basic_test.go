package testcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// allocWithin bounds NEW → ALLOCATED on a healthy cluster (normally milliseconds).
const allocWithin = 15 * time.Second

func TestSingleNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, Options{})
	nd := c.Leader()
	l := c.CreateLabel(t, nd, "one", TestDef(1, 1, nil))
	var h History
	start := time.Now()
	a, err := c.CreateApp(context.Background(), nd, l.UID)
	h.Record("create", 0, a.UID, err, start)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitStatus(t, nd, a.UID, allocWithin, model.StatusAllocated)
	c.Check(t, &h, Expect{Allocated: true})
}

// TestAnyNodeServesAnyObject creates through every node in turn, reads each write back at once
// through the node it was written through, waits for the allocation through the next node and
// deallocates through the third.
func TestAnyNodeServesAnyObject(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, Options{})
	ctx := context.Background()
	l := c.CreateLabel(t, c.Node(1), "any", TestDef(1, 1, nil))
	var h History
	var apps []model.UID
	for i := range 6 {
		nd := c.Node(i % 3)
		start := time.Now()
		a, err := c.CreateApp(ctx, nd, l.UID)
		h.Record("create", nd.Index, a.UID, err, start)
		if err != nil {
			t.Fatalf("create through %s: %v", nd.Name, err)
		}
		// Read-your-writes on the node written through, follower or leader.
		if _, err := c.AppState(ctx, nd, a.UID); err != nil {
			t.Fatalf("read back through %s right after the create: %v", nd.Name, err)
		}
		apps = append(apps, a.UID)
	}
	for i, app := range apps {
		c.WaitStatus(t, c.Node((i+1)%3), app, allocWithin, model.StatusAllocated)
	}
	for i, app := range apps {
		nd := c.Node((i + 2) % 3)
		start := time.Now()
		err := c.Deallocate(ctx, nd, app)
		h.Record("deallocate", nd.Index, app, err, start)
		if err != nil {
			t.Fatalf("deallocate through %s: %v", nd.Name, err)
		}
	}
	for i, app := range apps {
		c.WaitStatus(t, c.Node(i%3), app, allocWithin, model.StatusDeallocated)
	}
	snap := c.Check(t, &h, Expect{Allocated: true})
	for _, app := range apps {
		if a := snap.Apps[app]; a.Resource != nil {
			t.Errorf("application %s keeps its resource after DEALLOCATED", app)
		}
	}
}

// TestNodeListEverywhere: every node lists every node with its address, raft role and the
// time it was last seen.
func TestNodeListEverywhere(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, Options{})
	leader := c.Leader()
	for _, nd := range c.Running() {
		var nodes []model.Node
		err := poll(10*time.Second, func() bool {
			var err error
			nodes, err = c.NodeList(context.Background(), nd)
			if err != nil || len(nodes) != 3 {
				return false
			}
			for _, n := range nodes {
				if n.Role == "" {
					return false
				}
			}
			return true
		})
		if err != nil {
			t.Fatalf("%s lists %+v", nd.Name, nodes)
		}
		roles := map[string]int{}
		for _, n := range nodes {
			roles[n.Role]++
			if n.Address == "" || n.UpdatedAt.IsZero() {
				t.Errorf("%s lists node %s without address or updated_at: %+v", nd.Name, n.Name, n)
			}
			if time.Since(n.UpdatedAt) > time.Minute {
				t.Errorf("%s lists node %s last seen at %v", nd.Name, n.Name, n.UpdatedAt)
			}
			if n.Role == "leader" && n.UID.String() != leader.UID() {
				t.Errorf("%s says %s leads, the leader is %s", nd.Name, n.Name, leader.Name)
			}
			for _, other := range c.Running() {
				if other.UID() == n.UID.String() && other.Addr() != n.Address {
					t.Errorf("%s lists %s at %s, it listens on %s", nd.Name, n.Name, n.Address, other.Addr())
				}
			}
		}
		if roles["leader"] != 1 || roles["voter"] != 2 {
			t.Errorf("%s lists roles %v, want one leader and two voters", nd.Name, roles)
		}
	}
}

// TestCleanStopIsQuiet: nodes stopped one after the other log no error about the connections
// their peers closed (raft reads a deliberately closed connection as its end).
func TestCleanStopIsQuiet(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, Options{})
	c.CreateLabel(t, c.Node(1), "quiet", TestDef(1, 1, nil))
	for i := range 3 {
		c.Stop(i)
	}
	for _, nd := range c.Nodes() {
		for _, l := range nd.Output().Lines() {
			if strings.Contains(l, "use of closed network connection") {
				t.Errorf("%s logged: %s", nd.Name, l)
			}
		}
	}
}
