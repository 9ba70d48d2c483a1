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

func TestApplicationCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	label := f.label("l", 1, "test")
	app := model.Application{UID: testUID(kApp, 1), CreatedAt: f.now, LabelUID: label,
		Metadata: json.RawMessage(`{"JENKINS_URL":"u","b":[1]}`), OwnerName: "alice"}
	stateUID := testUID(kState, 1)

	v, ev := f.ok(&command.ApplicationCreate{Application: app,
		State: model.ApplicationState{UID: stateUID, CreatedAt: f.now, Description: "Just created by Fish n1"}})
	if got, ok := v.(model.Application); !ok || got.UID != app.UID {
		t.Errorf("value = %#v", v)
	}
	if want := []Event{{Kind: EventApplication, App: app.UID, Status: model.StatusNew}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	got, err := f.db.Application(ctx, app.UID)
	if err != nil {
		t.Fatalf("Application: %v", err)
	}
	if !got.CreatedAt.Equal(app.CreatedAt) {
		t.Errorf("created_at = %v", got.CreatedAt)
	}
	got.CreatedAt = app.CreatedAt
	if !reflect.DeepEqual(got, app) {
		t.Errorf("application:\n got %+v\nwant %+v", got, app)
	}
	st := f.current(app.UID)
	want := model.ApplicationState{UID: stateUID, ApplicationUID: app.UID, CreatedAt: st.CreatedAt,
		Status: model.StatusNew, Description: "Just created by Fish n1"}
	if st != want || !st.CreatedAt.Equal(t0) {
		t.Errorf("state = %+v, want %+v", st, want)
	}
	w := f.work(app.UID)
	if w.Status != model.StatusNew || w.NodeUID != model.NilUID || w.DefinitionIndex != -1 || w.Round != 0 || w.RoundClosed || w.HasResource {
		t.Errorf("work = %+v", w)
	}
	// The same UID again is refused.
	f.refused(&command.ApplicationCreate{Application: app, State: model.ApplicationState{UID: testUID(kState, 2)}}, ErrExists)
}

func TestApplicationCreateUnknownLabel(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.label("l", 1, "test")
	f.refused(&command.ApplicationCreate{
		Application: model.Application{UID: testUID(kApp, 1), CreatedAt: t0, LabelUID: testUID(kLabel, 404), OwnerName: "alice"},
		State:       model.ApplicationState{UID: testUID(kState, 1), CreatedAt: t0},
	}, ErrNotFound)
	for _, table := range []string{"application", "application_state"} {
		if n := count(t, f.db, table); n != 0 {
			t.Errorf("%s rows = %d, want 0", table, n)
		}
	}
}

func TestApplicationsOwnerScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	label := f.label("l", 1, "test")
	a := f.app(label) // owner alice
	f.ok(&command.ApplicationCreate{
		Application: model.Application{UID: testUID(kApp, 99), CreatedAt: t0, LabelUID: label, OwnerName: "bob"},
		State:       model.ApplicationState{UID: testUID(kState, 99), CreatedAt: t0},
	})
	mine, err := f.db.Applications(ctx, nil, "alice")
	if err != nil || len(mine) != 1 || mine[0].UID != a {
		t.Errorf("alice's applications = %+v, %v", mine, err)
	}
	all, err := f.db.Applications(ctx, nil, "")
	if err != nil || len(all) != 2 {
		t.Errorf("all applications = %d, %v", len(all), err)
	}
	// Metadata absent is stored as {}.
	bob, _ := f.db.Application(ctx, testUID(kApp, 99))
	if string(bob.Metadata) != "{}" {
		t.Errorf("metadata = %s, want {}", bob.Metadata)
	}
}

func dealloc(app model.UID, stateUID model.UID) *command.ApplicationDealloc {
	return &command.ApplicationDealloc{State: model.ApplicationState{UID: stateUID, ApplicationUID: app, CreatedAt: t0,
		Description: "Requested by user alice"}}
}

