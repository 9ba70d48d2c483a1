package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestLabelCreateAndRead(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	adm := n.adminCred()
	u := n.createUser(t, "someone")

	// Empty list is [] for everyone.
	for _, c := range []cred{adm, u} {
		status, body := n.as(t, c, "GET", "/api/v1/label/", nil)
		if status != 200 || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("empty label list as %s: %d %q, want 200 []", c.user, status, body)
		}
	}

	// JSON create; free-form metadata keeps its order; client created_at is ignored.
	req := `{"name":"json-label","version":3,"created_at":"2001-01-01T00:00:00Z",` +
		`"definitions":[{"driver":"test","resources":{"cpu":1,"ram":2,"lifetime":"1h"}}],` +
		`"metadata":{"zeta":1,"alpha":{"b":2,"a":1}}}`
	status, body := n.admin(t, "POST", "/api/v1/label/", req)
	expect(t, "create label", status, body, 200)
	checkLabelBody(t, "create label", body)
	var l label
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	n.checkUID(t, "label", l.UID)
	if l.CreatedAt.Year() == 2001 {
		t.Errorf("client created_at was stored")
	}
	if string(l.Metadata) != `{"zeta":1,"alpha":{"b":2,"a":1}}` {
		t.Errorf("metadata = %s, want the object as given (order kept)", l.Metadata)
	}
	if len(l.Definitions) != 1 || string(l.Definitions[0].Options) != "{}" {
		t.Errorf("definitions = %s, want one with options {}", body)
	}

	// GET by a regular user.
	status, body = n.as(t, u, "GET", "/api/v1/label/"+l.UID, nil)
	expect(t, "get label as a user", status, body, 200)
	checkLabelBody(t, "get label", body)
	var got label
	_ = json.Unmarshal(body, &got)
	if got.UID != l.UID || string(got.Metadata) != string(l.Metadata) || !got.CreatedAt.Equal(l.CreatedAt) {
		t.Errorf("get label = %s, want the created one", body)
	}

	// YAML create with the JSON (snake_case) keys.
	yml := "name: yaml-label\nversion: 1\ndefinitions:\n" +
		"  - driver: test\n    options:\n      fail_allocate: 0\n" +
		"    resources:\n      cpu: 2\n      ram: 3\n      cpu_overbook: true\n      ram_overbook: true\n" +
		"      multitenancy: true\n      node_filter:\n        - \"FishName:node-*\"\n      network: nat\n" +
		"metadata:\n  key: value\n  on: yes\n  a_mode: 0644\n"
	status, body = n.do(t, "POST", "/api/v1/label/", "admin", n.token, yml, "application/yaml")
	expect(t, "create YAML label", status, body, 200)
	checkLabelBody(t, "create YAML label", body)
	var raw struct {
		Definitions []struct {
			Options   json.RawMessage `json:"options"`
			Resources struct {
				CPUOverbook  bool     `json:"cpu_overbook"`
				RAMOverbook  bool     `json:"ram_overbook"`
				Multitenancy bool     `json:"multitenancy"`
				NodeFilter   []string `json:"node_filter"`
				Network      string   `json:"network"`
				CPU, RAM     int
			} `json:"resources"`
		} `json:"definitions"`
		Metadata json.RawMessage `json:"metadata"`
	}
	_ = json.Unmarshal(body, &raw)
	if len(raw.Definitions) != 1 {
		t.Fatalf("YAML label: %s", body)
	}
	r := raw.Definitions[0].Resources
	if !r.CPUOverbook || !r.RAMOverbook || !r.Multitenancy || len(r.NodeFilter) != 1 || r.NodeFilter[0] != "FishName:node-*" || r.Network != "nat" || r.CPU != 2 || r.RAM != 3 {
		t.Errorf("YAML snake_case keys not honoured: %s", body)
	}
	// Keys keep their order and their text (YAML 1.2: "on" and "yes" are words, 0644 a number).
	if string(raw.Metadata) != `{"key":"value","on":"yes","a_mode":644}` || string(raw.Definitions[0].Options) != `{"fail_allocate":0}` {
		t.Errorf("YAML free-form fields: metadata %s options %s", raw.Metadata, raw.Definitions[0].Options)
	}

	// List in creation order, with a filter, as a regular user.
	var list []label
	body = n.mustJSON(t, u, "GET", "/api/v1/label/", nil, &list)
	checkLayout(t, "label list", body)
	if len(list) != 2 || list[0].Name != "json-label" || list[1].Name != "yaml-label" {
		t.Errorf("label list = %s", body)
	}
	if !bytes.Contains(body, []byte(`},{"UID":`)) {
		t.Errorf("label list cannot be split on },{\"UID\": by shell clients: %s", body)
	}

	// Delete (admin): the label is gone; deleting an unknown label is fine too.
	status, body = n.admin(t, "DELETE", "/api/v1/label/"+l.UID, nil)
	expect(t, "delete label", status, body, 200)
	if strings.TrimSpace(string(body)) != `{"message":"Label removed"}` {
		t.Errorf("delete label answer %q", body)
	}
	status, body = n.admin(t, "GET", "/api/v1/label/"+l.UID, nil)
	expect(t, "get deleted label", status, body, 404)
	status, body = n.admin(t, "DELETE", "/api/v1/label/"+l.UID, nil)
	expect(t, "delete unknown label", status, body, 200)
	// The name and version are free again.
	n.createLabel(t, "json-label", 3, def(1, 1))
}

