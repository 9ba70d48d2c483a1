package e2e

import (
	"strings"
	"testing"
	"time"
)

// exitDeadline: after an API shutdown is due, the process exits within 10 s (behaviour.md §13).
const exitDeadline = 10 * time.Second

// maintenance calls the maintenance endpoint as admin with query and checks the echo.
func (n *fishNode) maintenance(t *testing.T, query, echo string) {
	t.Helper()
	path := "/api/v1/node/this/maintenance"
	if query != "" {
		path += "?" + query
	}
	status, body := n.admin(t, "GET", path, nil)
	if status != 200 || strings.TrimSpace(string(body)) != echo {
		t.Fatalf("maintenance ?%s: %d %s, want 200 %s", query, status, body, echo)
	}
}

func TestMaintenance(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "someone")
	l := n.createLabel(t, "small", 1, def(1, 1))
	running, _ := n.allocate(t, u, l.UID)

	n.maintenance(t, "", "{}")
	a := n.createApp(t, u, l.UID, nil)
	n.stays(t, a.UID, "NEW", stayDuration)
	// Running applications continue normally.
	n.release(t, running.UID)
	n.stays(t, a.UID, "NEW", 300*time.Millisecond)

	n.maintenance(t, "enable=false", `{"enable":false}`)
	n.waitStatus(t, a.UID, "ALLOCATED", 5*time.Second) // the envelope is 20 s; ours reacts at once
	// A delay alone sets maintenance too (enable defaults to true) and starts no shutdown.
	n.maintenance(t, "shutdown_delay=1s", `{"shutdown_delay":"1s"}`)
	c0 := n.createApp(t, u, l.UID, nil)
	n.stays(t, c0.UID, "NEW", 300*time.Millisecond)
	n.deallocate(t, u, c0.UID)
	n.maintenance(t, "enable=false", `{"enable":false}`)
	n.staysRunning(t, 1200*time.Millisecond)
	n.release(t, a.UID)

	// Errors and permissions.
	for _, c := range []struct {
		query string
		want  int
	}{
		{"shutdown_delay=soon", 400},
		{"enable=maybe", 400},
		{"shutdown=perhaps", 400},
	} {
		status, body := n.admin(t, "GET", "/api/v1/node/this/maintenance?"+c.query, nil)
		expect(t, "maintenance ?"+c.query, status, body, c.want)
	}
	status, body := n.as(t, u, "GET", "/api/v1/node/this/maintenance?enable=false", nil)
	expect(t, "maintenance as a user", status, body, 403)

	// Other spellings of the booleans; maintenance off again at the end.
	n.maintenance(t, "enable=True", `{"enable":true}`)
	n.maintenance(t, "enable=0", `{"enable":false}`)
	b := n.createApp(t, u, l.UID, nil)
	n.waitStatus(t, b.UID, "ALLOCATED", allocDeadline)
	n.release(t, b.UID)
	// A restarted node does not remember maintenance.
	n.maintenance(t, "enable=true", `{"enable":true}`)
	n.restart(t)
	c := n.createApp(t, u, l.UID, nil)
	n.waitStatus(t, c.UID, "ALLOCATED", allocDeadline)
	n.release(t, c.UID)
}

func TestShutdownImmediate(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	l := n.createLabel(t, "small", 1, def(1, 1))
	_, res := n.allocate(t, n.adminCred(), l.UID)
	n.maintenance(t, "enable=false&shutdown=true", `{"enable":false,"shutdown":true}`)
	if code := n.waitExit(t, exitDeadline); code != 0 {
		t.Fatalf("exit code %d after the API shutdown, want 0", code)
	}
	// Without maintenance nothing waits for applications; the resource is left and recovered.
	if !n.markerExists(t, res.Identifier) {
		t.Errorf("the resource was destroyed by the shutdown")
	}
	n.start(t)
	if st := n.state(t, res.ApplicationUID); st.Status != "ALLOCATED" {
		t.Errorf("after the restart the application is %s, want ALLOCATED", st.Status)
	}
	n.release(t, res.ApplicationUID)
}

func TestShutdownWaitsForApplications(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	l := n.createLabel(t, "small", 1, def(1, 1))
	a, res := n.allocate(t, n.adminCred(), l.UID)
	n.maintenance(t, "shutdown=true", `{"shutdown":true}`)
	n.staysRunning(t, stayDuration)
	// Maintenance is on: new applications wait.
	b := n.createApp(t, n.adminCred(), l.UID, nil)
	n.stays(t, b.UID, "NEW", 500*time.Millisecond)
	n.deallocate(t, n.adminCred(), b.UID)
	n.staysRunning(t, 500*time.Millisecond)
	n.deallocate(t, n.adminCred(), a.UID)
	if code := n.waitExit(t, exitDeadline); code != 0 {
		t.Fatalf("exit code %d after the last application was deallocated, want 0", code)
	}
	// The node exited after the deallocation, not before it.
	if n.markerExists(t, res.Identifier) {
		t.Errorf("the node exited before deallocating the last resource")
	}
	n.start(t)
	if st := n.state(t, a.UID); st.Status != "DEALLOCATED" {
		t.Errorf("after the restart the application is %s, want DEALLOCATED", st.Status)
	}
	if st := n.state(t, b.UID); st.Status != "RECALLED" {
		t.Errorf("after the restart the recalled application is %s, want RECALLED", st.Status)
	}
}

func TestShutdownDelay(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	asked := time.Now()
	n.maintenance(t, "enable=false&shutdown=true&shutdown_delay=3s", `{"enable":false,"shutdown":true,"shutdown_delay":"3s"}`)
	n.staysRunning(t, time.Until(asked.Add(2500*time.Millisecond)))
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/node/this/", nil, nil)
	if code := n.waitExit(t, exitDeadline); code != 0 {
		t.Fatalf("exit code %d after the delayed shutdown, want 0", code)
	}
	if took := time.Since(asked); took < 3*time.Second {
		t.Errorf("exited %v after a shutdown with delay 3s", took)
	}
}

func TestShutdownCancel(t *testing.T) {
	t.Parallel()
	t.Run("during the delay", func(t *testing.T) {
		t.Parallel()
		n := startNode(t, nodeOpts{})
		n.maintenance(t, "enable=false&shutdown=true&shutdown_delay=2s", `{"enable":false,"shutdown":true,"shutdown_delay":"2s"}`)
		n.maintenance(t, "enable=false&shutdown=false", `{"enable":false,"shutdown":false}`)
		n.staysRunning(t, 3*time.Second)
		// Cancelling again is harmless and the node still works.
		n.maintenance(t, "enable=false&shutdown=false", `{"enable":false,"shutdown":false}`)
		l := n.createLabel(t, "small", 1, def(1, 1))
		a, _ := n.allocate(t, n.adminCred(), l.UID)
		n.release(t, a.UID)
	})
	t.Run("while waiting for applications", func(t *testing.T) {
		t.Parallel()
		n := startNode(t, nodeOpts{})
		l := n.createLabel(t, "small", 1, def(1, 1))
		a, _ := n.allocate(t, n.adminCred(), l.UID)
		n.maintenance(t, "shutdown=true", `{"shutdown":true}`)
		n.maintenance(t, "enable=false&shutdown=false", `{"enable":false,"shutdown":false}`)
		n.release(t, a.UID)
		n.staysRunning(t, 2500*time.Millisecond)
	})
}
