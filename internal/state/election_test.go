package state

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func TestWinner(t *testing.T) {
	t.Parallel()
	n1, n2, n3 := testUID(kNode, 1), testUID(kNode, 2), testUID(kNode, 3)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	v := func(node model.UID, available int, created time.Time, rand uint32) model.Vote {
		return model.Vote{NodeUID: node, Available: available, CreatedAt: created, Rand: rand}
	}
	tests := []struct {
		name  string
		votes []model.Vote
		want  model.UID // NilUID: no winner
	}{
		{"no votes", nil, model.NilUID},
		{"all no", []model.Vote{v(n1, -1, at(0), 1), v(n2, -1, at(0), 2)}, model.NilUID},
		{"only yes", []model.Vote{v(n1, 2, at(5), 9)}, n1},
		{"yes beats no", []model.Vote{v(n1, -1, at(0), 0), v(n2, 3, at(9), 9)}, n2},
		{"smallest available", []model.Vote{v(n1, 1, at(0), 0), v(n2, 0, at(9), 9), v(n3, 2, at(0), 0)}, n2},
		{"then earliest vote", []model.Vote{v(n1, 0, at(2), 0), v(n2, 0, at(1), 9), v(n3, 0, at(3), 0)}, n2},
		{"then smallest rand", []model.Vote{v(n1, 0, at(1), 7), v(n2, 0, at(1), 3), v(n3, 0, at(1), 5)}, n2},
		{"then smallest node UID", []model.Vote{v(n3, 0, at(1), 3), v(n2, 0, at(1), 3), v(n1, 1, at(0), 0)}, n2},
		{"time compares instants, not zones", []model.Vote{v(n1, 0, at(1).In(time.FixedZone("x", 3600)), 0), v(n2, 0, at(2), 0)}, n1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, ok := Winner(tt.votes)
			if ok != (tt.want != model.NilUID) || w.NodeUID != tt.want {
				t.Errorf("Winner = %v, %v; want %v", w.NodeUID, ok, tt.want)
			}
			// The rule is total: the order of the votes does not matter.
			rev := slices.Clone(tt.votes)
			slices.Reverse(rev)
			if w2, _ := Winner(rev); w2.NodeUID != w.NodeUID {
				t.Errorf("reversed order: Winner = %v, want %v", w2.NodeUID, w.NodeUID)
			}
		})
	}
}

// twoDefs is a label with two definitions of the test driver.
func (f *fixture) twoDefs() model.UID {
	f.t.Helper()
	return f.label("two", 1, "test", "test")
}

func TestElectionSingleNodeYes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	node := f.node(1, "node-one", "test")
	a := f.app(f.twoDefs())
	stateUID := testUID(kState, 777)
	_, ev := f.ok(&command.Vote{
		Vote:     model.Vote{UID: f.next(kVote), ApplicationUID: a, NodeUID: node, Round: 0, Available: 1, Rand: 5, CreatedAt: f.now},
		StateUID: stateUID,
	})
	want := []Event{
		{Kind: EventVote, App: a, Node: node},
		{Kind: EventApplication, App: a, Status: model.StatusElected, Node: node},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	st := f.current(a)
	if st.Status != model.StatusElected || st.Description != "Elected node: node-one" || st.UID != stateUID || !st.CreatedAt.Equal(f.now) {
		t.Errorf("state = %+v", st)
	}
	w := f.work(a)
	if w.NodeUID != node || w.DefinitionIndex != 1 || !w.RoundClosed || w.Round != 0 {
		t.Errorf("work = %+v", w)
	}
}

