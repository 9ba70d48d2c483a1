package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// allocatedCount counts the applications of apps that are ALLOCATED now.
func (n *fishNode) allocatedCount(t *testing.T, apps []application) int {
	t.Helper()
	c := 0
	for _, a := range apps {
		if n.state(t, a.UID).Status == "ALLOCATED" {
			c++
		}
	}
	return c
}

// TestCapacityNeverExceeded: many applications created at once never use more than the node
// has, and waiting ones are served oldest first as capacity frees up.
func TestCapacityNeverExceeded(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8})
	l := n.createLabel(t, "one", 1, def(1, 2))
	apps := make([]application, 9)
	for i := range apps {
		apps[i] = n.createApp(t, n.adminCred(), l.UID, nil)
	}
	for _, a := range apps[:4] {
		n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
	}
	if poll(stayDuration, func() bool { return n.allocatedCount(t, apps) != 4 }) {
		t.Fatalf("%d applications allocated on room for 4", n.allocatedCount(t, apps))
	}
	var res []resource
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/resource/", nil, &res)
	if len(res) != 4 || len(n.markers(t)) != 4 {
		t.Errorf("%d resources and %d markers, want 4", len(res), len(n.markers(t)))
	}
	// Each deallocation lets exactly the oldest waiting application in.
	for i := 0; i+4 < len(apps); i++ {
		n.release(t, apps[i].UID)
		n.waitStatus(t, apps[i+4].UID, "ALLOCATED", waitingDeadline)
		for _, w := range apps[i+5:] {
			if st := n.state(t, w.UID); st.Status != "NEW" {
				t.Errorf("app %s is %s while an older one waited", w.UID, st.Status)
			}
		}
	}
	for _, a := range apps[len(apps)-4:] {
		n.release(t, a.UID)
	}
}

// TestOverbook: multitenant applications that tolerate CPU overbooking may use the driver's
// cpu_overbook; the first tenant's flags decide (behaviour.md §2.4).
func TestOverbook(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8, driverCfg: []string{"cpu_overbook: 2"}})
	ob := def(3, 2)
	ob.Resources.Multitenancy, ob.Resources.CPUOverbook = true, true
	obLabel := n.createLabel(t, "overbook", 1, ob)
	plain := n.createLabel(t, "plain", 1, def(3, 2))

	// 3 + 3 CPU fit into 4 + 2; a third does not.
	o1, _ := n.allocate(t, n.adminCred(), obLabel.UID)
	o2, _ := n.allocate(t, n.adminCred(), obLabel.UID)
	o3 := n.createApp(t, n.adminCred(), obLabel.UID, nil)
	n.stays(t, o3.UID, "NEW", stayDuration/2)
	n.deallocate(t, n.adminCred(), o3.UID)
	n.release(t, o1.UID)
	n.release(t, o2.UID)

	// Without the flags, 3 + 3 CPU do not fit into 4.
	p1, _ := n.allocate(t, n.adminCred(), plain.UID)
	p2 := n.createApp(t, n.adminCred(), plain.UID, nil)
	n.stays(t, p2.UID, "NEW", stayDuration/2)
	n.deallocate(t, n.adminCred(), p2.UID)

	// The first tenant does not tolerate overbooking: neither does the node.
	o4 := n.createApp(t, n.adminCred(), obLabel.UID, nil)
	n.stays(t, o4.UID, "NEW", stayDuration/2)
	n.release(t, p1.UID)
	n.waitStatus(t, o4.UID, "ALLOCATED", waitingDeadline)
	n.release(t, o4.UID)
}

// TestHalfLimit: a test driver with only one of cpu_limit/ram_limit set can run nothing.
func TestHalfLimit(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 0})
	l := n.createLabel(t, "small", 1, def(1, 1))
	a := n.createApp(t, n.adminCred(), l.UID, nil)
	n.stays(t, a.UID, "NEW", stayDuration)
}

// TestRemoteDriver: allocations of a remote driver do not count against the node's usage.
func TestRemoteDriver(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8, driverCfg: []string{"is_remote: true"}})
	l := n.createLabel(t, "four", 1, def(4, 8))
	var apps []application
	for range 3 {
		a, _ := n.allocate(t, n.adminCred(), l.UID)
		apps = append(apps, a)
	}
	for _, a := range apps {
		n.release(t, a.UID)
	}
}

