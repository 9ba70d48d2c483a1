package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// taskDeadline: ALLOCATED tasks are executed ≤ 10 s after creation (behaviour.md §13).
const taskDeadline = 10 * time.Second

// createTask creates a task as c and returns it as the node answered.
func (n *fishNode) createTask(t *testing.T, c cred, app string, body any) task {
	t.Helper()
	var tk task
	b := n.mustJSON(t, c, "POST", "/api/v1/application/"+app+"/task/", body, &tk)
	checkLayout(t, "task", b)
	if keys := objectKeys(t, b); strings.Join(keys, ",") != "UID,application_UID,created_at,options,result,task,updated_at,when" {
		t.Errorf("task keys %v", keys)
	}
	n.checkUID(t, "task", tk.UID)
	if tk.ApplicationUID != app || string(tk.Result) != "{}" {
		t.Errorf("created task = %s, want application %s and result {}", b, app)
	}
	return tk
}

// taskByUID reads the task list of app as c and returns the task uid.
func (n *fishNode) taskByUID(t *testing.T, c cred, app, uid string) task {
	t.Helper()
	var tasks []task
	n.mustJSON(t, c, "GET", "/api/v1/application/"+app+"/task/", nil, &tasks)
	for _, tk := range tasks {
		if tk.UID == uid {
			return tk
		}
	}
	t.Fatalf("task %s not in the list of %s", uid, app)
	return task{}
}

// waitResult waits until the task has a result other than {} and returns it.
func (n *fishNode) waitResult(t *testing.T, c cred, app, uid string, d time.Duration) task {
	t.Helper()
	var tk task
	if !poll(d, func() bool {
		tk = n.taskByUID(t, c, app, uid)
		return string(tk.Result) != "{}"
	}) {
		t.Fatalf("task %s (%s) has no result after %v", tk.Task, tk.When, d)
	}
	return tk
}

func TestTasks(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "owner")
	l := n.createLabel(t, "tasks", 1, def(1, 1))
	a := n.createApp(t, u, l.UID, nil)

	// Created right away, possibly before the allocation: runs once ALLOCATED.
	snap := n.createTask(t, u, a.UID, map[string]any{"task": "snapshot", "when": "ALLOCATED", "options": map[string]bool{"full": true}})
	if string(snap.Options) != `{"full":true}` || snap.When != "ALLOCATED" || snap.Task != "snapshot" {
		t.Errorf("created task = %+v", snap)
	}
	// A task for a status during which nothing runs is stored and never executed.
	never := n.createTask(t, u, a.UID, map[string]any{"task": "snapshot", "when": "NEW"})
	n.waitStatus(t, a.UID, "ALLOCATED", allocDeadline)
	done := n.waitResult(t, u, a.UID, snap.UID, taskDeadline)
	if string(done.Result) != `{"snapshots":["test-snapshot"],"when":"ALLOCATED"}` {
		t.Errorf("snapshot result %s", done.Result)
	}
	if !done.UpdatedAt.After(done.CreatedAt) {
		t.Errorf("updated_at %v not after created_at %v once the result is stored", done.UpdatedAt, done.CreatedAt)
	}

	// Unknown task.
	unknown := n.createTask(t, u, a.UID, map[string]any{"task": "nosuchtask", "when": "ALLOCATED"})
	if r := n.waitResult(t, u, a.UID, unknown.UID, taskDeadline).Result; string(r) != `{"error":"task not availble in driver"}` {
		t.Errorf("unknown task result %s", r)
	}

	// A DEALLOCATE task waits for the deallocation and runs before the driver removes the
	// resource.
	onDealloc := n.createTask(t, u, a.UID, map[string]any{"task": "snapshot", "when": "DEALLOCATE"})
	if r := n.taskByUID(t, u, a.UID, onDealloc.UID).Result; string(r) != "{}" {
		t.Errorf("DEALLOCATE task ran while ALLOCATED: %s", r)
	}
	n.deallocate(t, u, a.UID)
	n.waitStatus(t, a.UID, "DEALLOCATED", deallocDeadline)
	if r := n.waitResult(t, u, a.UID, onDealloc.UID, taskDeadline).Result; string(r) != `{"snapshots":["test-snapshot"],"when":"DEALLOCATE"}` {
		t.Errorf("DEALLOCATE snapshot result %s", r)
	}

	// The list is in creation order and filterable; results of GETs are embedded objects.
	var tasks []task
	body := n.mustJSON(t, u, "GET", "/api/v1/application/"+a.UID+"/task/", nil, &tasks)
	checkLayout(t, "task list", body)
	if len(tasks) != 4 || tasks[0].UID != snap.UID || tasks[1].UID != never.UID || tasks[2].UID != unknown.UID || tasks[3].UID != onDealloc.UID {
		t.Errorf("task list = %s", body)
	}
	if string(tasks[1].Result) != "{}" {
		t.Errorf("a task with when=NEW was executed: %s", tasks[1].Result)
	}
	n.mustJSON(t, u, "GET", withFilter("/api/v1/application/"+a.UID+"/task/", "task = 'nosuchtask'"), nil, &tasks)
	if len(tasks) != 1 || tasks[0].UID != unknown.UID {
		t.Errorf("task filter = %+v", tasks)
	}

	// The list filter cannot reach the tasks of another application.
	other := n.createApp(t, u, l.UID, nil)
	n.createTask(t, u, other.UID, map[string]any{"task": "snapshot", "when": "NEW"})
	for _, f := range []string{"1=1 OR 1=1", "task = 'snapshot' OR 1=1", "1=1) OR (1=1"} {
		n.mustJSON(t, u, "GET", withFilter("/api/v1/application/"+a.UID+"/task/", f), nil, &tasks)
		for _, tk := range tasks {
			if tk.ApplicationUID != a.UID {
				t.Errorf("task filter %q on %s returns a task of %s", f, a.UID, tk.ApplicationUID)
			}
		}
	}
	n.waitStatus(t, other.UID, "ALLOCATED", allocDeadline)
	n.release(t, other.UID)

	// Too late: an ALLOCATED task on a deallocated application never runs.
	late := n.createTask(t, u, a.UID, map[string]any{"task": "snapshot", "when": "ALLOCATED"})
	if poll(500*time.Millisecond, func() bool { return string(n.taskByUID(t, u, a.UID, late.UID).Result) != "{}" }) {
		t.Errorf("an ALLOCATED task ran on a deallocated application")
	}

	// Errors.
	status, b := n.as(t, u, "POST", "/api/v1/application/"+a.UID+"/task/", map[string]any{"when": "ALLOCATED"})
	expect(t, "task without name", status, b, 400)
	status, b = n.as(t, u, "POST", "/api/v1/application/"+a.UID+"/task/", `{"task":`)
	expect(t, "malformed task", status, b, 400)
}

// TestTaskAsAdmin: admin may create tasks on any application; the result is the same.
func TestTaskAsAdmin(t *testing.T) {
	t.Parallel()
	n := startNode(t, nodeOpts{})
	u := n.createUser(t, "owner")
	l := n.createLabel(t, "tasks", 1, def(1, 1))
	a, _ := n.allocate(t, u, l.UID)
	tk := n.createTask(t, n.adminCred(), a.UID, json.RawMessage(`{"task":"snapshot","when":"ALLOCATED","options":{}}`))
	if r := n.waitResult(t, u, a.UID, tk.UID, taskDeadline).Result; string(r) != `{"snapshots":["test-snapshot"],"when":"ALLOCATED"}` {
		t.Errorf("snapshot result %s", r)
	}
	n.release(t, a.UID)
}
