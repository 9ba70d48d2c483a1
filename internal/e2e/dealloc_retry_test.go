package e2e

import (
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
