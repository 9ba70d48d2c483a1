package e2e

import (
	"testing"
	"time"
)

// expiryGrace is how soon after its expiry an application must be DEALLOCATED (the node arms a
// timer for the expiry instant; behaviour.md §13).
const expiryGrace = 2 * time.Second

// expectExpiry asserts that app stays ALLOCATED until created+lifetime and is DEALLOCATED
// within expiryGrace after that.
func (n *fishNode) expectExpiry(t *testing.T, app string, created time.Time, lifetime time.Duration) {
	t.Helper()
	expiry := created.Add(lifetime)
	var s appState
	poll(time.Until(expiry.Add(expiryGrace)), func() bool {
		s = n.state(t, app)
		return s.Status != "ALLOCATED"
	})
	seen := time.Now()
	switch {
	case s.Status == "ALLOCATED":
		t.Fatalf("application still ALLOCATED %v after its lifetime %v expired", expiryGrace, lifetime)
	case seen.Before(expiry):
		t.Errorf("application left ALLOCATED (%s %q) %v before its lifetime %v expired", s.Status, s.Description, expiry.Sub(seen), lifetime)
	case s.Status == "DEALLOCATE" && s.Description != "Resource lifetime timeout reached:"+lifetime.String():
		t.Errorf("DEALLOCATE description %q, want %q", s.Description, "Resource lifetime timeout reached:"+lifetime.String())
	}
	n.waitStatus(t, app, "DEALLOCATED", time.Until(expiry.Add(expiryGrace))+100*time.Millisecond)
	n.noResource(t, app)
}

func TestLabelLifetime(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	t.Run("3s", func(t *testing.T) {
		t.Parallel()
		l := n.createLabel(t, "lifetime-3s", 1, defLife(1, 1, "3s"))
		a, res := n.allocate(t, n.adminCred(), l.UID)
		n.expectExpiry(t, a.UID, res.CreatedAt, 3*time.Second)
		if n.markerExists(t, res.Identifier) {
			t.Errorf("marker of an expired resource is left")
		}
	})
	t.Run("-1s never expires", func(t *testing.T) {
		t.Parallel()
		l := n.createLabel(t, "lifetime-never", 1, defLife(1, 1, "-1s"))
		a, res := n.allocate(t, n.adminCred(), l.UID)
		n.stays(t, a.UID, "ALLOCATED", time.Until(res.CreatedAt.Add(4*time.Second)))
		n.release(t, a.UID)
	})
}

func TestDefaultLifetime(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{extra: []string{"default_resource_lifetime: 2s"}})
	t.Run("applies without a label lifetime", func(t *testing.T) {
		t.Parallel()
		l := n.createLabel(t, "no-lifetime", 1, def(1, 1))
		a, res := n.allocate(t, n.adminCred(), l.UID)
		n.expectExpiry(t, a.UID, res.CreatedAt, 2*time.Second)
	})
	t.Run("label lifetime overrides", func(t *testing.T) {
		t.Parallel()
		l := n.createLabel(t, "longer", 1, defLife(1, 1, "4s"))
		a, res := n.allocate(t, n.adminCred(), l.UID)
		n.expectExpiry(t, a.UID, res.CreatedAt, 4*time.Second)
	})
	t.Run("-1s never expires", func(t *testing.T) {
		t.Parallel()
		l := n.createLabel(t, "never", 1, defLife(1, 1, "-1s"))
		a, res := n.allocate(t, n.adminCred(), l.UID)
		n.stays(t, a.UID, "ALLOCATED", time.Until(res.CreatedAt.Add(3500*time.Millisecond)))
		n.release(t, a.UID)
	})
}

// TestLifetimeStateDescription makes the DEALLOCATE state observable: the driver fails every
// deallocation, so the application stays DEALLOCATE while the node retries.
func TestLifetimeStateDescription(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{driverCfg: []string{"fail_deallocate: 255"}})
	l := n.createLabel(t, "lifetime-3s", 1, defLife(1, 1, "3s"))
	a, res := n.allocate(t, n.adminCred(), l.UID)
	n.stays(t, a.UID, "ALLOCATED", time.Until(res.CreatedAt.Add(3*time.Second))-50*time.Millisecond)
	st := n.waitStatus(t, a.UID, "DEALLOCATE", expiryGrace)
	if st.Description != "Resource lifetime timeout reached:3s" {
		t.Errorf("DEALLOCATE description %q, want %q", st.Description, "Resource lifetime timeout reached:3s")
	}
	n.stays(t, a.UID, "DEALLOCATE", 500*time.Millisecond)
	status, body := n.admin(t, "GET", "/api/v1/application/"+a.UID+"/deallocate", nil)
	expect(t, "deallocate while DEALLOCATE", status, body, 400)
	// The resource stays while its deallocation is retried; the stop leaves it for the next start.
	n.resourceOf(t, a.UID)
}
