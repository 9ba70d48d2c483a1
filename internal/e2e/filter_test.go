package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestFilter runs every row of api-v1.md §6.2 and §6.3 against a fixed set of labels.
func TestFilter(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	n.createLabel(t, "test-label1", 1, def(1, 1))
	n.createLabel(t, "test-label2", 2, def(1, 1))
	l3 := n.createLabel(t, "ubuntu2004", 0, def(1, 1))
	n.createLabel(t, "a", 0, def(1, 1))
	n.createLabel(t, "b", 3, def(1, 1))
	all := []string{"test-label1", "test-label2", "ubuntu2004", "a", "b"}
	u := n.createUser(t, "someone")

	accepted := []struct {
		filter string
		want   []string
	}{
		{"name='test-label1'", []string{"test-label1"}},
		{"name = 'test-label2'", []string{"test-label2"}},
		{`name="ubuntu2004"`, []string{"ubuntu2004"}},
		{"name LIKE 'test-label%'", []string{"test-label1", "test-label2"}},
		{"name IN ('a', 'b')", []string{"a", "b"}},
		{"name = 'test-label1' AND version = 1", []string{"test-label1"}},
		{"name = 'test-label1' AND version = 2", nil},
		{"version > 0", []string{"test-label1", "test-label2", "b"}},
		{"version BETWEEN 0 AND 2", []string{"test-label1", "test-label2", "ubuntu2004", "a"}},
		{"name IS NOT NULL", all},
		{"abs(version) = 1", []string{"test-label1"}},
		{"CAST(version AS TEXT) = '1'", []string{"test-label1"}},
		{"1=1", all},
		{"UID LIKE '" + n.uid[:4] + "%'", all},
		{"uid = '" + l3.UID + "'", []string{"ubuntu2004"}},
		{"name = 'test-label1'; DROP label", []string{"test-label1"}},
		{"NAME='a' OR Version=3", []string{"a", "b"}},
		{"name = 'nothing'", nil},
	}
	for _, c := range accepted {
		var got []label
		body := n.mustJSON(t, u, "GET", withFilter("/api/v1/label/", c.filter), nil, &got)
		if names := labelNames(got); names != strings.Join(c.want, ",") {
			t.Errorf("filter %q = [%s], want [%s]", c.filter, names, strings.Join(c.want, ","))
		}
		if c.want == nil && strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("filter %q: body %q, want []", c.filter, body)
		}
	}

	// Rejected filters answer 200 [] and log a security warning; nothing is executed.
	rejected := []string{
		"a IN (1,2) ORDER BY id; DROP users",
		"DROP label",
		"name IN (DROP label)",
		"SELECT * FROM users WHERE a = 1; DROP users",
		"a in (SELECT * FROM users)",
		"name IN (SELECT name FROM labels)",
		"",
		"nosuchcolumn = 1",
		"name = 'a' OR",
	}
	for _, f := range rejected {
		from := n.current().out.len()
		status, body := n.as(t, u, "GET", withFilter("/api/v1/label/", f), nil)
		if status != 200 || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("filter %q: %d %q, want 200 []", f, status, body)
		}
		if _, ok := n.current().out.waitFor(from, time.Now().Add(2*time.Second), func(l string) bool {
			return strings.Contains(l, "weird SQL filter")
		}); !ok {
			t.Errorf("filter %q: no \"weird SQL filter\" warning logged", f)
		}
	}

	// All labels and users survived.
	var got []label
	n.mustJSON(t, u, "GET", "/api/v1/label/", nil, &got)
	if labelNames(got) != strings.Join(all, ",") {
		t.Errorf("labels after the rejected filters = [%s]", labelNames(got))
	}
	n.mustJSON(t, u, "GET", "/api/v1/user/me/", nil, nil)

	// Filters on the other lists.
	var users []apiUser
	n.mustJSON(t, n.adminCred(), "GET", withFilter("/api/v1/user/", "name LIKE 'some%'"), nil, &users)
	if len(users) != 1 || users[0].Name != "someone" {
		t.Errorf("user filter = %+v", users)
	}
	var nodes []nodeInfo
	n.mustJSON(t, u, "GET", withFilter("/api/v1/node/", "name='node-1'"), nil, &nodes)
	if len(nodes) != 1 {
		t.Errorf("node filter name='node-1' = %d nodes, want 1", len(nodes))
	}
	n.mustJSON(t, u, "GET", withFilter("/api/v1/node/", "name='node-2'"), nil, &nodes)
	if len(nodes) != 0 {
		t.Errorf("node filter name='node-2' = %d nodes, want 0", len(nodes))
	}
}

func labelNames(ls []label) string {
	var names []string
	for _, l := range ls {
		names = append(names, l.Name)
	}
	return strings.Join(names, ",")
}
