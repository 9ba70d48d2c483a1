package e2e

import (
	"strings"
	"testing"
)

type location struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type serviceMapping struct {
	UID            string `json:"UID,omitempty"`
	ApplicationUID string `json:"application_UID,omitempty"`
	LocationName   string `json:"location_name,omitempty"`
	Redirect       string `json:"redirect"`
	Service        string `json:"service"`
}

func TestLocations(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "someone")
	var loc location
	body := n.mustJSON(t, n.adminCred(), "POST", "/api/v1/location/", location{Name: "lab", Description: "the lab"}, &loc)
	checkLayout(t, "location", body)
	if loc.Name != "lab" || loc.Description != "the lab" {
		t.Errorf("created location %s", body)
	}
	for _, c := range []struct {
		name string
		c    cred
		body any
		want int
	}{
		{"duplicate", n.adminCred(), location{Name: "lab"}, 400},
		{"empty name", n.adminCred(), location{Description: "x"}, 400},
		{"malformed", n.adminCred(), `{"name":`, 400},
		{"as a user", u, location{Name: "mine"}, 403},
	} {
		status, b := n.as(t, c.c, "POST", "/api/v1/location/", c.body)
		expect(t, "location create "+c.name, status, b, c.want)
	}
	var locs []location
	n.mustJSON(t, n.adminCred(), "GET", withFilter("/api/v1/location/", "name='lab'"), nil, &locs)
	if len(locs) != 1 || locs[0].Name != "lab" {
		t.Errorf("location filter = %+v", locs)
	}
}

func TestServiceMappings(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	owner := n.createUser(t, "owner")
	other := n.createUser(t, "other")
	l := n.createLabel(t, "small", 1, def(1, 1))
	app := n.createApp(t, owner, l.UID, nil)

	// Cluster-wide mapping by admin; per-application mapping by the owner.
	var global, own serviceMapping
	body := n.mustJSON(t, n.adminCred(), "POST", "/api/v1/servicemapping/", serviceMapping{Service: "repo.example", Redirect: "10.0.0.1"}, &global)
	checkLayout(t, "service mapping", body)
	if keys := objectKeys(t, body); strings.Join(keys, ",") != "UID,application_UID,created_at,location_name,redirect,service" {
		t.Errorf("service mapping keys %v", keys)
	}
	n.checkUID(t, "service mapping", global.UID)
	if global.ApplicationUID != "00000000-0000-0000-0000-000000000000" {
		t.Errorf("cluster-wide mapping application_UID %q, want the null UUID", global.ApplicationUID)
	}
	n.mustJSON(t, owner, "POST", "/api/v1/servicemapping/", serviceMapping{ApplicationUID: app.UID, Service: "repo.example", Redirect: "10.0.0.2"}, &own)
	if own.ApplicationUID != app.UID {
		t.Errorf("own mapping = %+v", own)
	}

	for _, c := range []struct {
		name string
		c    cred
		body any
		want int
	}{
		{"cluster-wide by a user", owner, serviceMapping{Service: "a", Redirect: "b"}, 403},
		{"other's application", other, serviceMapping{ApplicationUID: app.UID, Service: "a", Redirect: "b"}, 403},
		{"unknown application", n.adminCred(), serviceMapping{ApplicationUID: unknownUID, Service: "a", Redirect: "b"}, 400},
		{"empty service", n.adminCred(), serviceMapping{Redirect: "b"}, 400},
		{"empty redirect", n.adminCred(), serviceMapping{Service: "a"}, 400},
		{"duplicate", n.adminCred(), serviceMapping{Service: "repo.example", Redirect: "10.0.0.9"}, 400},
		{"malformed", n.adminCred(), `{"service":`, 400},
	} {
		status, b := n.as(t, c.c, "POST", "/api/v1/servicemapping/", c.body)
		expect(t, "service mapping "+c.name, status, b, c.want)
	}

	var list []serviceMapping
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/servicemapping/", nil, &list)
	if len(list) != 2 || list[0].UID != global.UID || list[1].UID != own.UID {
		t.Errorf("service mapping list = %+v", list)
	}
	status, b := n.as(t, owner, "GET", "/api/v1/servicemapping/", nil)
	expect(t, "service mapping list as a user", status, b, 403)
	status, b = n.as(t, owner, "GET", "/api/v1/servicemapping/"+own.UID, nil)
	expect(t, "service mapping get as a user", status, b, 403)
	status, b = n.as(t, owner, "DELETE", "/api/v1/servicemapping/"+own.UID, nil)
	expect(t, "service mapping delete as a user", status, b, 403)
	n.mustJSON(t, n.adminCred(), "GET", "/api/v1/servicemapping/"+own.UID, nil, nil)
	status, b = n.admin(t, "GET", "/api/v1/servicemapping/"+unknownUID, nil)
	expect(t, "unknown service mapping", status, b, 404)

	status, b = n.admin(t, "DELETE", "/api/v1/servicemapping/"+own.UID, nil)
	if status != 200 || strings.TrimSpace(string(b)) != `{"message":"ServiceMapping removed"}` {
		t.Errorf("delete service mapping: %d %s", status, b)
	}
	status, b = n.admin(t, "GET", "/api/v1/servicemapping/"+own.UID, nil)
	expect(t, "deleted service mapping", status, b, 404)
	n.waitStatus(t, app.UID, "ALLOCATED", allocDeadline)
	n.release(t, app.UID)
}
