package testcluster

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// deallocateAll deallocates every application of snap that is not final (acknowledged or not)
// and waits until each is final.
func deallocateAll(t *testing.T, c *Cluster, h *History, snap *Snapshot) {
	t.Helper()
	nodes := c.Running()
	var todo []model.UID
	for _, a := range snap.Apps {
		if !a.Status.Final() {
			todo = append(todo, a.UID)
		}
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				err := c.DeallocateRetrying(h, todo[i], nodes[i%len(nodes)].Index, 20*time.Second)
				if err != nil && StatusOf(err) != 400 { // 400: it became final meanwhile
					t.Errorf("deallocate %s: %v", todo[i], err)
				}
			}
		})
	}
	for i := range todo {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, app := range todo {
		c.WaitStatus(t, nodes[i%len(nodes)], app, allocWithin, model.StatusDeallocated, model.StatusRecalled, model.StatusError)
	}
}

// byUID finds the node of a UID.
func byUID(c *Cluster, uid string) *Node {
	for _, nd := range c.Nodes() {
		if nd.UID() == uid {
			return nd
		}
	}
	return nil
}

// TestKillLeaderDuringBurst kills the leader while 100 applications are being created
// round-robin through every node: every acknowledged application is allocated exactly once;
// the killed node comes back with its state and nothing is left behind.
func TestKillLeaderDuringBurst(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, Options{})
	l := c.CreateLabel(t, c.Node(0), "burst", TestDef(1, 1, nil))
	leader := c.Leader()
	var h History
	var started atomic.Int32
	killNow := make(chan struct{})
	var wg sync.WaitGroup
	const total, workers = 100, 8
	next := atomic.Int32{}
	for range workers {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= total {
					return
				}
				if started.Add(1) == total/3 {
					close(killNow)
				}
				if _, err := c.CreateRetrying(&h, l.UID, k, 30*time.Second); err != nil {
					t.Errorf("creation %d: %v", k, err)
					return
				}
			}
		})
	}
	<-killNow
	killedAt := time.Now()
	c.Kill(leader.Index)
	wg.Wait()
	if t.Failed() {
		return
	}
	newLeader := c.Leader()
	t.Logf("killed leader %s; %s leads; writes accepted again %v after the kill; %d of %d attempts failed",
		leader.Name, newLeader.Name, acceptedAfter(&h, killedAt).Round(time.Millisecond), h.Failed("create"), len(h.Ops()))
	acked := h.Acked()
	if len(acked) != total {
		t.Fatalf("%d acknowledged creations, want %d", len(acked), total)
	}
	survivor := c.Running()
	for i, app := range acked {
		c.WaitStatus(t, survivor[i%len(survivor)], app, 30*time.Second, model.StatusAllocated)
	}
	t.Logf("all %d allocated %v after the kill", total, time.Since(killedAt).Round(time.Millisecond))
	c.Check(t, &h, Expect{Allocated: true})

	// The killed node comes back (on a new port) with its state, and cleans up after itself.
	c.Restart(leader.Index)
	snap := c.Check(t, &h, Expect{Allocated: true})
	t.Logf("%s back and checked %v after the kill", leader.Name, time.Since(killedAt).Round(time.Millisecond))
	deallocateAll(t, c, &h, snap)
	c.Check(t, &h, Expect{Allocated: true})
	t.Logf("all deallocated and checked %v after the kill", time.Since(killedAt).Round(time.Millisecond))
}