// checkLabelBody asserts the exact layout of a Label answer.
func checkLabelBody(t *testing.T, what string, body []byte) {
	t.Helper()
	checkLayout(t, what, body)
	if !bytes.HasPrefix(body, []byte(`{"UID":"`)) {
		t.Errorf("%s: body does not start with {\"UID\":\" : %s", what, body)
	}
	if keys := objectKeys(t, body); strings.Join(keys, ",") != "UID,created_at,definitions,metadata,name,version" {
		t.Errorf("%s: keys %v", what, keys)
	}
	var l struct {
		Definitions []json.RawMessage `json:"definitions"`
	}
	_ = json.Unmarshal(body, &l)
	for _, d := range l.Definitions {
		if keys := objectKeys(t, d); strings.Join(keys, ",") != "driver,options,resources" {
			t.Errorf("%s: definition keys %v", what, keys)
		}
		var dd struct {
			Resources json.RawMessage `json:"resources"`
		}
		_ = json.Unmarshal(d, &dd)
		want := "cpu,cpu_overbook,disks,lifetime,multitenancy,network,node_filter,ram,ram_overbook"
		if keys := objectKeys(t, dd.Resources); strings.Join(keys, ",") != want {
			t.Errorf("%s: resources keys %v, want all of %s", what, keys, want)
		}
	}
}

func TestLabelErrors(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	n.createLabel(t, "dup", 1, def(1, 1))
	u := n.createUser(t, "someone")

	big := `{"name":"big","definitions":[{"driver":"test","resources":{"cpu":1,"ram":1}}],"metadata":{"pad":"` +
		strings.Repeat("x", 70<<10) + `"}}`
	cases := []struct {
		name, body, contentType string
		want                    int
	}{
		{"duplicate name and version", `{"name":"dup","version":1,"definitions":[{"driver":"test","resources":{"cpu":1,"ram":1}}]}`, "", 400},
		{"missing name", `{"definitions":[{"driver":"test","resources":{"cpu":1,"ram":1}}]}`, "", 400},
		{"no definitions", `{"name":"nodefs"}`, "", 400},
		{"empty definitions", `{"name":"nodefs","definitions":[]}`, "", 400},
		{"empty driver", `{"name":"x","definitions":[{"driver":"","resources":{"cpu":1,"ram":1}}]}`, "", 400},
		{"unknown driver", `{"name":"x","definitions":[{"driver":"nosuchdriver","resources":{"cpu":1,"ram":1}}]}`, "", 400},
		{"cpu 0", `{"name":"x","definitions":[{"driver":"test","resources":{"cpu":0,"ram":1}}]}`, "", 400},
		{"ram 0", `{"name":"x","definitions":[{"driver":"test","resources":{"cpu":1,"ram":0}}]}`, "", 400},
		{"negative cpu", `{"name":"x","definitions":[{"driver":"test","resources":{"cpu":-1,"ram":1}}]}`, "", 400},
		{"bad lifetime", `{"name":"x","definitions":[{"driver":"test","resources":{"cpu":1,"ram":1,"lifetime":"forever"}}]}`, "", 400},
		{"second definition invalid", `{"name":"x","definitions":[{"driver":"test","resources":{"cpu":1,"ram":1}},{"driver":"test","resources":{"cpu":0,"ram":1}}]}`, "", 400},
		{"malformed JSON", `{"name":"x",`, "", 400},
		{"malformed YAML", "name: [x\n", "application/yaml", 400},
		{"unknown content type", `{"name":"x","definitions":[{"driver":"test","resources":{"cpu":1,"ram":1}}]}`, "text/plain", 400},
		{"body over 64 KB", big, "", http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		status, body := n.do(t, "POST", "/api/v1/label/", "admin", n.token, c.body, c.contentType)
		expect(t, c.name, status, body, c.want)
		if c.want == http.StatusRequestEntityTooLarge && errorText(body) != "Request Entity Too Large" {
			t.Errorf("%s: body %s", c.name, body)
		}
	}

	// Path parameter and permissions.
	status, body := n.admin(t, "GET", "/api/v1/label/not-a-uuid", nil)
	expect(t, "bad uid", status, body, 400)
	if !strings.HasPrefix(errorText(body), "Invalid format for parameter uid") {
		t.Errorf("bad uid message %q", errorText(body))
	}
	status, body = n.admin(t, "GET", "/api/v1/label/"+unknownUID, nil)
	expect(t, "unknown uid", status, body, 404)
	status, body = n.as(t, u, "POST", "/api/v1/label/", label{Name: "mine", Definitions: []definition{def(1, 1)}})
	expect(t, "create label as a user", status, body, 403)
	l := n.createLabel(t, "keep", 1, def(1, 1))
	status, body = n.as(t, u, "DELETE", "/api/v1/label/"+l.UID, nil)
	expect(t, "delete label as a user", status, body, 403)
	n.mustJSON(t, u, "GET", "/api/v1/label/"+l.UID, nil, nil)

	// Nothing of the refused requests was stored.
	var list []label
	n.mustJSON(t, u, "GET", "/api/v1/label/", nil, &list)
	if len(list) != 2 {
		t.Errorf("labels after the refused creates: %d, want 2 (dup, keep)", len(list))
	}
}

// unknownUID is a valid UUID that names nothing.
const unknownUID = "0badc0de-0000-4000-8000-000000000001"
