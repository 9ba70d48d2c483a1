package testcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/config"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/tlsutil"
)

// roles returns the raft roles by node UID as nd lists them.
func roles(c *Cluster, nd *Node) map[string]string {
	nodes, err := c.NodeList(context.Background(), nd)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, n := range nodes {
		out[n.UID.String()] = n.Role
	}
	return out
}

// waitRoles waits until the leader lists want (UID → role; "" = not a member).
func waitRoles(t *testing.T, c *Cluster, timeout time.Duration, want map[string]string) {
	t.Helper()
	var got map[string]string
	err := poll(timeout, func() bool {
		l, err := c.WaitLeader(time.Second)
		if err != nil {
			return false
		}
		got = roles(c, l)
		for uid, role := range want {
			if got[uid] != role {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("roles %v, want %v", got, want)
	}
}

// TestFiveVotersThenNonVoter: five nodes are five voters; a sixth joins as a non-voter; when a
// voter is killed, the non-voter replaces it after the grace period; the killed node comes back
// as a non-voter, with its state, on a new address.
func TestFiveVotersThenNonVoter(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 5, Options{})
	leader := c.Leader()
	want := map[string]string{}
	for _, nd := range c.Running() {
		want[nd.UID()] = "voter"
	}
	want[leader.UID()] = "leader"
	waitRoles(t, c, 10*time.Second, want)

	sixth := c.AddNode()
	want[sixth.UID()] = "nonvoter"
	waitRoles(t, c, 10*time.Second, want)

	victim := c.Node((leader.Index + 1) % 5)
	l := c.CreateLabel(t, leader, "five", TestDef(1, 1, nil))
	var h History
	app, err := c.CreateRetrying(&h, l.UID, sixth.Index, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitStatus(t, sixth, app, allocWithin, model.StatusAllocated)

	c.Kill(victim.Index)
	killed := time.Now()
	want[victim.UID()] = ""
	want[sixth.UID()] = "voter"
	waitRoles(t, c, 20*time.Second, want)
	t.Logf("voter %s killed: replaced by %s after %v", victim.Name, sixth.Name, time.Since(killed).Round(time.Millisecond))

	oldAddr := victim.Addr()
	c.Restart(victim.Index)
	want[victim.UID()] = "nonvoter"
	waitRoles(t, c, 20*time.Second, want)
	t.Logf("%s came back at %s (was %s)", victim.Name, victim.Addr(), oldAddr)
	// Its state came back, and the cluster lists it at its new address.
	if _, err := c.AppState(context.Background(), victim, app); err != nil {
		t.Fatalf("read through the restarted %s: %v", victim.Name, err)
	}
	if err := poll(10*time.Second, func() bool {
		nodes, err := c.NodeList(context.Background(), c.Leader())
		if err != nil {
			return false
		}
		for _, n := range nodes {
			if n.UID.String() == victim.UID() {
				return n.Address == victim.Addr()
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the cluster does not list %s at its new address %s", victim.Name, victim.Addr())
	}
	c.Check(t, &h, Expect{Allocated: true})
}

// TestStrangerRefused: a node whose certificate is not signed by the cluster CA cannot join,
// and both sides log why. Case "own CA": the stranger has its own CA (it refuses the members'
// certificates). Case "foreign cert": it trusts the cluster CA but its certificate is signed by
// another CA (the members refuse it).
func TestStrangerRefused(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, Options{})
	seed := c.Node(0)
	for _, tc := range []struct {
		name     string
		prepare  func(t *testing.T, nd *Node)
		stranger []string // what the stranger logs
		member   []string // what the seed logs
	}{
		{
			name:     "own CA",
			prepare:  func(*testing.T, *Node) {},
			stranger: []string{"unable to join the cluster yet", "not trusted by the cluster CA"},
			member:   []string{"a node refused this node's certificate"},
		},
		{
			name: "foreign cert",
			prepare: func(t *testing.T, nd *Node) {
				// The stranger's own CA issues its certificate; then it gets the cluster's
				// ca.crt (not its key), so its certificate stays foreign.
				p := tlsutil.NewPaths(nd.Dir, config.DefaultTLSCACrt, nd.Name+".crt", nd.Name+".key")
				if err := tlsutil.Ensure(p, nd.Name, config.DefaultNodeAddress); err != nil {
					t.Fatal(err)
				}
				ca, err := os.ReadFile(filepath.Join(seed.Dir, config.DefaultTLSCACrt))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p.CACert, ca, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(tlsutil.CAKeyPath(p.CACert)); err != nil {
					t.Fatal(err)
				}
			},
			stranger: []string{"unable to join the cluster yet", "401", "not signed by the cluster CA"},
			member:   []string{"refused a cluster request", "not trusted by the cluster CA"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			nd := c.newNode([]string{seed.Addr()})
			tc.prepare(t, nd)
			err := nd.startCtx(ctx)
			if err == nil {
				t.Fatalf("the stranger %s started", nd.Name)
			}
			if !nd.out.Contains(tc.stranger...) {
				t.Errorf("the stranger does not log %q; it logs:\n%s", tc.stranger, nd.out.Tail(20))
			}
			if !seed.out.Contains(tc.member...) {
				t.Errorf("the member does not log %q; it logs:\n%s", tc.member, seed.out.Tail(20))
			}
			if nodes, err := c.NodeList(context.Background(), seed); err != nil || len(nodes) != 1 {
				t.Errorf("the cluster lists %d nodes (%v), want the seed only", len(nodes), err)
			}
			for _, l := range nd.out.Lines() {
				if strings.HasPrefix(l, adminPassPrefix) {
					t.Errorf("a joining node printed an admin password")
				}
			}
		})
	}
}