// TestKillAllocatingNode kills the node that won an election while its driver is still
// allocating: the application is elected again elsewhere and allocated exactly once; the killed
// node restarts without leftovers.
func TestKillAllocatingNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, Options{})
	l := c.CreateLabel(t, c.Node(0), "slow", TestDef(1, 1, map[string]any{"allocate_delay": "1500ms"}))
	var h History
	start := time.Now()
	a, err := c.CreateApp(context.Background(), c.Node(1), l.UID)
	h.Record("create", 1, a.UID, err, start)
	if err != nil {
		t.Fatal(err)
	}
	var elected *Node
	if err := poll(10*time.Second, func() bool {
		snap, err := ReadSnapshot(c.Node(1))
		if err != nil || snap.Apps[a.UID] == nil || snap.Apps[a.UID].Status != model.StatusElected {
			return false
		}
		elected = byUID(c, snap.Apps[a.UID].NodeUID)
		return elected != nil
	}); err != nil {
		t.Fatalf("application %s not elected: %v", a.UID, err)
	}
	c.Kill(elected.Index)
	killed := time.Now()
	other := c.Running()[0]
	c.WaitStatus(t, other, a.UID, 20*time.Second, model.StatusAllocated)
	t.Logf("killed %s while allocating; allocated elsewhere %v later", elected.Name, time.Since(killed).Round(time.Millisecond))
	snap := c.Check(t, &h, Expect{Allocated: true})
	if got := snap.Apps[a.UID].NodeUID; got == elected.UID() {
		t.Fatalf("application allocated on the killed node %s", elected.Name)
	}
	c.Restart(elected.Index)
	snap = c.Check(t, &h, Expect{Allocated: true})
	deallocateAll(t, c, &h, snap)
	c.Check(t, &h, Expect{Allocated: true})
}

// TestPartitionMinority cuts one node (a follower, then the leader) from the two others: writes
// through it answer 503 within a bounded time while reads still work, the majority keeps
// allocating, and after the heal the cluster converges with nothing allocated twice or left.
func TestPartitionMinority(t *testing.T) {
	t.Parallel()
	for _, who := range []string{"follower", "leader"} {
		t.Run(who, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, 3, Options{})
			l := c.CreateLabel(t, c.Node(0), "part", TestDef(1, 1, nil))
			var h History
			before, err := c.CreateRetrying(&h, l.UID, 0, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.WaitStatus(t, c.Node(0), before, allocWithin, model.StatusAllocated)

			leader := c.Leader()
			minority := leader
			if who == "follower" {
				minority = c.Node((leader.Index + 1) % 3)
			}
			var majority []int
			for _, nd := range c.Nodes() {
				if nd != minority {
					majority = append(majority, nd.Index)
				}
			}
			c.Partition([]int{minority.Index}, majority)
			cut := time.Now()

			// Writes through the minority answer 503, in bounded time; reads still work.
			start := time.Now()
			a, err := c.CreateApp(context.Background(), minority, l.UID)
			h.Record("create", minority.Index, a.UID, err, start)
			took := time.Since(start)
			if StatusOf(err) != 503 {
				t.Fatalf("create through the cut-off %s: %v, want status 503", minority.Name, err)
			}
			if took > DefaultTiming().Apply+3*time.Second {
				t.Errorf("the 503 took %v", took)
			}
			if _, err := c.AppState(context.Background(), minority, before); err != nil {
				t.Errorf("read through the cut-off %s: %v", minority.Name, err)
			}

			// The majority keeps allocating.
			var during []model.UID
			for i := range 6 {
				app, err := c.CreateRetrying(&h, l.UID, majority[i%2], 15*time.Second)
				if err != nil {
					t.Fatalf("create through the majority: %v", err)
				}
				during = append(during, app)
			}
			for _, app := range during {
				c.WaitStatus(t, c.Node(majority[0]), app, allocWithin, model.StatusAllocated)
			}
			t.Logf("%s %s cut off: 503 after %v; the majority allocated %d applications within %v",
				who, minority.Name, took.Round(time.Millisecond), len(during), time.Since(cut).Round(time.Millisecond))

			c.Heal()
			snap := c.Check(t, &h, Expect{Allocated: true})
			for _, app := range during {
				if snap.Apps[app].NodeUID == minority.UID() {
					t.Errorf("application %s created during the partition is on the cut-off node", app)
				}
			}
			// The healed node takes writes again.
			if _, err := c.CreateRetrying(&h, l.UID, minority.Index, 15*time.Second); err != nil {
				t.Fatalf("create after the heal: %v", err)
			}
			snap = c.Check(t, &h, Expect{})
			deallocateAll(t, c, &h, snap)
			c.Check(t, &h, Expect{})
		})
	}
}