func TestElectionSingleNodeNoThenLaterRound(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	node := f.node(1, "n1", "test")
	a := f.app(f.twoDefs())

	ev := f.vote(a, node, 0, -1, 5)
	want := []Event{{Kind: EventVote, App: a, Node: node}, {Kind: EventApplication, App: a, Status: model.StatusNew}}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	w := f.work(a)
	if w.Status != model.StatusNew || !w.RoundClosed || w.Round != 0 || w.NodeUID != model.NilUID {
		t.Errorf("after no: work = %+v", w)
	}
	if n := count(t, f.db, "application_state"); n != 1 {
		t.Errorf("states = %d, want 1 (NEW only)", n)
	}

	// Capacity freed: the node opens round 1 with a yes, which decides.
	f.tick(time.Second)
	ev = f.vote(a, node, 1, 0, 6)
	if !slices.Equal(kinds(ev), []EventKind{EventVote, EventApplication, EventApplication}) || ev[2].Status != model.StatusElected {
		t.Errorf("events = %+v", ev)
	}
	w = f.work(a)
	if w.Status != model.StatusElected || w.Round != 1 || !w.RoundClosed || w.NodeUID != node || w.DefinitionIndex != 0 {
		t.Errorf("after round 1: work = %+v", w)
	}
}

func TestElectionNoInLaterRoundClosesAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	node := f.node(1, "n1", "test")
	a := f.app(f.twoDefs())
	f.vote(a, node, 0, -1, 1)
	f.vote(a, node, 1, -1, 1)
	if w := f.work(a); w.Status != model.StatusNew || w.Round != 1 || !w.RoundClosed {
		t.Errorf("work = %+v", w)
	}
}

func TestElectionTwoNodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	n2 := f.node(2, "n2", "test")
	a := f.app(f.twoDefs())

	ev := f.vote(a, n1, 0, 1, 1)
	if !slices.Equal(kinds(ev), []EventKind{EventVote}) {
		t.Errorf("first vote events = %v", kinds(ev))
	}
	if w := f.work(a); w.Status != model.StatusNew || w.RoundClosed {
		t.Fatalf("first of two votes decided: %+v", w)
	}
	f.tick(time.Second)
	f.vote(a, n2, 0, 0, 9) // later, but a better definition index
	w := f.work(a)
	if w.Status != model.StatusElected || w.NodeUID != n2 || w.DefinitionIndex != 0 {
		t.Errorf("work = %+v, want ELECTED on n2 with definition 0", w)
	}
	if d := f.current(a).Description; d != "Elected node: n2" {
		t.Errorf("description = %q", d)
	}
}

func TestElectionTwoNodesNoWinner(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	n2 := f.node(2, "n2", "test")
	a := f.app(f.twoDefs())
	f.vote(a, n1, 0, -1, 1)
	f.vote(a, n2, 0, -1, 2)
	if w := f.work(a); w.Status != model.StatusNew || !w.RoundClosed {
		t.Errorf("work = %+v", w)
	}
	// n2 can serve now: it opens round 1; n1 is awaited again.
	f.vote(a, n2, 1, 0, 2)
	if w := f.work(a); w.Status != model.StatusNew || w.Round != 1 || w.RoundClosed {
		t.Errorf("after opening round 1: work = %+v", w)
	}
	f.vote(a, n1, 1, -1, 1)
	if w := f.work(a); w.Status != model.StatusElected || w.NodeUID != n2 {
		t.Errorf("after round 1: work = %+v", w)
	}
}

func TestElectionStaleNodeNotEligible(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	f.node(2, "n2", "test") // registers at t0 and is never heard of again
	a := f.app(f.twoDefs())

	// At exactly LiveWindow after its last heartbeat a node still counts.
	f.tick(LiveWindow)
	f.heartbeat(n1, "test")
	f.vote(a, n1, 0, 0, 1)
	if w := f.work(a); w.Status != model.StatusNew {
		t.Fatalf("n2 is still live at LiveWindow, yet the round was decided: %+v", w)
	}

	// Past LiveWindow (at the log time of the next command) it does not.
	b := f.app(f.label("other", 1, "test"))
	f.tick(time.Nanosecond)
	f.vote(b, n1, 0, 0, 1)
	if w := f.work(b); w.Status != model.StatusElected || w.NodeUID != n1 {
		t.Errorf("stale n2 was awaited: %+v", w)
	}
}

