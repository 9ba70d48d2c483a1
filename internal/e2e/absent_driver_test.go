package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestAbsentDriverListed: a driver of the contract this build does not carry (aws) may be listed
// in the config (given here as a second drivers key, which wins) and named by a label: the node
// logs that it could not prepare it and starts; the application waits NEW for a node that has it.
func TestAbsentDriverListed(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{extra: []string{"drivers: [{name: test}, {name: aws}]"}})
	found := false
	for _, l := range n.lines() {
		if strings.Contains(l, "Fish: Resource driver prepare failed: aws ") {
			found = true
		}
	}
	if !found {
		t.Errorf("no prepare failure logged for aws:\n%s", strings.Join(n.lines(), "\n"))
	}
	l := n.createLabel(t, "on-aws", 1, definition{Driver: "aws", Resources: resources{CPU: 1, RAM: 1}})
	a := n.createApp(t, n.adminCred(), l.UID, nil)
	n.stays(t, a.UID, "NEW", 300*time.Millisecond)
	st := n.deallocate(t, n.adminCred(), a.UID)
	if st.Status != "RECALLED" {
		t.Errorf("deallocating a waiting application: %s, want RECALLED", st.Status)
	}
}
