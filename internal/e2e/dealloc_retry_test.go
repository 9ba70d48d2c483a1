package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// TestDeallocationRetried: a driver that fails a deallocation is asked again (behaviour.md §2.1:
// first try + 10 retries) and the application ends DEALLOCATED once a retry succeeds. With
// fail_deallocate 127 the test driver fails the first call and lets the second through.
func TestDeallocationRetried(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{driverCfg: []string{"fail_deallocate: 127"}})
	l := n.createLabel(t, "retried", 1, def(1, 1))
	a, res := n.allocate(t, n.adminCred(), l.UID)
	n.deallocate(t, n.adminCred(), a.UID)
	// The first try fails: still DEALLOCATE, never ERROR, until the retry a second later.
	st := n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline+5*time.Second)
	if st.Description != "Driver deallocated the resource" {
		t.Errorf("DEALLOCATED description %q", st.Description)
	}
	if n.markerExists(t, res.Identifier) {
		t.Errorf("marker %s left", res.Identifier)
	}
}

// TestDeallocateWhileAllocating: a deallocation requested while the driver is still allocating
// (README decision 7) answers RECALLED, and the resource the driver then returns is torn down at
// once: the application ends DEALLOCATED and no marker is left.
func TestDeallocateWhileAllocating(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	d := def(1, 1)
	d.Options = json.RawMessage(`{"allocate_delay":"700ms"}`)
	l := n.createLabel(t, "slow", 1, d)
	a := n.createApp(t, n.adminCred(), l.UID, nil)
	n.waitStatus(t, a.UID, "ELECTED", allocDeadline)
	if st := n.deallocate(t, n.adminCred(), a.UID); st.Status != "RECALLED" {
		t.Fatalf("deallocate while allocating: %s, want RECALLED", st.Status)
	}
	// RECALLED is final for clients, but the resource the driver returns afterwards is torn
	// down and recorded (behaviour.md §2.1, recommended): DEALLOCATED.
	var st appState
	if !poll(deallocDeadline+time.Second, func() bool {
		st = n.state(t, a.UID)
		return st.Status == "DEALLOCATED"
	}) {
		t.Fatalf("status %s (%q), want DEALLOCATED once the allocation returned", st.Status, st.Description)
	}
	if st.Description != "Driver deallocated the resource" {
		t.Errorf("DEALLOCATED description %q", st.Description)
	}
	n.noResource(t, a.UID)
	if m := n.markers(t); len(m) != 0 {
		t.Errorf("markers left: %v", m)
	}
}
