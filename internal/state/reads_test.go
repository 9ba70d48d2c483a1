package state

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func TestMigrationsIdempotent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	for i := range 2 {
		db, err := Open(path)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		var v int
		if err := db.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
			t.Fatalf("user_version: %v", err)
		}
		if v != len(migrations) {
			t.Errorf("open #%d: user_version = %d, want %d", i+1, v, len(migrations))
		}
		if i == 0 {
			// Data written before the second open survives it.
			if _, _, err := applyAt(db, userCreate("kept", []byte("h")), t0); err != nil {
				t.Fatalf("apply: %v", err)
			}
		} else if _, err := db.User(context.Background(), "kept"); err != nil {
			t.Errorf("user lost by the second open: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
}

func TestMigrationsNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err := Open(path); err == nil {
		db.Close()
		t.Fatal("a database from a newer program was opened")
	}
}

func TestLabelsFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.label("x", 1, "test")
	f.label("y", 1, "test")
	f.label("x", 2, "test", "docker")
	tests := []struct {
		filter   string
		versions []int64 // of the labels named x, or the count when nil
		n        int
	}{
		{"name='x'", []int64{1, 2}, 2},
		{`name="x"`, []int64{1, 2}, 2},
		{"name='x' AND version > 1", []int64{2}, 1},
		{"name='x'; DROP TABLE label", []int64{1, 2}, 2}, // text after ';' is ignored
		{"name='nope'", nil, 0},
		{"definitions LIKE '%docker%'", []int64{2}, 1},
		{"json_extract(definitions, '$[0].driver') = 'test'", nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := f.db.Labels(ctx, &tt.filter)
			if err != nil {
				t.Fatalf("Labels: %v", err)
			}
			if len(got) != tt.n {
				t.Fatalf("Labels = %d, want %d", len(got), tt.n)
			}
			for i, v := range tt.versions {
				if got[i].Name != "x" || got[i].Version != v {
					t.Errorf("label %d = %s v%d, want x v%d", i, got[i].Name, got[i].Version, v)
				}
			}
		})
	}
	if n := count(t, f.db, "label"); n != 3 {
		t.Errorf("labels = %d", n)
	}
}

func TestRejectedFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.label("x", 1, "test")
	f.ok(userCreate("alice", []byte("h")))
	for _, filter := range []string{"nope = 1", "name =", "name = 'x' OR", "(name", "sqlite_version() = 1", "seq > 0"} {
		if got, err := f.db.Labels(ctx, &filter); !errors.Is(err, ErrFilter) || got != nil {
			t.Errorf("Labels(%q) = %v, %v; want ErrFilter", filter, got, err)
		}
	}
	filter := "hash_bytes = 1"
	if _, err := f.db.Users(ctx, &filter); !errors.Is(err, ErrFilter) {
		t.Errorf("Users(%q): err = %v, want ErrFilter", filter, err)
	}
}

func TestUserFilterHidesHash(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.ok(userCreate("alice", []byte("s3cret-hash")))
	tests := []struct {
		filter string
		n      int
	}{
		{"hash = 's3cret-hash'", 0},
		{"hash LIKE '%s3cret%'", 0},
		{"hash != ''", 0},
		{"length(hash) > 0", 0},
		{"salt != ''", 0},
		{"instr(hash, 's3') > 0", 0},
		{"hash = '' AND salt = ''", 1},
		{"algo = 'Argon2id'", 1},
		{"name = 'alice'", 1},
	}
	for _, tt := range tests {
		got, err := f.db.Users(ctx, &tt.filter)
		if err != nil {
			t.Errorf("Users(%q): %v", tt.filter, err)
			continue
		}
		if len(got) != tt.n {
			t.Errorf("Users(%q) = %d users, want %d", tt.filter, len(got), tt.n)
		}
	}
}

func TestOtherFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	node := f.node(1, "n1", "test")
	a := f.allocated(f.label("l", 1, "test"), node)
	f.app(f.label("m", 1, "test"))
	check := func(name string, n int, err error, want int) {
		t.Helper()
		if err != nil || n != want {
			t.Errorf("%s = %d, %v; want %d", name, n, err, want)
		}
	}
	fa := "uid = '" + a.String() + "'"
	apps, err := f.db.Applications(ctx, &fa, "")
	check("Applications(uid)", len(apps), err, 1)
	fo := "owner_name = 'alice'"
	apps, err = f.db.Applications(ctx, &fo, "bob")
	check("bob's Applications(owner alice)", len(apps), err, 0)
	fr := "identifier = 'test-abcdef'"
	res, err := f.db.Resources(ctx, &fr)
	check("Resources", len(res), err, 1)
	fn := "name = 'n1'"
	nodes, err := f.db.Nodes(ctx, &fn)
	check("Nodes", len(nodes), err, 1)
	fw := "when = 'ALLOCATED'"
	tasks, err := f.db.Tasks(ctx, a, &fw)
	check("Tasks", len(tasks), err, 0)
	if tasks == nil {
		t.Error("an empty list is nil; want []")
	}
	all, err := f.db.Resources(ctx, nil)
	check("Resources(nil)", len(all), err, 1)
	if _, err := f.db.Nodes(ctx, &fw); !errors.Is(err, ErrFilter) {
		t.Errorf("Nodes(%q): err = %v, want ErrFilter", fw, err)
	}
}

func TestWorkByStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	node := f.node(1, "n1", "test")
	label := f.label("l", 1, "test")
	a := f.allocated(label, node)
	b := f.app(label)
	c := f.app(label)
	got, err := f.db.WorkByStatus(ctx, model.StatusNew)
	if err != nil || len(got) != 2 || got[0].UID != b || got[1].UID != c {
		t.Errorf("WorkByStatus(NEW) = %+v, %v; want b, c oldest first", got, err)
	}
	got, err = f.db.WorkByStatus(ctx, model.StatusNew, model.StatusAllocated)
	if err != nil || len(got) != 3 || got[0].UID != a {
		t.Errorf("WorkByStatus(NEW, ALLOCATED) = %+v, %v", got, err)
	}
}

// script is a run of commands touching every table, driven only by the fixture's clock and
// UIDs.
func script(f *fixture) {
	f.t.Helper()
	n1 := f.node(1, "n1", "test")
	n2 := f.node(2, "n2", "test", "docker")
	f.ok(userCreate("alice", []byte("h1")))
	f.ok(&command.LocationCreate{Location: model.Location{Name: "eu", CreatedAt: f.now}})
	label := f.label("l", 1, "test", "docker")
	for i := range 5 {
		f.tick(time.Second)
		f.heartbeat(n1, "test")
		f.heartbeat(n2, "test", "docker")
		a := f.app(label)
		f.vote(a, n1, 0, i%2, uint32(i))
		f.vote(a, n2, 0, 1-i%2, uint32(10-i))
		w := f.work(a)
		f.ok(f.resourceCreate(a, w.NodeUID))
		f.ok(&command.TaskCreate{Task: model.ApplicationTask{UID: f.next(kTask), ApplicationUID: a, CreatedAt: f.now, UpdatedAt: f.now,
			Task: "snapshot", When: model.StatusDeallocate}})
		f.ok(dealloc(a, f.next(kState)))
		f.ok(&command.ResourceDelete{ApplicationUID: a, State: model.ApplicationState{UID: f.next(kState), CreatedAt: f.now, Status: model.StatusDeallocated}})
	}
	f.apply(userCreate("alice", []byte("dup"))) // refused: part of the history too
	f.vote(f.app(label), n1, 0, -1, 0)
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	f1, f2 := newFixture(t), newFixture(t)
	script(f1)
	script(f2)
	d1, d2 := dump(t, f1.db), dump(t, f2.db)
	if d1 != d2 {
		t.Errorf("the same commands gave different databases:\n%s\n---\n%s", d1, d2)
	}
	if len(d1) < 1000 {
		t.Errorf("dump too small to mean anything:\n%s", d1)
	}
	if !reflect.DeepEqual(f1.log, f2.log) {
		t.Errorf("the same commands gave different events")
	}
}

// TestMigrateFromVersion1 opens a database written by the first schema: the application rows
// get the columns added later.
func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[0],
		`INSERT INTO application (uid, created_at, owner_name, label_uid, metadata, status, status_at)
			VALUES ('` + testUID(kApp, 1).String() + `', '2025-01-01 00:00:00.000000000+00:00', 'alice', '', '{}', 'NEW', '2025-01-01 00:00:00.000000000+00:00')`,
		`PRAGMA user_version = 1`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	db, err := Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	var v int
	if err := db.r.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != len(migrations) {
		t.Errorf("user_version = %d, %v; want %d", v, err, len(migrations))
	}
	w, err := db.WorkOf(context.Background(), testUID(kApp, 1))
	if err != nil || w.Status != model.StatusNew || !w.RoundAt.IsZero() {
		t.Errorf("WorkOf = %+v, %v", w, err)
	}
}