func TestApplicationDealloc(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	node := f.node(1, "n1", "test")
	label := f.label("l", 1, "test")

	// NEW → RECALLED.
	a := f.app(label)
	v, ev := f.ok(dealloc(a, f.next(kState)))
	if st, ok := v.(model.ApplicationState); !ok || st.Status != model.StatusRecalled {
		t.Errorf("value = %#v", v)
	}
	if want := []Event{{Kind: EventApplication, App: a, Status: model.StatusRecalled}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	if st := f.current(a); st.Status != model.StatusRecalled || st.Description != "Requested by user alice" {
		t.Errorf("state = %+v", st)
	}
	f.refused(dealloc(a, f.next(kState)), ErrStatus)

	// ELECTED → RECALLED.
	b := f.app(label)
	f.vote(b, node, 0, 0, 1)
	if s := f.status(b); s != model.StatusElected {
		t.Fatalf("status = %s, want ELECTED", s)
	}
	f.ok(dealloc(b, f.next(kState)))
	if s := f.status(b); s != model.StatusRecalled {
		t.Errorf("ELECTED dealloc: status = %s, want RECALLED", s)
	}

	// ALLOCATED → DEALLOCATE, then DEALLOCATE → refused.
	c := f.allocated(label, node)
	_, ev = f.ok(dealloc(c, f.next(kState)))
	if want := []Event{{Kind: EventApplication, App: c, Status: model.StatusDeallocate, Node: node}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	if s := f.status(c); s != model.StatusDeallocate {
		t.Errorf("ALLOCATED dealloc: status = %s, want DEALLOCATE", s)
	}
	f.refused(dealloc(c, f.next(kState)), ErrStatus)

	// DEALLOCATED → refused.
	f.ok(&command.ResourceDelete{ApplicationUID: c, State: model.ApplicationState{UID: f.next(kState), CreatedAt: t0, Status: model.StatusDeallocated}})
	f.refused(dealloc(c, f.next(kState)), ErrStatus)

	// Unknown application.
	f.refused(dealloc(testUID(kApp, 404), f.next(kState)), ErrNotFound)
}

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

func TestApplicationState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	node := f.node(1, "n1", "test")
	other := testUID(kNode, 2)
	a := f.allocated(f.label("l", 1, "test"), node)
	st := func() model.ApplicationState {
		return model.ApplicationState{UID: f.next(kState), ApplicationUID: a, CreatedAt: t0, Status: model.StatusDeallocate}
	}
	f.refused(&command.ApplicationState{State: st(), From: []model.Status{model.StatusNew}}, ErrStatus)
	f.refused(&command.ApplicationState{State: st(), Node: other}, ErrStatus)
	f.ok(&command.ApplicationState{State: st(), From: []model.Status{model.StatusAllocated}, Node: node})
	if s := f.status(a); s != model.StatusDeallocate {
		t.Errorf("status = %s", s)
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

func TestReelect(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	node := f.node(1, "n1", "test")
	a := f.app(f.label("l", 1, "test"))
	reelect := func() *command.Reelect {
		return &command.Reelect{ApplicationUID: a, State: model.ApplicationState{UID: f.next(kState), CreatedAt: t0, Description: "re-election"}}
	}
	f.refused(reelect(), ErrStatus) // NEW: nothing to re-elect
	f.vote(a, node, 0, 0, 1)
	f.ok(reelect())
	w := f.work(a)
	if w.Status != model.StatusNew || w.NodeUID != model.NilUID || w.DefinitionIndex != -1 || w.Round != 1 || w.RoundClosed {
		t.Errorf("work after reelect = %+v", w)
	}
	// The old winner's late vote for round 0 changes nothing; a vote in round 1 decides.
	f.vote(a, node, 0, 0, 1)
	if s := f.status(a); s != model.StatusNew {
		t.Errorf("late vote decided: %s", s)
	}
	f.vote(a, node, 1, 0, 1)
	if w := f.work(a); w.Status != model.StatusElected || w.NodeUID != node {
		t.Errorf("work = %+v", w)
	}
}

// TestRefusedChangesNothing runs every kind of refusal on a populated database: not a row
// changes and no event is emitted (fixture.refused checks both).
func TestRefusedChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	node := f.node(1, "n1", "test")
	label := f.label("l", 1, "test")
	a := f.allocated(label, node)
	f.app(label)
	f.ok(userCreate("alice", []byte("h")))
	before := map[string]int{}
	tables := []string{"user", "label", "application", "application_state", "application_task", "resource", "vote", "node", "location", "service_mapping"}
	for _, table := range tables {
		before[table] = count(t, f.db, table)
	}
	f.refused(userCreate("alice", []byte("h")), ErrExists)
	f.refused(&command.LabelCreate{Label: fullLabel(f.next(kLabel), "l", 1, `{}`)}, ErrExists)
	f.refused(&command.ApplicationCreate{Application: model.Application{UID: f.next(kApp), LabelUID: testUID(kLabel, 404)}}, ErrNotFound)
	f.refused(dealloc(testUID(kApp, 404), f.next(kState)), ErrNotFound)
	f.refused(f.resourceCreate(a, node), ErrStatus)
	f.refused(&command.Reelect{ApplicationUID: a}, ErrStatus)
	f.refused(&command.NodeHeartbeat{UID: testUID(kNode, 404)}, ErrNotFound)
	for _, table := range tables {
		if n := count(t, f.db, table); n != before[table] {
			t.Errorf("%s rows = %d, want %d", table, n, before[table])
		}
	}
}

func TestUnknownCommandType(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, _, err := f.db.Apply(command.Envelope{Type: 999, Time: t0}, &command.UserDelete{})
	if err == nil {
		t.Fatal("an unknown command type must be a fault")
	}
}
