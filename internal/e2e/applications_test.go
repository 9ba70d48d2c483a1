package e2e

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestApplicationLifecycle(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "owner")
	var l label
	n.mustJSON(t, n.adminCred(), "POST", "/api/v1/label/",
		json.RawMessage(`{"name":"app-label","version":1,"definitions":[{"driver":"test","resources":{"cpu":1,"ram":2}}],"metadata":{"B":"label","C":"label"}}`), &l)

	// Create as a regular user: owner is the caller, metadata embedded as an object.
	status, body := n.as(t, u, "POST", "/api/v1/application/", map[string]any{
		"label_UID":  l.UID,
		"metadata":   map[string]string{"A": "app", "B": "app"},
		"owner_name": "admin", // server field: ignored
	})
	expect(t, "create application", status, body, 200)
	checkLayout(t, "create application", body)
	if keys := objectKeys(t, body); strings.Join(keys, ",") != "UID,created_at,label_UID,metadata,owner_name" {
		t.Errorf("application keys %v", keys)
	}
	var app application
	_ = json.Unmarshal(body, &app)
	n.checkUID(t, "application", app.UID)
	if app.OwnerName != "owner" || app.LabelUID != l.UID || !jsonEqual(app.Metadata, `{"A":"app","B":"app"}`) {
		t.Errorf("created application = %s", body)
	}

	st := n.waitStatus(t, app.UID, "ALLOCATED", allocDeadline)
	n.checkUID(t, "application state", st.UID)
	if st.Description != "Driver allocated the resource" || st.ApplicationUID != app.UID {
		t.Errorf("ALLOCATED state = %+v, want description \"Driver allocated the resource\"", st)
	}
	status, body = n.as(t, u, "GET", "/api/v1/application/"+app.UID+"/state", nil)
	expect(t, "state as owner", status, body, 200)
	checkLayout(t, "state", body)
	if keys := objectKeys(t, body); strings.Join(keys, ",") != "UID,application_UID,created_at,description,status" {
		t.Errorf("state keys %v", keys)
	}

	// The resource, as the owner.
	status, body = n.as(t, u, "GET", "/api/v1/application/"+app.UID+"/resource", nil)
	expect(t, "resource as owner", status, body, 200)
	checkLayout(t, "resource", body)
	want := "UID,application_UID,created_at,definition_index,hw_addr,identifier,ip_addr,label_UID,metadata,node_UID,updated_at"
	if keys := objectKeys(t, body); strings.Join(keys, ",") != want {
		t.Errorf("resource keys %v, want %s", keys, want)
	}
	var res resource
	_ = json.Unmarshal(body, &res)
	n.checkUID(t, "resource", res.UID)
	if !strings.HasPrefix(res.Identifier, "test-") || len(res.Identifier) != len("test-")+6 {
		t.Errorf("identifier %q, want test- and 6 characters", res.Identifier)
	}
	if res.NodeUID != n.uid || res.ApplicationUID != app.UID || res.LabelUID != l.UID || res.DefinitionIndex != 0 {
		t.Errorf("resource = %s", body)
	}
	if res.IPAddr != "" || res.HwAddr != "" {
		t.Errorf("test driver resource has addresses: %s", body)
	}
	if !jsonEqual(res.Metadata, `{"A":"app","B":"label","C":"label"}`) {
		t.Errorf("resource metadata %s, want application metadata overlaid by the label's", res.Metadata)
	}
	if !n.markerExists(t, res.Identifier) {
		t.Errorf("no marker file for %s in fish_test_workspace", res.Identifier)
	}

	// Admin views of the resource; regular users may not list resources.
	var all []resource
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/resource/", nil, &all)
	if len(all) != 1 || all[0].UID != res.UID {
		t.Errorf("resource list = %+v", all)
	}
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/resource/"+res.UID, nil, nil)
	status, body = n.as(t, u, "GET", "/api/v1/resource/", nil)
	expect(t, "resource list as a user", status, body, 403)
	status, body = n.as(t, u, "GET", "/api/v1/resource/"+res.UID, nil)
	expect(t, "resource get as a user", status, body, 403)
	status, body = n.admin(t, "GET", "/api/v1/resource/"+unknownUID, nil)
	expect(t, "unknown resource", status, body, 404)

	// Deallocate as the owner.
	status, body = n.as(t, u, "GET", "/api/v1/application/"+app.UID+"/deallocate", nil)
	expect(t, "deallocate", status, body, 200)
	var ds appState
	_ = json.Unmarshal(body, &ds)
	if ds.Status != "DEALLOCATE" || ds.Description != "Requested by user owner" || ds.ApplicationUID != app.UID {
		t.Errorf("deallocate answer = %s, want DEALLOCATE \"Requested by user owner\"", body)
	}
	n.checkUID(t, "deallocate state", ds.UID)
	st = n.waitStatus(t, app.UID, "DEALLOCATED", deallocDeadline)
	if st.Description != "Driver deallocated the resource" {
		t.Errorf("DEALLOCATED description %q", st.Description)
	}
	n.noResource(t, app.UID)
	status, body = n.admin(t, "GET", "/api/v1/resource/"+res.UID, nil)
	expect(t, "resource after deallocation", status, body, 404)
	if n.markerExists(t, res.Identifier) {
		t.Errorf("marker file %s still exists after deallocation", res.Identifier)
	}
	status, body = n.as(t, u, "GET", "/api/v1/application/"+app.UID+"/deallocate", nil)
	expect(t, "deallocate twice", status, body, 400)

	// The application itself stays.
	var got application
	n.mustJSON(t, u, "GET", "/api/v1/application/"+app.UID, nil, &got)
	if got.UID != app.UID || !got.CreatedAt.Equal(app.CreatedAt) {
		t.Errorf("application after deallocation = %+v", got)
	}
}

