package state

import (
	"reflect"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func TestElectionLateVoteInClosedRound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	a := f.app(f.twoDefs())
	f.vote(a, n1, 0, -1, 1) // only n1 is eligible: round 0 closes without a winner
	n2 := f.node(2, "n2", "test")
	f.vote(a, n2, 0, 0, 2) // n2 joined late and answers round 0: too late
	if w := f.work(a); w.Status != model.StatusNew || w.Round != 0 || !w.RoundClosed {
		t.Errorf("a vote in a closed round reopened it: %+v", w)
	}
}

func closeRound(app model.UID, round uint16, stateUID model.UID) *command.CloseRound {
	return &command.CloseRound{ApplicationUID: app, Round: round, StateUID: stateUID}
}

func TestCloseRoundDecidesWithVotesSoFar(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	f.node(2, "n2", "test") // eligible, never votes
	a := f.app(f.twoDefs())
	f.vote(a, n1, 0, 1, 1)
	if w := f.work(a); w.Status != model.StatusNew || w.RoundClosed {
		t.Fatalf("decided before n2 voted: %+v", w)
	}
	f.tick(6 * time.Second)
	stateUID := testUID(kState, 900)
	_, ev := f.ok(closeRound(a, 0, stateUID))
	if want := []Event{{Kind: EventApplication, App: a, Status: model.StatusElected, Node: n1}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	w := f.work(a)
	if w.Status != model.StatusElected || w.NodeUID != n1 || w.DefinitionIndex != 1 || !w.RoundClosed {
		t.Errorf("work = %+v", w)
	}
	if st := f.current(a); st.UID != stateUID || st.Description != "Elected node: n1" || !st.CreatedAt.Equal(f.now) {
		t.Errorf("state = %+v", st)
	}
	// Closing again, or n2's late vote, changes nothing.
	states := count(t, f.db, "application_state")
	if _, ev := f.ok(closeRound(a, 0, f.next(kState))); len(ev) != 0 {
		t.Errorf("second close emitted %v", kinds(ev))
	}
	f.vote(a, testUID(kNode, 2), 0, 0, 0)
	if n := count(t, f.db, "application_state"); n != states {
		t.Errorf("states = %d, want %d", n, states)
	}
}

func TestCloseRoundWithoutVotes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.node(1, "n1", "test")
	a := f.app(f.twoDefs())
	_, ev := f.ok(closeRound(a, 0, f.next(kState)))
	if want := []Event{{Kind: EventApplication, App: a, Status: model.StatusNew}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	if w := f.work(a); w.Status != model.StatusNew || !w.RoundClosed || w.Round != 0 {
		t.Errorf("work = %+v", w)
	}
	if n := count(t, f.db, "application_state"); n != 1 {
		t.Errorf("states = %d, want 1", n)
	}
}

func TestCloseRoundStale(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	f.node(2, "n2", "test")
	a := f.app(f.twoDefs())
	f.vote(a, n1, 1, 0, 1) // n1 opened round 1
	before := dump(t, f.db)
	if _, ev := f.ok(closeRound(a, 0, f.next(kState))); len(ev) != 0 {
		t.Errorf("closing a past round emitted %v", kinds(ev))
	}
	if _, ev := f.ok(closeRound(a, 2, f.next(kState))); len(ev) != 0 {
		t.Errorf("closing a future round emitted %v", kinds(ev))
	}
	if after := dump(t, f.db); after != before {
		t.Errorf("closing another round changed the database")
	}
	f.refused(closeRound(testUID(kApp, 404), 0, f.next(kState)), ErrNotFound)
}

func TestRoundAt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	f.node(2, "n2", "test")
	created := f.now
	a := f.app(f.twoDefs())
	if w := f.work(a); !w.RoundAt.Equal(created) || !w.StatusAt.Equal(created) {
		t.Errorf("new application: round_at %v, status_at %v; want %v", w.RoundAt, w.StatusAt, created)
	}
	f.tick(time.Second)
	f.vote(a, n1, 0, 0, 1) // joins round 0: the round's start does not move
	if w := f.work(a); !w.RoundAt.Equal(created) {
		t.Errorf("a vote in the current round moved round_at to %v", w.RoundAt)
	}
	f.tick(time.Second)
	f.ok(closeRound(a, 0, f.next(kState)))
	f.ok(dealloc(a, f.next(kState))) // not NEW any more; use another application for round 1

	b := f.app(f.label("again", 1, "test"))
	f.tick(time.Second)
	opened := f.now
	f.vote(b, n1, 1, -1, 1)
	if w := f.work(b); w.Round != 1 || !w.RoundAt.Equal(opened) {
		t.Errorf("opening round 1: work = %+v, want round_at %v", w, opened)
	}
	f.tick(time.Second)
	f.vote(b, testUID(kNode, 2), 1, 0, 2)
	if w := f.work(b); w.Status != model.StatusElected {
		t.Fatalf("work = %+v", w)
	}
	f.tick(time.Second)
	f.ok(&command.Reelect{ApplicationUID: b, State: model.ApplicationState{UID: f.next(kState), CreatedAt: f.now}})
	if w := f.work(b); w.Round != 2 || !w.RoundAt.Equal(f.now) || !w.StatusAt.Equal(f.now) {
		t.Errorf("after reelect: work = %+v, want round 2 opened at %v", w, f.now)
	}
}
