package state

import (
	"context"
	"slices"
	"testing"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// usageFromSQL is what NodeDefinitions must answer, read from the tables.
func usageFromSQL(t *testing.T, db *DB, node model.UID) []string {
	t.Helper()
	rows, err := db.query(context.Background(), `SELECT a.definition FROM application a
		WHERE a.node_uid = ? AND a.status IN `+liveStatuses+`
		UNION ALL
		SELECT a.definition FROM resource r JOIN application a ON a.uid = r.application_uid
		WHERE r.node_uid = ? AND a.status NOT IN `+liveStatuses, node.String(), node.String())
	if err != nil {
		t.Fatal(err)
	}
	defs, err := collect(rows, func(s scanner) (string, error) {
		var d string
		return d, s.Scan(&d)
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(defs)
	return defs
}

// TestNodeDefinitionsFollowTheState: the in-memory usage index answers what the tables say after
// every kind of transition, whether it was loaded before them or after.
func TestNodeDefinitionsFollowTheState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	n1 := f.node(1, "n1", "test")
	n2 := f.node(2, "n2", "test")
	label := f.label("l", 1, "test")

	check := func(step string) {
		t.Helper()
		for _, n := range []model.UID{n1, n2} {
			want := usageFromSQL(t, f.db, n)
			got, err := f.db.NodeDefinitions(ctx, n)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: node %s: index %q, tables %q", step, n, got, want)
			}
			// A fresh load agrees too.
			f.db.usage.mu.Lock()
			f.db.usage.loaded = false
			f.db.usage.mu.Unlock()
			if again, _ := f.db.NodeDefinitions(ctx, n); len(again) != len(want) {
				t.Errorf("%s: node %s: reloaded index has %d definitions, want %d", step, n, len(again), len(want))
			}
		}
	}
	check("empty")
	elect := func(app, winner model.UID) {
		t.Helper()
		for _, n := range []model.UID{n1, n2} {
			if n == winner {
				f.vote(app, n, 0, 0, 1)
			} else {
				f.vote(app, n, 0, -1, 2)
			}
		}
		if w := f.work(app); w.Status != model.StatusElected || w.NodeUID != winner {
			t.Fatalf("work = %+v, want ELECTED on %s", w, winner)
		}
	}

	a := f.app(label)
	check("created")
	elect(a, n1)
	check("elected")
	f.ok(f.resourceCreate(a, n1))
	check("allocated")

	b := f.app(label)
	elect(b, n2)
	f.ok(f.resourceCreate(b, n2))
	check("second allocated")
	f.ok(dealloc(b, f.next(kState)))
	check("deallocate requested")
	f.ok(&command.ResourceDelete{ApplicationUID: b, State: model.ApplicationState{UID: f.next(kState), CreatedAt: f.now,
		Status: model.StatusDeallocated, Description: "Driver deallocated the resource"}})
	check("deallocated")

	// A final status that keeps its resource still uses the node until the resource goes.
	f.ok(&command.ApplicationState{State: model.ApplicationState{UID: f.next(kState), ApplicationUID: a, CreatedAt: f.now,
		Status: model.StatusError, Description: "broken"}})
	if got, _ := f.db.NodeDefinitions(ctx, n1); len(got) != 1 {
		t.Errorf("ERROR with its resource: n1 uses %d definitions, want 1", len(got))
	}
	check("error with resource")
	f.ok(&command.ResourceDelete{ApplicationUID: a, State: model.ApplicationState{UID: f.next(kState), Status: model.StatusError}})
	check("error resource removed")

	// Elected, then re-elected elsewhere: the first node stops counting it.
	c := f.app(label)
	elect(c, n1)
	check("third elected")
	f.ok(&command.Reelect{ApplicationUID: c, State: model.ApplicationState{UID: f.next(kState), CreatedAt: f.now}})
	check("reelected")
	if got, _ := f.db.NodeDefinitions(ctx, n1); len(got) != 0 {
		t.Errorf("after reelect n1 uses %q, want nothing", got)
	}
}
