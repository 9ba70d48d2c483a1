package e2e

import (
	"fmt"
	"sort"
	"testing"
	"time"
)

// TestKillAfterWrites: every acknowledged write survives a SIGKILL that follows it at once, and
// the restarted node finishes what was in flight without leaking resources.
func TestKillAfterWrites(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{unlimited: true})
	u := n.createUser(t, "writer")
	var labels []label
	for i := range 30 {
		labels = append(labels, n.createLabel(t, fmt.Sprintf("burst-%02d", i), i, def(1, 1)))
	}
	d := def(1, 1)
	d.Resources.NodeFilter = []string{"FishName:elsewhere"}
	waiting := n.createLabel(t, "never-here", 1, d)
	var served, held []application
	for i := range 20 {
		if i%4 == 3 {
			held = append(held, n.createApp(t, u, waiting.UID, nil))
			continue
		}
		served = append(served, n.createApp(t, u, labels[i].UID, map[string]int{"i": i}))
	}
	last := n.createLabel(t, "last-write", 1, def(1, 1))
	n.kill9(t)

	n.start(t)
	n.mustJSON(t, u, "GET", "/api/v1/user/me/", nil, nil)
	for _, l := range append(labels, last) {
		var got label
		n.mustJSON(t, u, "GET", "/api/v1/label/"+l.UID, nil, &got)
		if got.Name != l.Name || got.Version != l.Version || !got.CreatedAt.Equal(l.CreatedAt) {
			t.Errorf("label after kill = %+v, want %+v", got, l)
		}
	}
	var apps []application
	n.mustJSON(t, u, "GET", "/api/v1/application/", nil, &apps)
	if len(apps) != len(served)+len(held) {
		t.Errorf("%d applications after kill, want %d", len(apps), len(served)+len(held))
	}
	for _, a := range served {
		n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
	}
	for _, a := range held {
		if st := n.state(t, a.UID); st.Status != "NEW" {
			t.Errorf("waiting application is %s after kill, want NEW", st.Status)
		}
	}

	// One marker per resource: nothing allocated twice, nothing leaked.
	var res []resource
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/resource/", nil, &res)
	if len(res) != len(served) {
		t.Errorf("%d resources, want %d", len(res), len(served))
	}
	var ids []string
	for _, r := range res {
		ids = append(ids, r.Identifier)
	}
	sort.Strings(ids)
	var markers []string
	if !poll(5*time.Second, func() bool {
		markers = n.markers(t)
		return fmt.Sprint(markers) == fmt.Sprint(ids)
	}) {
		t.Errorf("markers %v, want the resources' identifiers %v", markers, ids)
	}

	for _, a := range served {
		n.deallocate(t, u, a.UID)
	}
	for _, a := range served {
		n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline)
	}
	if m := n.markers(t); len(m) != 0 {
		t.Errorf("markers left after deallocating everything: %v", m)
	}
}

// TestRestartRecovery: a restart keeps users, labels and allocated applications; the recovered
// resource keeps its lifetime clock, runs tasks and deallocates normally.
func TestRestartRecovery(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "owner")
	keep := n.createLabel(t, "keep", 1, def(1, 1))
	timed := n.createLabel(t, "timed", 1, defLife(1, 1, "4s"))
	a, res := n.allocate(t, u, keep.UID)
	b, resB := n.allocate(t, u, timed.UID)
	nodeUID := n.uid

	n.restart(t)
	var this nodeInfo
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/node/this/", nil, &this)
	if this.UID != nodeUID {
		t.Errorf("node UID %s after restart, want %s", this.UID, nodeUID)
	}
	n.mustJSON(t, u, "GET", "/api/v1/label/"+keep.UID, nil, nil)
	if got := n.resourceOf(t, a.UID); got.UID != res.UID || got.Identifier != res.Identifier || !got.CreatedAt.Equal(res.CreatedAt) {
		t.Errorf("recovered resource %+v, want %+v", got, res)
	}
	if _, ok := n.current().out.find(logMsg("Fish: Found allocated resource to serve: " + res.UID)); !ok {
		t.Errorf("no log line for the recovered resource %s", res.UID)
	}

	// Tasks run on a recovered resource.
	tk := n.createTask(t, u, a.UID, map[string]any{"task": "snapshot", "when": "ALLOCATED"})
	if r := n.waitResult(t, u, a.UID, tk.UID, taskDeadline).Result; string(r) != `{"snapshots":["test-snapshot"],"when":"ALLOCATED"}` {
		t.Errorf("task on a recovered resource: %s", r)
	}

	// The lifetime still counts from the allocation before the restart.
	n.expectExpiry(t, b.UID, resB.CreatedAt, 4*time.Second)
	if n.markerExists(t, resB.Identifier) {
		t.Errorf("marker of the expired recovered resource is left")
	}

	n.deallocate(t, u, a.UID)
	n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline)
	if n.markerExists(t, res.Identifier) {
		t.Errorf("marker of the recovered resource is left after deallocation")
	}
}

// TestKillWithAllocation: after a SIGKILL the allocated application is recovered.
func TestKillWithAllocation(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	l := n.createLabel(t, "keep", 1, def(2, 2))
	a, res := n.allocate(t, n.adminCred(), l.UID)
	waiting := n.createLabel(t, "big", 1, def(3, 3))
	w := n.createApp(t, n.adminCred(), waiting.UID, nil)
	n.stays(t, w.UID, "NEW", 300*time.Millisecond)
	n.kill9(t)
	n.start(t)
	if st := n.state(t, a.UID); st.Status != "ALLOCATED" {
		t.Errorf("after kill the application is %s, want ALLOCATED", st.Status)
	}
	n.stays(t, w.UID, "NEW", stayDuration)
	n.release(t, a.UID)
	if n.markerExists(t, res.Identifier) {
		t.Errorf("marker left")
	}
	n.waitStatus(t, w.UID, "ALLOCATED", waitingDeadline)
	n.release(t, w.UID)
}

// TestDeallocationResumedAfterRestart: a deallocation still failing when the node stops is
// finished by the driver after the restart (README decision 8).
func TestDeallocationResumedAfterRestart(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{driverCfg: []string{"fail_deallocate: 255"}})
	l := n.createLabel(t, "small", 1, def(1, 1))
	a, res := n.allocate(t, n.adminCred(), l.UID)
	n.deallocate(t, n.adminCred(), a.UID)
	n.stays(t, a.UID, "DEALLOCATE", 300*time.Millisecond)
	n.stop(t) // also: a stop while retrying is prompt

	n.reconfigure(t, nodeOpts{})
	n.start(t)
	n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline)
	n.noResource(t, a.UID)
	if n.markerExists(t, res.Identifier) {
		t.Errorf("marker %s left", res.Identifier)
	}
}
