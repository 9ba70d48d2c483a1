package state

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// allocated creates an application, elects node and records its resource: ALLOCATED.
func (f *fixture) allocated(label, node model.UID) model.UID {
	f.t.Helper()
	a := f.app(label)
	f.vote(a, node, 0, 0, 1)
	f.ok(f.resourceCreate(a, node))
	if s := f.status(a); s != model.StatusAllocated {
		f.t.Fatalf("status = %s, want ALLOCATED", s)
	}
	return a
}

// resourceCreate is node's record of a resource for app, with the ALLOCATED state.
func (f *fixture) resourceCreate(app, node model.UID) *command.ResourceCreate {
	return &command.ResourceCreate{
		Resource: model.Resource{UID: f.next(kRes), ApplicationUID: app, NodeUID: node, CreatedAt: f.now, UpdatedAt: f.now,
			Identifier: "test-abcdef", IPAddr: "127.0.0.1", HwAddr: "00:11:22:33:44:55", Metadata: json.RawMessage(`{"k":"v"}`)},
		State: model.ApplicationState{UID: f.next(kState), CreatedAt: f.now, Description: "Driver allocated the resource"},
	}
}

func TestResourceCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	node := f.node(1, "n1", "test")
	other := f.node(2, "n2", "test")
	label := f.label("l", 1, "test")
	a := f.app(label)

	// Not elected yet: refused.
	f.refused(f.resourceCreate(a, node), ErrStatus)
	f.vote(a, node, 0, 0, 1)
	f.vote(a, other, 0, 0, 2) // same index and time: the smaller rand (node) wins
	if w := f.work(a); w.Status != model.StatusElected || w.NodeUID != node {
		t.Fatalf("work = %+v", w)
	}
	// Wrong node: refused.
	f.refused(f.resourceCreate(a, other), ErrStatus)

	c := f.resourceCreate(a, node)
	v, ev := f.ok(c)
	if r, ok := v.(model.Resource); !ok || r.UID != c.Resource.UID {
		t.Errorf("value = %#v", v)
	}
	if !slices.Equal(kinds(ev), []EventKind{EventResource, EventApplication}) || ev[1].Status != model.StatusAllocated || ev[1].Node != node {
		t.Errorf("events = %+v", ev)
	}
	st := f.current(a)
	if st.Status != model.StatusAllocated || st.UID != c.State.UID || st.Description != "Driver allocated the resource" {
		t.Errorf("state = %+v", st)
	}
	r, err := f.db.ApplicationResource(ctx, a)
	if err != nil || r.UID != c.Resource.UID || r.Identifier != "test-abcdef" || string(r.Metadata) != `{"k":"v"}` {
		t.Errorf("ApplicationResource = %+v, %v", r, err)
	}
	if w := f.work(a); !w.HasResource {
		t.Errorf("work = %+v, want HasResource", w)
	}
	byIP, err := f.db.LiveResourceByIP(ctx, node, "127.0.0.1")
	if err != nil || byIP.UID != r.UID {
		t.Errorf("LiveResourceByIP = %+v, %v", byIP, err)
	}
	if _, err := f.db.LiveResourceByIP(ctx, other, "127.0.0.1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LiveResourceByIP of another node: err = %v", err)
	}
	// A second resource for the same application: refused (status is ALLOCATED now).
	f.refused(f.resourceCreate(a, node), ErrStatus)
}

func TestResourceCreateWhenRecalled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	node := f.node(1, "n1", "test")
	label := f.label("l", 1, "test")
	a := f.app(label)
	f.vote(a, node, 0, 0, 1)
	f.ok(dealloc(a, f.next(kState))) // the user recalls it while the node allocates

	c := f.resourceCreate(a, node)
	_, ev := f.ok(c)
	if !slices.Equal(kinds(ev), []EventKind{EventResource}) || ev[0].Status != model.StatusRecalled {
		t.Errorf("events = %+v", ev)
	}
	if s := f.status(a); s != model.StatusRecalled {
		t.Errorf("status = %s, want RECALLED", s)
	}
	if _, err := f.db.ApplicationResource(ctx, a); err != nil {
		t.Errorf("resource of a recalled application not stored: %v", err)
	}
	work, err := f.db.NodeWork(ctx, node)
	if err != nil || len(work) != 1 || work[0].UID != a || !work[0].HasResource {
		t.Errorf("NodeWork = %+v, %v; the recalled resource must stay visible to tear down", work, err)
	}
	if _, err := f.db.LiveResourceByIP(ctx, node, "127.0.0.1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a recalled resource is live: err = %v", err)
	}

	// Teardown: the row goes and DEALLOCATED is recorded.
	f.ok(&command.ResourceDelete{ApplicationUID: a, State: model.ApplicationState{UID: f.next(kState), CreatedAt: t0,
		Status: model.StatusDeallocated, Description: "Driver deallocated the resource"}})
	if s := f.status(a); s != model.StatusDeallocated {
		t.Errorf("status = %s, want DEALLOCATED", s)
	}
	if n := count(t, f.db, "resource"); n != 0 {
		t.Errorf("resources = %d, want 0", n)
	}
}

func TestResourceDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	node := f.node(1, "n1", "test")
	label := f.label("l", 1, "test")
	a := f.allocated(label, node)
	f.ok(dealloc(a, f.next(kState)))

	stUID := f.next(kState)
	v, ev := f.ok(&command.ResourceDelete{ApplicationUID: a, State: model.ApplicationState{UID: stUID, CreatedAt: t0,
		Status: model.StatusDeallocated, Description: "Driver deallocated the resource"}})
	if st, ok := v.(model.ApplicationState); !ok || st.UID != stUID {
		t.Errorf("value = %#v", v)
	}
	if !slices.Equal(kinds(ev), []EventKind{EventResource, EventApplication}) || ev[1].Status != model.StatusDeallocated {
		t.Errorf("events = %+v", ev)
	}
	if s := f.status(a); s != model.StatusDeallocated {
		t.Errorf("status = %s, want DEALLOCATED", s)
	}
	if _, err := f.db.ApplicationResource(ctx, a); !errors.Is(err, ErrNotFound) {
		t.Errorf("resource still there: %v", err)
	}
	if work, _ := f.db.NodeWork(ctx, node); len(work) != 0 {
		t.Errorf("NodeWork = %+v, want none", work)
	}
	// Once final, a repeated delete keeps the history as it is.
	states := count(t, f.db, "application_state")
	_, ev = f.ok(&command.ResourceDelete{ApplicationUID: a, State: model.ApplicationState{UID: f.next(kState), Status: model.StatusError}})
	if n := count(t, f.db, "application_state"); n != states {
		t.Errorf("states = %d, want %d", n, states)
	}
	if !slices.Equal(kinds(ev), []EventKind{EventResource}) {
		t.Errorf("events = %v", kinds(ev))
	}
	f.refused(&command.ResourceDelete{ApplicationUID: testUID(kApp, 404)}, ErrNotFound)
}

func TestResourceSetIP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	node := f.node(1, "n1", "test")
	a := f.allocated(f.label("l", 1, "test"), node)
	r, _ := f.db.ApplicationResource(ctx, a)
	f.ok(&command.ResourceSetIP{UID: r.UID, IP: "10.1.2.3", UpdatedAt: t0.Add(HeartbeatInterval)})
	got, err := f.db.Resource(ctx, r.UID)
	if err != nil || got.IPAddr != "10.1.2.3" || !got.UpdatedAt.Equal(t0.Add(HeartbeatInterval)) {
		t.Errorf("Resource = %+v, %v", got, err)
	}
}

func TestTasks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	node := f.node(1, "n1", "test")
	a := f.allocated(f.label("l", 1, "test"), node)
	task := model.ApplicationTask{UID: testUID(kTask, 1), ApplicationUID: a, CreatedAt: t0, UpdatedAt: t0,
		Task: "snapshot", When: model.StatusAllocated, Options: json.RawMessage(`{"full":true}`)}
	_, ev := f.ok(&command.TaskCreate{Task: task})
	if want := []Event{{Kind: EventTask, App: a, Task: task.UID, Node: node, Status: model.StatusAllocated}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	pending, err := f.db.PendingTasks(ctx, a, model.StatusAllocated)
	if err != nil || len(pending) != 1 || string(pending[0].Result) != "{}" || string(pending[0].Options) != `{"full":true}` {
		t.Errorf("PendingTasks = %+v, %v", pending, err)
	}
	f.ok(&command.TaskResult{UID: task.UID, Result: json.RawMessage(`{"snapshots":["s1"]}`), UpdatedAt: t0.Add(HeartbeatInterval)})
	if pending, _ := f.db.PendingTasks(ctx, a, model.StatusAllocated); len(pending) != 0 {
		t.Errorf("PendingTasks after result = %+v", pending)
	}
	got, err := f.db.Task(ctx, task.UID)
	if err != nil || string(got.Result) != `{"snapshots":["s1"]}` || !got.UpdatedAt.Equal(t0.Add(HeartbeatInterval)) {
		t.Errorf("Task = %+v, %v", got, err)
	}
	f.refused(&command.TaskResult{UID: testUID(kTask, 404), Result: json.RawMessage(`{}`)}, ErrNotFound)
	f.refused(&command.TaskCreate{Task: model.ApplicationTask{UID: testUID(kTask, 2), ApplicationUID: testUID(kApp, 404)}}, ErrNotFound)
}
