package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDefinitionChoice: the first definition that fits the node (cpu 4, ram 8) is allocated
// (behaviour.md §2.5).
func TestDefinitionChoice(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8})
	cases := []struct {
		name string
		defs []definition
		want int
	}{
		{"first fits", []definition{def(4, 8), def(2, 4), def(8, 16)}, 0},
		{"second fits", []definition{def(8, 16), def(4, 8), def(2, 4)}, 1},
		{"third fits", []definition{def(8, 16), def(6, 6), def(4, 8), def(2, 4)}, 2},
		{"capacity check fails", []definition{withOptions(def(1, 1), `{"fail_available_capacity":255}`), def(1, 1)}, 1},
	}
	for i, c := range cases {
		l := n.createLabel(t, "multi", i, c.defs...)
		a, res := n.allocate(t, n.adminCred(), l.UID)
		if res.DefinitionIndex != c.want {
			t.Errorf("%s: definition_index %d, want %d", c.name, res.DefinitionIndex, c.want)
		}
		n.release(t, a.UID)
	}
}

// TestTooBigStaysNew: an application nobody can serve stays NEW; deallocating it recalls it.
func TestTooBigStaysNew(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8})
	l := n.createLabel(t, "too-big", 1, def(8, 16), def(4, 9))
	a := n.createApp(t, n.adminCred(), l.UID, nil)
	st := n.state(t, a.UID)
	if st.Status != "NEW" || st.Description != "Just created by Fish node-1" {
		t.Errorf("state = %s %q, want NEW \"Just created by Fish node-1\"", st.Status, st.Description)
	}
	n.stays(t, a.UID, "NEW", 2*stayDuration)
	n.noResource(t, a.UID)
	ds := n.deallocate(t, n.adminCred(), a.UID)
	if ds.Status != "RECALLED" || ds.Description != "Requested by user admin" {
		t.Errorf("deallocate answer = %s %q, want RECALLED \"Requested by user admin\"", ds.Status, ds.Description)
	}
	n.waitStatus(t, a.UID, "RECALLED", deallocDeadline)
	n.stays(t, a.UID, "RECALLED", 300*time.Millisecond)
	status, body := n.admin(t, "GET", "/api/v1/application/"+a.UID+"/deallocate", nil)
	expect(t, "deallocate a recalled application", status, body, 400)

	// The node still serves what fits.
	small := n.createLabel(t, "small", 1, def(1, 1))
	b, _ := n.allocate(t, n.adminCred(), small.UID)
	n.release(t, b.UID)
}

// TestWaitForCapacity: with room for one 4-CPU application, the second waits until the first
// is deallocated.
func TestWaitForCapacity(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8})
	l := n.createLabel(t, "four", 1, def(4, 4))
	first := n.createApp(t, n.adminCred(), l.UID, nil)
	second := n.createApp(t, n.adminCred(), l.UID, nil)
	n.waitStatus(t, first.UID, "ALLOCATED", allocDeadline)
	n.stays(t, second.UID, "NEW", stayDuration)
	n.release(t, first.UID)
	n.waitStatus(t, second.UID, "ALLOCATED", waitingDeadline)
	n.release(t, second.UID)
}

// TestCapacityAcrossRestart: three 2-CPU applications on room for two, with a restart in the
// middle: recovered allocations keep their capacity, the waiting one stays waiting.
func TestCapacityAcrossRestart(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8})
	l := n.createLabel(t, "two", 1, def(2, 4))
	apps := make([]application, 3)
	for i := range apps {
		apps[i] = n.createApp(t, n.adminCred(), l.UID, nil)
	}
	n.waitStatus(t, apps[0].UID, "ALLOCATED", allocDeadline)
	n.waitStatus(t, apps[1].UID, "ALLOCATED", allocDeadline)
	n.stays(t, apps[2].UID, "NEW", stayDuration)
	res0 := n.resourceOf(t, apps[0].UID)
	res1 := n.resourceOf(t, apps[1].UID)

	n.restart(t)
	for i, want := range []string{"ALLOCATED", "ALLOCATED", "NEW"} {
		if st := n.state(t, apps[i].UID); st.Status != want {
			t.Errorf("right after restart app %d is %s, want %s", i, st.Status, want)
		}
	}
	n.stays(t, apps[2].UID, "NEW", stayDuration)
	for i, want := range []string{"ALLOCATED", "ALLOCATED"} {
		if st := n.state(t, apps[i].UID); st.Status != want {
			t.Errorf("after restart app %d is %s, want %s", i, st.Status, want)
		}
	}
	if r := n.resourceOf(t, apps[0].UID); r.UID != res0.UID || r.Identifier != res0.Identifier {
		t.Errorf("recovered resource = %+v, want %+v", r, res0)
	}

	n.release(t, apps[0].UID)
	if n.markerExists(t, res0.Identifier) {
		t.Errorf("marker of the recovered resource is left after deallocation")
	}
	n.waitStatus(t, apps[2].UID, "ALLOCATED", waitingDeadline)
	if st := n.state(t, apps[1].UID); st.Status != "ALLOCATED" {
		t.Errorf("app 1 is %s, want ALLOCATED", st.Status)
	}
	n.release(t, apps[1].UID)
	n.release(t, apps[2].UID)
	if n.markerExists(t, res1.Identifier) {
		t.Errorf("marker of %s left", res1.Identifier)
	}
	if m := n.markers(t); len(m) != 0 {
		t.Errorf("markers left in fish_test_workspace: %v", m)
	}
}