// TestNoQuorum stops two of three nodes: a write through the survivor answers 503 within the
// production apply timeout (10 s) and never hangs; reads still work.
func TestNoQuorum(t *testing.T) {
	t.Parallel()
	timing := DefaultTiming()
	timing.Apply = 0 // the production bound
	c := newCluster(t, 3, Options{Timing: timing})
	l := c.CreateLabel(t, c.Node(0), "quorum", TestDef(1, 1, nil))
	var h History
	app, err := c.CreateRetrying(&h, l.UID, 0, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitStatus(t, c.Node(0), app, allocWithin, model.StatusAllocated)
	c.Stop(1)
	c.Stop(2)
	survivor := c.Node(0)
	start := time.Now()
	_, err = c.CreateApp(context.Background(), survivor, l.UID)
	took := time.Since(start)
	if StatusOf(err) != 503 {
		t.Fatalf("create without quorum: %v, want status 503", err)
	}
	if took > 12*time.Second {
		t.Errorf("the 503 took %v, want about 10s at most", took)
	}
	t.Logf("no quorum: 503 after %v: %v", took.Round(time.Millisecond), err)
	if _, err := c.AppState(context.Background(), survivor, app); err != nil {
		t.Errorf("read without quorum: %v", err)
	}
	// The stopped nodes come back and the cluster serves writes again.
	c.Restart(1)
	c.Restart(2)
	if _, err := c.CreateRetrying(&h, l.UID, 0, 15*time.Second); err != nil {
		t.Fatalf("create after the restart: %v", err)
	}
	c.Check(t, &h, Expect{})
}

// acceptedAfter is how long after t the first write that started after t was acknowledged.
func acceptedAfter(h *History, t time.Time) time.Duration {
	var first time.Time
	for _, op := range h.Ops() {
		if op.Err == nil && op.Start.After(t) && (first.IsZero() || op.End.Before(first)) {
			first = op.End
		}
	}
	if first.IsZero() {
		return -1
	}
	return first.Sub(t)
}

// TestLostNode kills a node that holds an allocation: once it has been away longer than the
// lost grace, its application is marked ERROR naming it; when it comes back it tears the
// resource down.
func TestLostNode(t *testing.T) {
	t.Parallel()
	timing := DefaultTiming()
	timing.Supervise.LostGrace = 3 * time.Second
	c := newCluster(t, 3, Options{Timing: timing})
	l := c.CreateLabel(t, c.Node(0), "lost", TestDef(1, 1, nil))
	leader := c.Leader()
	var h History
	var app model.UID
	var holder *Node
	for i := 0; holder == nil; i++ {
		if i == 20 {
			t.Fatal("no application allocated on a follower in 20 tries")
		}
		a, err := c.CreateRetrying(&h, l.UID, i, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.WaitStatus(t, leader, a, allocWithin, model.StatusAllocated)
		snap, err := ReadSnapshot(leader)
		if err != nil {
			t.Fatal(err)
		}
		if nd := byUID(c, snap.Apps[a].NodeUID); nd != leader {
			app, holder = a, nd
		}
	}
	c.Kill(holder.Index)
	killed := time.Now()
	st := c.WaitStatus(t, leader, app, timing.Supervise.LostGrace+15*time.Second, model.StatusError)
	if !strings.Contains(st.Description, holder.UID()) {
		t.Errorf("the ERROR state %q does not name the lost node %s", st.Description, holder.UID())
	}
	t.Logf("%s killed: its application marked %s after %v: %q", holder.Name, st.Status, time.Since(killed).Round(time.Millisecond), st.Description)
	c.Restart(holder.Index)
	snap := c.Check(t, &h, Expect{})
	if snap.Apps[app].Resource != nil {
		t.Errorf("the lost application keeps its resource after %s came back", holder.Name)
	}
}
