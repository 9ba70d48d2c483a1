package state

import (
	"errors"
	"reflect"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// items encodes commands as the log carries them, all at the fixture's time.
func (f *fixture) items(cs ...command.Command) []Item {
	f.t.Helper()
	out := make([]Item, len(cs))
	for i, c := range cs {
		it, err := logItem(c, f.now)
		if err != nil {
			f.t.Fatalf("encode %T: %v", c, err)
		}
		out[i] = it
	}
	return out
}

func TestApplyBatchRefusalInTheMiddle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.node(1, "n1", "test")
	results, ev, err := f.db.ApplyBatch(f.items(
		userCreate("a", []byte("h")),
		userCreate("a", []byte("h")), // refused
		// Refused after a first write (the node's new location): the savepoint undoes it.
		&command.NodeRegister{Node: model.Node{UID: testUID(kNode, 1), Name: "other", LocationName: "new-place"}},
		userCreate("b", []byte("h")),
	))
	if err != nil {
		t.Fatalf("ApplyBatch: %v", err)
	}
	if len(results) != 4 {
		t.Fatalf("results = %d, want 4", len(results))
	}
	wantErr := []error{nil, ErrExists, ErrExists, nil}
	for i, r := range results {
		if (wantErr[i] == nil) != (r.Err == nil) || (wantErr[i] != nil && !errors.Is(r.Err, wantErr[i])) {
			t.Errorf("result %d: err = %v, want %v", i, r.Err, wantErr[i])
		}
	}
	if want := []Event{{Kind: EventUser, User: "a"}, {Kind: EventUser, User: "b"}}; !reflect.DeepEqual(ev, want) {
		t.Errorf("events = %+v, want %+v", ev, want)
	}
	if n := count(t, f.db, "user"); n != 2 {
		t.Errorf("users = %d, want 2", n)
	}
	if n := count(t, f.db, "location"); n != 0 {
		t.Errorf("locations = %d: the refused registration's location was kept", n)
	}
}

func TestApplyBatchFaultWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	items := f.items(userCreate("a", []byte("h")), userCreate("b", []byte("h")))
	items = append(items, Item{Env: command.Envelope{Type: 999, Time: f.now}, Command: &command.UserDelete{}})
	before := dump(t, f.db)
	if _, _, err := f.db.ApplyBatch(items); err == nil {
		t.Fatal("a batch with an unknown command type must be a fault")
	}
	if dump(t, f.db) != before {
		t.Error("a failed batch left writes behind")
	}
	// The database still works afterwards.
	f.ok(userCreate("c", []byte("h")))
}

// TestApplyBatchSameAsOneByOne: how raft groups entries into batches never changes the state.
func TestApplyBatchSameAsOneByOne(t *testing.T) {
	t.Parallel()
	ref := newFixture(t)
	script(ref)
	want := dump(t, ref.db)
	for _, size := range []int{3, len(ref.rec)} {
		other := newFixture(t)
		var events []Event
		for i := 0; i < len(ref.rec); i += size {
			_, ev, err := other.db.ApplyBatch(ref.rec[i:min(i+size, len(ref.rec))])
			if err != nil {
				t.Fatalf("batch size %d: %v", size, err)
			}
			events = append(events, ev...)
		}
		if got := dump(t, other.db); got != want {
			t.Errorf("batches of %d: database differs from one by one:\n%s\n---\n%s", size, got, want)
		}
		if !reflect.DeepEqual(events, ref.log) {
			t.Errorf("batches of %d: events differ from one by one", size)
		}
	}
}