func jsonEqual(raw json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(raw, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func TestApplicationErrors(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	l := n.createLabel(t, "app-label", 1, def(1, 1))
	cases := []struct {
		name string
		body any
	}{
		{"unknown label", map[string]any{"label_UID": unknownUID}},
		{"missing label_UID", map[string]any{}},
		{"null label_UID", map[string]any{"label_UID": "00000000-0000-0000-0000-000000000000"}},
		{"bad label_UID", map[string]any{"label_UID": "not-a-uuid"}},
		{"metadata not an object", map[string]any{"label_UID": l.UID, "metadata": []int{1}}},
		{"malformed JSON", `{"label_UID":`},
		{"empty body", ""},
	}
	for _, c := range cases {
		status, body := n.admin(t, "POST", "/api/v1/application/", c.body)
		expect(t, c.name, status, body, 400)
	}
	var apps []application
	body := n.mustJSON(t, n.adminCred(), "GET", "/api/v1/application/", nil, &apps)
	if len(apps) != 0 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("applications after refused creates: %s, want []", body)
	}

	// YAML bodies use the JSON keys.
	status, body := n.do(t, "POST", "/api/v1/application/", "admin", n.token,
		"label_UID: "+l.UID+"\nmetadata:\n  JENKINS_URL: http://ci\n", "application/yaml")
	expect(t, "YAML application", status, body, 200)
	var ya application
	_ = json.Unmarshal(body, &ya)
	if ya.LabelUID != l.UID || !jsonEqual(ya.Metadata, `{"JENKINS_URL":"http://ci"}`) {
		t.Errorf("YAML application = %s", body)
	}
	n.waitStatus(t, ya.UID, "ALLOCATED", allocDeadline)
	n.release(t, ya.UID)

	for _, p := range []string{"", "/state", "/resource", "/deallocate", "/task/"} {
		status, body := n.admin(t, "GET", "/api/v1/application/not-a-uuid"+p, nil)
		expect(t, "bad uid "+p, status, body, 400)
		status, body = n.admin(t, "GET", "/api/v1/application/"+unknownUID+p, nil)
		expect(t, "unknown application "+p, status, body, 404)
	}
}

func TestApplicationOwnership(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	owner := n.createUser(t, "owner")
	other := n.createUser(t, "other")
	idle := n.createUser(t, "idle")
	l := n.createLabel(t, "app-label", 1, def(1, 1))
	mine, _ := n.allocate(t, owner, l.UID)
	theirs := n.createApp(t, other, l.UID, nil)

	// The other user sees 403 on everything of the owner's application.
	base := "/api/v1/application/" + mine.UID
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", base, nil},
		{"GET", base + "/state", nil},
		{"GET", base + "/resource", nil},
		{"GET", base + "/task/", nil},
		{"POST", base + "/task/", map[string]string{"task": "snapshot", "when": "ALLOCATED"}},
		{"GET", base + "/deallocate", nil},
	} {
		status, body := n.as(t, other, c.method, c.path, c.body)
		expect(t, c.method+" "+c.path+" as another user", status, body, http.StatusForbidden)
	}
	// The refused deallocate did nothing.
	n.stays(t, mine.UID, "ALLOCATED", 200*time.Millisecond)

	// Lists: each user sees their own, admin sees all, filter first then ownership.
	list := func(c cred, path string) []string {
		var apps []application
		n.mustJSON(t, c, "GET", path, nil, &apps)
		var uids []string
		for _, a := range apps {
			uids = append(uids, a.UID)
		}
		return uids
	}
	if got := list(owner, "/api/v1/application/"); !reflect.DeepEqual(got, []string{mine.UID}) {
		t.Errorf("owner's list = %v", got)
	}
	if got := list(other, "/api/v1/application/"); !reflect.DeepEqual(got, []string{theirs.UID}) {
		t.Errorf("other's list = %v", got)
	}
	if got := list(n.adminCred(), "/api/v1/application/"); !reflect.DeepEqual(got, []string{mine.UID, theirs.UID}) {
		t.Errorf("admin's list = %v, want both in creation order", got)
	}
	status, body := n.as(t, idle, "GET", "/api/v1/application/", nil)
	if status != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("list of a user without applications: %d %q, want 200 []", status, body)
	}
	for _, f := range []string{"owner_name='owner'", "owner_name='owner' OR 1=1", "1=1 OR owner_name='owner'"} {
		for _, uid := range list(other, withFilter("/api/v1/application/", f)) {
			if uid == mine.UID {
				t.Errorf("other user with filter %q sees the owner's application", f)
			}
		}
	}
	if got := list(n.adminCred(), withFilter("/api/v1/application/", "owner_name='other'")); !reflect.DeepEqual(got, []string{theirs.UID}) {
		t.Errorf("admin filter owner_name='other' = %v", got)
	}

	// Admin may act on anyone's application.
	n.mustJSON(t, n.adminCred(), "GET", base, nil, nil)
	ds := n.deallocate(t, n.adminCred(), mine.UID)
	if ds.Description != "Requested by user admin" {
		t.Errorf("deallocate by admin: description %q", ds.Description)
	}
	n.waitStatus(t, mine.UID, "DEALLOCATED", deallocDeadline)
}

