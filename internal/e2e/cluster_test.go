package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// memberInfo is a node as GET /api/v1/node/ lists it, with its raft role.
type memberInfo struct {
	UID       string    `json:"UID"`
	Address   string    `json:"address"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	UpdatedAt time.Time `json:"updated_at"`
}

// startMember starts a node that joins the cluster of seed, as an operator would: the seed's
// ca.crt and ca.key copied into the new node's data directory, and cluster_join naming the
// seed's API address. It must not print an admin password: users come from the cluster.
func startMember(t *testing.T, seed *fishNode, name string) *fishNode {
	t.Helper()
	nodeSlots <- struct{}{}
	opts := nodeOpts{name: name, unlimited: true, extra: []string{fmt.Sprintf("cluster_join: [%q]", seed.addr)}}
	n := &fishNode{opts: opts, dir: t.TempDir(), http: newHTTPClient(), token: seed.token}
	t.Cleanup(func() {
		n.cleanup(t)
		<-nodeSlots
	})
	if err := os.WriteFile(filepath.Join(n.dir, "config.yml"), []byte(opts.configYAML()), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(n.dir, "fish_data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.crt", "ca.key"} {
		b, err := os.ReadFile(filepath.Join(seed.dir, "fish_data", f))
		if err != nil {
			t.Fatalf("copy the cluster CA: %v", err)
		}
		if err := os.WriteFile(filepath.Join(data, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := n.launch(t)
	if l, ok := p.out.find(func(l string) bool { return strings.HasPrefix(l, adminPassPrefix) }); ok {
		t.Errorf("joining node %s printed an admin password: %q", name, l)
	}
	var this nodeInfo
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/node/this/", nil, &this)
	n.uid = this.UID
	return n
}

// members lists the nodes as n sees them (nil when n does not answer).
func (n *fishNode) members() []memberInfo {
	var out []memberInfo
	if err := n.try(n.adminCred(), http.MethodGet, "/api/v1/node/", nil, &out); err != nil {
		return nil
	}
	return out
}

// clusterLeader polls the nodes until one of them names a leader among nodes, and returns it.
func clusterLeader(t *testing.T, nodes []*fishNode, d time.Duration) *fishNode {
	t.Helper()
	var leader *fishNode
	poll(d, func() bool {
		for _, asked := range nodes {
			for _, m := range asked.members() {
				if m.Role != "leader" {
					continue
				}
				for _, n := range nodes {
					if n.uid == m.UID {
						leader = n
						return true
					}
				}
			}
		}
		return false
	})
	if leader == nil {
		t.Fatalf("no leader among the running nodes within %v", d)
	}
	return leader
}

// TestClusterOfThreeProcesses runs three binaries as a user would: a seed, and two nodes that
// got the seed's CA and cluster_join. An application created through one node is read and
// allocated through another; SIGINT to the leader leaves a new leader within seconds and writes
// work again; the stopped node restarts (on a new port) and rejoins with its state.
func TestClusterOfThreeProcesses(t *testing.T) {
	// Not parallel: it needs three node slots at once, and taking them one by one while other
	// tests hold the rest could wait forever.
	seed := startNode(t, nodeOpts{name: "seed", unlimited: true})
	m1 := startMember(t, seed, "member-1")
	m2 := startMember(t, seed, "member-2")
	nodes := []*fishNode{seed, m1, m2}

	// Every node lists the three members.
	for _, n := range nodes {
		if !poll(10*time.Second, func() bool { return len(n.members()) == 3 }) {
			t.Fatalf("%s lists %+v, want three nodes", n.opts.name, n.members())
		}
	}

	l := seed.createLabel(t, "cluster", 1, def(1, 1))
	before := m1.createApp(t, m1.adminCred(), l.UID, nil)
	m2.waitAllocatedAnywhere(t, before.UID)

	// SIGINT to the leader: the others elect a new one within seconds and accept writes.
	leader := clusterLeader(t, nodes, 10*time.Second)
	var survivors []*fishNode
	for _, n := range nodes {
		if n != leader {
			survivors = append(survivors, n)
		}
	}
	oldAddr := leader.addr
	leader.stop(t)
	stopped := time.Now()
	next := clusterLeader(t, survivors, 10*time.Second)
	var during application
	if !poll(10*time.Second, func() bool {
		return survivors[0].try(survivors[0].adminCred(), http.MethodPost, "/api/v1/application/",
			map[string]any{"label_UID": l.UID}, &during) == nil
	}) {
		t.Fatalf("no write accepted through %s within 10s of the leader's stop", survivors[0].opts.name)
	}
	t.Logf("leader %s stopped; %s leads; writes accepted again after %v",
		leader.opts.name, next.opts.name, time.Since(stopped).Round(time.Millisecond))
	survivors[1].waitAllocatedAnywhere(t, during.UID)

	// The stopped node comes back (a new port) with its state and what happened meanwhile.
	restart := time.Now()
	leader.start(t)
	t.Logf("%s restarted in %v", leader.opts.name, time.Since(restart).Round(time.Millisecond))
	if leader.addr == oldAddr {
		t.Logf("%s came back on the same address %s", leader.opts.name, oldAddr)
	}
	leader.waitStatus(t, before.UID, "ALLOCATED", allocDeadline) // its state came back
	leader.waitStatus(t, during.UID, "ALLOCATED", allocDeadline) // it caught up before serving
	if !poll(15*time.Second, func() bool {
		for _, m := range next.members() {
			if m.UID == leader.uid {
				return m.Address == leader.addr && m.Role != ""
			}
		}
		return false
	}) {
		t.Fatalf("the cluster does not list %s as a member at %s: %+v", leader.opts.name, leader.addr, next.members())
	}
	t.Logf("%s listed at its new address %v after the restart", leader.opts.name, time.Since(restart).Round(time.Millisecond))
	after := leader.createApp(t, leader.adminCred(), l.UID, nil)
	leader.waitStatus(t, after.UID, "ALLOCATED", allocDeadline)
	for _, n := range survivors {
		n.waitAllocatedAnywhere(t, after.UID)
	}
}

// waitAllocatedAnywhere waits until n tells that app is ALLOCATED. The application may have
// been created through another node: until the write reaches n, n answers 404.
func (n *fishNode) waitAllocatedAnywhere(t *testing.T, app string) {
	t.Helper()
	var s appState
	var err error
	if !poll(allocDeadline, func() bool {
		err = n.try(n.adminCred(), http.MethodGet, "/api/v1/application/"+app+"/state", nil, &s)
		return err == nil && s.Status == "ALLOCATED"
	}) {
		t.Fatalf("application %s through %s: status %q (%v), want ALLOCATED within %v", app, n.opts.name, s.Status, err, allocDeadline)
	}
}