// TestLabelDeletedWhileAllocated: deleting a label does not strand the applications that use
// it: they still deallocate.
func TestLabelDeletedWhileAllocated(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	l := n.createLabel(t, "doomed", 1, def(1, 1))
	a, res := n.allocate(t, n.adminCred(), l.UID)
	n.mustJSON(t, n.adminCred(), "DELETE", "/api/v1/label/"+l.UID, nil, nil)
	n.release(t, a.UID)
	if n.markerExists(t, res.Identifier) {
		t.Errorf("marker of %s left", res.Identifier)
	}
}

// TestLabelDeletedAcrossRestart: an application whose label was deleted is recovered after a
// restart like any other: it keeps its capacity and deallocates through the driver.
func TestLabelDeletedAcrossRestart(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8})
	l := n.createLabel(t, "doomed", 1, def(4, 4))
	a, res := n.allocate(t, n.adminCred(), l.UID)
	n.mustJSON(t, n.adminCred(), "DELETE", "/api/v1/label/"+l.UID, nil, nil)
	n.restart(t)
	if st := n.state(t, a.UID); st.Status != "ALLOCATED" {
		t.Fatalf("after restart the application of the deleted label is %s, want ALLOCATED", st.Status)
	}
	// The recovered allocation still uses the whole node.
	other := n.createLabel(t, "other", 1, def(4, 4))
	w := n.createApp(t, n.adminCred(), other.UID, nil)
	n.stays(t, w.UID, "NEW", stayDuration)

	n.deallocate(t, n.adminCred(), a.UID)
	n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline)
	if n.markerExists(t, res.Identifier) {
		t.Errorf("marker of %s left", res.Identifier)
	}
	n.waitStatus(t, w.UID, "ALLOCATED", waitingDeadline)
	n.release(t, w.UID)
}

// TestDeallocateRightAfterCreate: a deallocation requested while the application is NEW or
// being allocated is never lost (README decision 7): each application ends RECALLED or
// DEALLOCATED and no resource is left.
func TestDeallocateRightAfterCreate(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{unlimited: true})
	l := n.createLabel(t, "quick", 1, def(1, 1))
	var apps []application
	for range 25 {
		a := n.createApp(t, n.adminCred(), l.UID, nil)
		st := n.deallocate(t, n.adminCred(), a.UID)
		if st.Status != "RECALLED" && st.Status != "DEALLOCATE" {
			t.Errorf("deallocate answer %s, want RECALLED or DEALLOCATE", st.Status)
		}
		apps = append(apps, a)
	}
	for _, a := range apps {
		var st appState
		if !poll(deallocDeadline, func() bool {
			st = n.state(t, a.UID)
			return st.Status == "RECALLED" || st.Status == "DEALLOCATED"
		}) {
			t.Errorf("application %s is %s %q, want RECALLED or DEALLOCATED", a.UID, st.Status, st.Description)
		}
	}
	var res []resource
	if !poll(deallocDeadline, func() bool {
		n.mustJSON(t, n.adminCred(), "GET", "/api/v1/resource/", nil, &res)
		return len(res) == 0 && len(n.markers(t)) == 0
	}) {
		t.Errorf("%d resources and markers %v left", len(res), n.markers(t))
	}
}

// TestConcurrentCreates: applications created by several clients at once never exceed the
// node's capacity, and all of them are served in the end.
func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8})
	l := n.createLabel(t, "one", 1, def(1, 2))
	const clients, each = 4, 4
	var (
		mu   sync.Mutex
		apps []application
		errs []error
		wg   sync.WaitGroup
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				var a application
				err := n.try(n.adminCred(), "POST", "/api/v1/application/", map[string]string{"label_UID": l.UID}, &a)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					apps = append(apps, a)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	served := map[string]bool{}
	if !poll(4*waitingDeadline, func() bool {
		var res []resource
		n.mustJSON(t, n.adminCred(), "GET", "/api/v1/resource/", nil, &res)
		if len(res) > 4 {
			var desc []string
			for _, r := range res {
				st := n.state(t, r.ApplicationUID)
				desc = append(desc, fmt.Sprintf("%s %s %s (resource created %s)", r.ApplicationUID, st.Status, st.CreatedAt.Format("15:04:05.000000"), r.CreatedAt.Format("15:04:05.000000")))
			}
			t.Fatalf("%d resources on room for 4:\n%s", len(res), strings.Join(desc, "\n"))
		}
		for _, r := range res {
			if !served[r.ApplicationUID] {
				served[r.ApplicationUID] = true
				n.deallocate(t, n.adminCred(), r.ApplicationUID)
			}
		}
		return len(served) == len(apps)
	}) {
		t.Fatalf("%d of %d applications served", len(served), len(apps))
	}
	for _, a := range apps {
		n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline)
	}
}
