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

// TestApplicationCreateWithVote: the proposing node's round-0 vote travels with the creation.
func TestApplicationCreateWithVote(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	label := f.label("l", 1, "test", "test")
	create := func(uid model.UID) *command.ApplicationCreate {
		return &command.ApplicationCreate{
			Application: model.Application{UID: uid, CreatedAt: f.now, LabelUID: label, OwnerName: "alice"},
			State:       model.ApplicationState{UID: f.next(kState), CreatedAt: f.now},
			Vote: &command.Vote{
				// The application and round are those of the creation, whatever the proposer put.
				Vote:     model.Vote{UID: f.next(kVote), ApplicationUID: testUID(kApp, 404), Round: 7, NodeUID: n1, Available: 1, CreatedAt: f.now},
				StateUID: f.next(kState),
			},
		}
	}
	// The only eligible node votes yes: elected by the creation itself.
	a := testUID(kApp, 1)
	_, ev := f.ok(create(a))
	if !slices.Equal(kinds(ev), []EventKind{EventApplication, EventVote, EventApplication}) || ev[2].Status != model.StatusElected {
		t.Errorf("events = %+v", ev)
	}
	if w := f.work(a); w.Status != model.StatusElected || w.NodeUID != n1 || w.DefinitionIndex != 1 || w.Round != 0 {
		t.Errorf("work = %+v", w)
	}
	if _, err := f.db.Vote(context.Background(), a, n1, 0); err != nil {
		t.Errorf("the vote is not recorded for the new application in round 0: %v", err)
	}

	// With a second eligible node the election waits for it.
	n2 := f.node(2, "n2", "test")
	b := testUID(kApp, 2)
	f.ok(create(b))
	if w := f.work(b); w.Status != model.StatusNew || w.RoundClosed {
		t.Errorf("work = %+v", w)
	}
	f.vote(b, n2, 0, 0, 0)
	if w := f.work(b); w.Status != model.StatusElected || w.NodeUID != n2 {
		t.Errorf("work = %+v", w)
	}

	// A refused creation records no vote either.
	c := create(b)
	f.refused(c, ErrExists)
}

// TestConstraintViolationsAreRefusals: a command that breaks a table constraint fails the same
// way on every replica, so it must be refused (and change nothing), not reported as a database
// fault, which stops the node — and with it every replica that applies the same entry.
func TestConstraintViolationsAreRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	node := f.node(1, "n1", "test")
	a := f.allocated(f.label("l", 1, "test"), node)
	task := model.ApplicationTask{UID: testUID(kTask, 1), ApplicationUID: a, Task: "snapshot", When: model.StatusAllocated}
	f.ok(&command.TaskCreate{Task: task})
	used := f.current(a).UID
	for _, c := range []command.Command{
		&command.UserCreate{User: model.User{Name: "nohash"}}, // hash NOT NULL
		&command.TaskCreate{Task: task},                       // task UID UNIQUE
		dealloc(a, used),                                      // state UID UNIQUE
		&command.ApplicationCreate{Application: model.Application{UID: f.next(kApp), LabelUID: f.work(a).LabelUID},
			State: model.ApplicationState{UID: used}}, // state UID UNIQUE, after the application row
	} {
		before := dump(t, f.db)
		res, ev, err := applyAt(f.db, c, f.now)
		if err != nil {
			t.Errorf("%T: fault %v, want a refusal", c, err)
			continue
		}
		if !errors.Is(res.Err, ErrInvalid) && !errors.Is(res.Err, ErrExists) {
			t.Errorf("%T: err = %v, want ErrInvalid or ErrExists", c, res.Err)
		}
		if len(ev) != 0 || dump(t, f.db) != before {
			t.Errorf("%T: a refused command changed the state", c)
		}
	}
}
