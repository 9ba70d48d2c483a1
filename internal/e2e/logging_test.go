package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestSecretsNotLogged: passwords and metadata values (CI agent secrets) never reach the output,
// apart from the one admin password line of the first start.
func TestSecretsNotLogged(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "agent")
	const given = "given-password-7f3a9"
	n.mustJSON(t, n.adminCred(), "POST", "/api/v1/user/", map[string]string{"name": "other", "password": given}, nil)
	n.mustJSON(t, cred{"other", given}, "GET", "/api/v1/user/me/", nil, nil)
	status, _ := n.as(t, cred{"other", given + "-wrong"}, "GET", "/api/v1/user/me/", nil)
	if status != 401 {
		t.Errorf("wrong password: %d", status)
	}
	const secret = "metadata-secret-4d1c2"
	l := n.createLabel(t, "small", 1, def(1, 1))
	a := n.createApp(t, u, l.UID, map[string]string{"JENKINS_SECRET": secret})
	n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
	tk := n.createTask(t, u, a.UID, map[string]any{"task": "snapshot", "when": "DEALLOCATE", "options": map[string]string{"token": secret}})
	n.release(t, a.UID)
	n.waitResult(t, u, a.UID, tk.UID, taskDeadline)
	n.stop(t)

	for _, l := range n.lines() {
		if strings.HasPrefix(l, adminPassPrefix) {
			continue
		}
		for what, s := range map[string]string{"admin password": n.token, "generated password": u.pass, "given password": given, "metadata value": secret} {
			if strings.Contains(l, s) {
				t.Errorf("the %s appears in the output: %.300q", what, l)
			}
		}
	}
}

// TestRequestLog: every request is logged as one JSON line on stdout (api-v1.md §1).
func TestRequestLog(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	for _, path := range []string{"/api/v1/label/?probe=request-log-1", "/api/v1/nothing/?probe=request-log-2", "/meta/v1/data/?probe=request-log-3"} {
		from := n.current().out.len()
		n.admin(t, "GET", path, nil)
		probe := path[strings.Index(path, "probe=")+len("probe="):]
		if _, ok := n.current().out.waitFor(from, time.Now().Add(2*time.Second), func(l string) bool {
			var v map[string]any
			return strings.Contains(l, probe) && json.Unmarshal([]byte(l), &v) == nil
		}); !ok {
			t.Errorf("no JSON log line for GET %s", path)
		}
	}
}