// TestNodeFilter: node_filter patterns must each match one node identifier.
func TestNodeFilter(t *testing.T) {
	t.Parallel()
	t.Run("default identifiers", func(t *testing.T) {
		t.Parallel()
		n := startNode(t, nodeOpts{})
		n.filterCase(t, []string{"FishName:node-*"}, true)
		n.filterCase(t, []string{"FishName:node-1", "OS:*"}, true)
		n.filterCase(t, []string{"FishName:other-*"}, false)
		n.filterCase(t, []string{"FishName:node-1", "OS:plan9"}, false)
	})
	t.Run("configured identifiers", func(t *testing.T) {
		t.Parallel()
		n := startNode(t, nodeOpts{extra: []string{"node_identifiers:", "  - Rack:r1", "  - Pool:ci/linux"}})
		if _, ok := n.current().out.find(logMsg("Fish: Using the next node identifiers: [Rack:r1 Pool:ci/linux]")); !ok {
			t.Errorf("no log line with the configured identifiers")
		}
		n.filterCase(t, []string{"Rack:r1"}, true)
		n.filterCase(t, []string{"Rack:r?", "Pool:ci/linux"}, true)
		n.filterCase(t, []string{"Pool:ci*"}, false) // * does not match '/'
		n.filterCase(t, []string{"FishName:node-*"}, false)
	})
}

// filterCase allocates (or not) an application of a label with the node filter.
func (n *fishNode) filterCase(t *testing.T, filter []string, match bool) {
	t.Helper()
	d := def(1, 1)
	d.Resources.NodeFilter = filter
	l := n.createLabel(t, "filter-"+strings.Join(filter, "+"), 1, d)
	a := n.createApp(t, n.adminCred(), l.UID, nil)
	if match {
		n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
		n.release(t, a.UID)
		return
	}
	n.stays(t, a.UID, "NEW", stayDuration)
	n.deallocate(t, n.adminCred(), a.UID)
	n.waitStatus(t, a.UID, "RECALLED", deallocDeadline)
}

// TestVotes: GET /api/v1/vote/ lists the votes, for admin only.
func TestVotes(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "someone")
	l := n.createLabel(t, "votes", 1, def(8, 16), def(1, 1))
	a, _ := n.allocate(t, u, l.UID)

	var votes []vote
	body := n.mustJSON(t, n.adminCred(), "GET", "/api/v1/vote/", nil, &votes)
	checkLayout(t, "vote list", body)
	if len(votes) == 0 {
		t.Fatalf("no votes: %s", body)
	}
	var raw []json.RawMessage
	_ = json.Unmarshal(body, &raw)
	if keys := objectKeys(t, raw[0]); strings.Join(keys, ",") != "UID,application_UID,available,created_at,node_UID,rand,round" {
		t.Errorf("vote keys %v", keys)
	}
	v := votes[0]
	n.checkUID(t, "vote", v.UID)
	if v.ApplicationUID != a.UID || v.NodeUID != n.uid || v.Available != 1 || v.Round != 0 {
		t.Errorf("vote = %+v, want app %s node %s available 1 round 0", v, a.UID, n.uid)
	}
	n.mustJSON(t, n.adminCred(), "GET", withFilter("/api/v1/vote/", "application_uid = '"+a.UID+"'"), nil, &votes)
	if len(votes) == 0 {
		t.Errorf("vote filter on application_uid found nothing")
	}
	status, b := n.as(t, u, "GET", "/api/v1/vote/", nil)
	expect(t, "vote list as a user", status, b, 403)
}