// TestAllocateError: a failing allocation ends in ERROR, leaves nothing behind and frees the
// capacity it had reserved.
func TestAllocateError(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{cpu: 4, ram: 8})
	bad := n.createLabel(t, "bad", 1, withOptions(def(4, 8), `{"fail_allocate":255}`))
	a := n.createApp(t, n.adminCred(), bad.UID, nil)
	var st appState
	if !poll(allocDeadline, func() bool { st = n.state(t, a.UID); return st.Status == "ERROR" }) {
		t.Fatalf("application with a failing allocation is %s %q, want ERROR", st.Status, st.Description)
	}
	if !strings.HasPrefix(st.Description, "Driver allocate resource error:") || !strings.Contains(st.Description, "Allocate failed (255)") {
		t.Errorf("ERROR description %q", st.Description)
	}
	n.noResource(t, a.UID)
	if m := n.markers(t); len(m) != 0 {
		t.Errorf("markers after a failed allocation: %v", m)
	}
	status, body := n.admin(t, "GET", "/api/v1/application/"+a.UID+"/deallocate", nil)
	expect(t, "deallocate an ERROR application", status, body, 400)
	good := n.createLabel(t, "good", 1, def(4, 8))
	b, _ := n.allocate(t, n.adminCred(), good.UID)
	n.release(t, b.UID)
}