func TestElectionNodeWithoutDriverNotEligible(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	f.node(2, "n2", "docker")
	a := f.app(f.label("t", 1, "test"))
	f.vote(a, n1, 0, 0, 1)
	if w := f.work(a); w.Status != model.StatusElected || w.NodeUID != n1 {
		t.Errorf("node without the driver was awaited: %+v", w)
	}

	// A label naming both drivers waits for both nodes.
	b := f.app(f.label("both", 1, "docker", "test"))
	f.vote(b, n1, 0, 1, 1)
	if w := f.work(b); w.Status != model.StatusNew {
		t.Errorf("decided before the docker node voted: %+v", w)
	}
}

func TestElectionHeartbeatDriversCount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	n2 := f.node(2, "n2", "test")
	f.heartbeat(n2) // n2's test driver went away
	a := f.app(f.label("t", 1, "test"))
	f.vote(a, n1, 0, 0, 1)
	if w := f.work(a); w.Status != model.StatusElected {
		t.Errorf("node whose heartbeat names no driver of the label was awaited: %+v", w)
	}
}

func TestElectionStaleAndDuplicateVotes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	n2 := f.node(2, "n2", "test")
	a := f.app(f.twoDefs())

	f.vote(a, n1, 0, -1, 1)
	// A second vote of n1 in round 0 is ignored: no event, the first answer stands.
	if ev := f.vote(a, n1, 0, 0, 1); len(ev) != 0 {
		t.Errorf("duplicate vote emitted %v", kinds(ev))
	}
	if n := count(t, f.db, "vote"); n != 1 {
		t.Errorf("votes = %d, want 1", n)
	}
	f.vote(a, n2, 0, -1, 2)
	if w := f.work(a); w.Status != model.StatusNew || !w.RoundClosed {
		t.Fatalf("work = %+v, want round 0 closed without a winner", w)
	}

	// Round 1 decided for n2; later votes change nothing.
	f.vote(a, n2, 1, 0, 2)
	f.vote(a, n1, 1, 1, 1)
	if w := f.work(a); w.Status != model.StatusElected || w.NodeUID != n2 {
		t.Fatalf("work = %+v", w)
	}
	states := count(t, f.db, "application_state")
	f.vote(a, n1, 0, 0, 0) // stale round
	f.vote(a, n1, 2, 0, 0) // the election is over
	if w := f.work(a); w.Status != model.StatusElected || w.NodeUID != n2 || w.Round != 1 {
		t.Errorf("late votes changed the outcome: %+v", w)
	}
	if n := count(t, f.db, "application_state"); n != states {
		t.Errorf("states = %d, want %d", n, states)
	}
}

func TestVoteUnknownApplication(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	f.refused(&command.Vote{Vote: model.Vote{UID: f.next(kVote), ApplicationUID: testUID(kApp, 404), NodeUID: n1}}, ErrNotFound)
}

func TestVoteReads(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	n1 := f.node(1, "n1", "test")
	n2 := f.node(2, "n2", "test")
	a := f.app(f.twoDefs())
	f.vote(a, n1, 0, 1, 42)
	v, err := f.db.Vote(t.Context(), a, n1, 0)
	if err != nil || v.Available != 1 || v.Rand != 42 || v.NodeUID != n1 || !v.CreatedAt.Equal(f.now) {
		t.Errorf("Vote = %+v, %v", v, err)
	}
	if _, err := f.db.Vote(t.Context(), a, n2, 0); err != ErrNotFound {
		t.Errorf("missing vote: err = %v, want ErrNotFound", err)
	}
	filter := "available = 1"
	list, err := f.db.Votes(t.Context(), &filter)
	if err != nil || len(list) != 1 {
		t.Errorf("Votes(%s) = %+v, %v", filter, list, err)
	}
}
