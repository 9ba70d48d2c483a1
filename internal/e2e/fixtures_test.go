package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Deadlines taken from the timing envelope of behaviour.md §13. The node is event-driven and
// normally takes milliseconds; these are upper bounds, never waited for in full on success.
const (
	allocDeadline   = 10 * time.Second // idle node: NEW → ALLOCATED
	deallocDeadline = 5 * time.Second  // deallocate request → DEALLOCATED
	waitingDeadline = 10 * time.Second // capacity freed → a waiting application ALLOCATED (envelope 40 s)
	stayDuration    = 1500 * time.Millisecond
)

// def is a test driver definition.
func def(cpu, ram int) definition {
	return definition{Driver: "test", Resources: resources{CPU: cpu, RAM: ram}}
}

// defLife is a test driver definition with a lifetime.
func defLife(cpu, ram int, lifetime string) definition {
	d := def(cpu, ram)
	d.Resources.Lifetime = lifetime
	return d
}

// withOptions sets the driver options of a definition.
func withOptions(d definition, options string) definition {
	d.Options = json.RawMessage(options)
	return d
}

// createLabel creates a label as admin and returns it as the node answered.
func (n *fishNode) createLabel(t *testing.T, name string, version int, defs ...definition) label {
	t.Helper()
	var l label
	n.mustJSON(t, n.adminCred(), "POST", "/api/v1/label/", label{Name: name, Version: version, Definitions: defs}, &l)
	if l.UID == "" || l.Name != name || l.Version != version {
		t.Fatalf("created label = %+v", l)
	}
	return l
}

// createUser creates a user with a generated password and returns its credentials.
func (n *fishNode) createUser(t *testing.T, name string) cred {
	t.Helper()
	var u apiUser
	n.mustJSON(t, n.adminCred(), "POST", "/api/v1/user/", map[string]string{"name": name}, &u)
	if u.Password == "" {
		t.Fatalf("user %s created without a generated password in the answer", name)
	}
	return cred{name, u.Password}
}

// createApp creates an application of labelUID as c, with metadata when not nil.
func (n *fishNode) createApp(t *testing.T, c cred, labelUID string, metadata any) application {
	t.Helper()
	body := map[string]any{"label_UID": labelUID}
	if metadata != nil {
		body["metadata"] = metadata
	}
	var a application
	n.mustJSON(t, c, "POST", "/api/v1/application/", body, &a)
	if a.UID == "" || a.LabelUID != labelUID {
		t.Fatalf("created application = %+v", a)
	}
	return a
}

// state returns the current state of an application (as admin).
func (n *fishNode) state(t *testing.T, app string) appState {
	t.Helper()
	var s appState
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/application/"+app+"/state", nil, &s)
	return s
}

// final statuses: nothing happens to the application any more.
var final = map[string]bool{"DEALLOCATED": true, "ERROR": true, "RECALLED": true}

// waitStatus polls the state every 25 ms until it is want. It fails at the deadline or as soon
// as the application reaches another final status.
func (n *fishNode) waitStatus(t *testing.T, app, want string, d time.Duration) appState {
	t.Helper()
	var s appState
	if !poll(d, func() bool {
		s = n.state(t, app)
		if s.Status != want && final[s.Status] {
			t.Fatalf("application %s reached %s (%q) while waiting for %s", app, s.Status, s.Description, want)
		}
		return s.Status == want
	}) {
		t.Fatalf("application %s: status %s (%q) after %v, want %s", app, s.Status, s.Description, d, want)
	}
	return s
}

// stays asserts that the application keeps status during d (polling every 25 ms).
func (n *fishNode) stays(t *testing.T, app, status string, d time.Duration) {
	t.Helper()
	var s appState
	if poll(d, func() bool {
		s = n.state(t, app)
		return s.Status != status
	}) {
		t.Fatalf("application %s: status %s (%q), want it to stay %s", app, s.Status, s.Description, status)
	}
}

// deallocate asks for the deallocation of app as c, requires 200 and returns the new state.
func (n *fishNode) deallocate(t *testing.T, c cred, app string) appState {
	t.Helper()
	var s appState
	n.mustJSON(t, c, "GET", "/api/v1/application/"+app+"/deallocate", nil, &s)
	return s
}

// resourceOf returns the resource of an allocated application (as admin).
func (n *fishNode) resourceOf(t *testing.T, app string) resource {
	t.Helper()
	var r resource
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/application/"+app+"/resource", nil, &r)
	return r
}

// allocate creates an application as c and waits until it is ALLOCATED.
func (n *fishNode) allocate(t *testing.T, c cred, labelUID string) (application, resource) {
	t.Helper()
	a := n.createApp(t, c, labelUID, nil)
	n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
	return a, n.resourceOf(t, a.UID)
}

// release deallocates an allocated application as admin and waits for DEALLOCATED.
func (n *fishNode) release(t *testing.T, app string) {
	t.Helper()
	n.deallocate(t, n.adminCred(), app)
	n.waitStatus(t, app, "DEALLOCATED", deallocDeadline)
}

// marker is the path of the test driver's marker file of a resource.
func (n *fishNode) marker(identifier string) string {
	return filepath.Join(n.dir, "fish_test_workspace", identifier)
}

// markerExists reports whether the marker file of identifier exists.
func (n *fishNode) markerExists(t *testing.T, identifier string) bool {
	t.Helper()
	_, err := os.Stat(n.marker(identifier))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

// markers lists the marker files in the test driver workspace.
func (n *fishNode) markers(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(n.dir, "fish_test_workspace"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

// noResource asserts that the application has no resource (404).
func (n *fishNode) noResource(t *testing.T, app string) {
	t.Helper()
	status, body := n.admin(t, "GET", "/api/v1/application/"+app+"/resource", nil)
	expect(t, fmt.Sprintf("resource of %s", app), status, body, http.StatusNotFound)
}
