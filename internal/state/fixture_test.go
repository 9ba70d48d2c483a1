package state

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// t0 is the log time the fixtures start at; the FSM never reads a clock, so tests choose it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testUID makes a readable, deterministic UID: kind in the first byte, n in the last ones.
func testUID(kind byte, n uint32) model.UID {
	var u model.UID
	u[0] = kind
	binary.BigEndian.PutUint32(u[12:], n)
	return u
}

// UID kinds of testUID.
const (
	kLabel byte = 0x1a
	kApp   byte = 0x2a
	kState byte = 0x3a
	kNode  byte = 0x4a
	kVote  byte = 0x5a
	kRes   byte = 0x6a
	kTask  byte = 0x7a
)

// fixture is a fresh state database and a log clock.
type fixture struct {
	t   *testing.T
	db  *DB
	now time.Time
	seq uint32  // numbers the UIDs of states and votes
	log []Event // every event emitted, in order
	rec []Item  // every command applied, in order, as the log carries it
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return &fixture{t: t, db: db, now: t0}
}

// next returns a fresh UID of kind.
func (f *fixture) next(kind byte) model.UID {
	f.seq++
	return testUID(kind, f.seq)
}

// tick advances the log clock.
func (f *fixture) tick(d time.Duration) { f.now = f.now.Add(d) }

// apply runs c through the log format (encode, decode) as the FSM does, at the fixture's time.
func (f *fixture) apply(c command.Command) (Result, []Event) {
	f.t.Helper()
	it, err := logItem(c, f.now)
	if err != nil {
		f.t.Fatalf("encode %T: %v", c, err)
	}
	f.rec = append(f.rec, it)
	res, ev, err := f.db.Apply(it.Env, it.Command)
	if err != nil {
		f.t.Fatalf("apply %T: fault: %v", c, err)
	}
	f.log = append(f.log, ev...)
	return res, ev
}

// logItem encodes c stamped with now and decodes it, as the FSM receives it.
func logItem(c command.Command, now time.Time) (Item, error) {
	b, err := command.Encode(c, now)
	if err != nil {
		return Item{}, err
	}
	env, dc, err := command.Decode(b)
	return Item{Env: env, Command: dc}, err
}

// applyAt applies c to db at log time now, through the log format.
func applyAt(db *DB, c command.Command, now time.Time) (Result, []Event, error) {
	it, err := logItem(c, now)
	if err != nil {
		return Result{}, nil, err
	}
	return db.Apply(it.Env, it.Command)
}

// ok applies c and fails the test when it is refused.
func (f *fixture) ok(c command.Command) (any, []Event) {
	f.t.Helper()
	res, ev := f.apply(c)
	if res.Err != nil {
		f.t.Fatalf("apply %T: refused: %v", c, res.Err)
	}
	return res.Value, ev
}

// refused applies c, expects it refused with sentinel, and checks that no row changed.
func (f *fixture) refused(c command.Command, sentinel error) {
	f.t.Helper()
	before := dump(f.t, f.db)
	res, ev := f.apply(c)
	if !errors.Is(res.Err, sentinel) {
		f.t.Fatalf("apply %T: err = %v, want %v", c, res.Err, sentinel)
	}
	if len(ev) != 0 {
		f.t.Errorf("apply %T: refused command emitted %d events", c, len(ev))
	}
	if after := dump(f.t, f.db); after != before {
		f.t.Errorf("apply %T: refused command changed the database:\nbefore:\n%s\nafter:\n%s", c, before, after)
	}
}

// node registers a live node with drivers.
func (f *fixture) node(n uint32, name string, drivers ...string) model.UID {
	f.t.Helper()
	uid := testUID(kNode, n)
	f.ok(&command.NodeRegister{
		Node:    model.Node{UID: uid, Name: name, Address: "127.0.0.1:8001", Pubkey: []byte(name + "-key")},
		Drivers: drivers,
	})
	return uid
}

// heartbeat refreshes a node's liveness at the fixture's time.
func (f *fixture) heartbeat(node model.UID, drivers ...string) {
	f.t.Helper()
	f.ok(&command.NodeHeartbeat{UID: node, Drivers: drivers})
}

// label creates a label whose definitions use drivers, in order.
func (f *fixture) label(name string, version int64, drivers ...string) model.UID {
	f.t.Helper()
	l := model.Label{UID: f.next(kLabel), CreatedAt: f.now, Name: name, Version: version, Metadata: json.RawMessage(`{}`)}
	for _, d := range drivers {
		l.Definitions = append(l.Definitions, model.LabelDefinition{
			Driver:    d,
			Options:   json.RawMessage(`{}`),
			Resources: model.Resources{CPU: 1, RAM: 2},
		})
	}
	f.ok(&command.LabelCreate{Label: l})
	return l.UID
}

// app creates an application of label.
func (f *fixture) app(label model.UID) model.UID {
	f.t.Helper()
	uid := f.next(kApp)
	f.ok(&command.ApplicationCreate{
		Application: model.Application{UID: uid, CreatedAt: f.now, LabelUID: label, Metadata: json.RawMessage(`{"app":1}`), OwnerName: "alice"},
		State:       model.ApplicationState{UID: f.next(kState), CreatedAt: f.now, Description: "Just created by Fish test"},
	})
	return uid
}

// vote casts node's vote in round, available being a definition index or -1.
func (f *fixture) vote(app, node model.UID, round uint16, available int, rand uint32) []Event {
	f.t.Helper()
	_, ev := f.ok(&command.Vote{
		Vote: model.Vote{UID: f.next(kVote), ApplicationUID: app, NodeUID: node, Round: round,
			Available: available, Rand: rand, CreatedAt: f.now},
		StateUID: f.next(kState),
	})
	return ev
}

// work reads an application's scheduling view.
func (f *fixture) work(app model.UID) Work {
	f.t.Helper()
	w, err := f.db.WorkOf(context.Background(), app)
	if err != nil {
		f.t.Fatalf("WorkOf %s: %v", app, err)
	}
	return w
}

// current reads an application's current state.
func (f *fixture) current(app model.UID) model.ApplicationState {
	f.t.Helper()
	st, _, err := f.db.OwnedState(context.Background(), app)
	if err != nil {
		f.t.Fatalf("OwnedState %s: %v", app, err)
	}
	return st
}

// status reads an application's current status from its history.
func (f *fixture) status(app model.UID) model.Status {
	f.t.Helper()
	return f.current(app).Status
}

// count counts the rows of table.
func count(t *testing.T, db *DB, table string) int {
	t.Helper()
	var n int
	if err := db.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// dump renders every row of every table, in table and seq order: two databases with the same
// dump hold the same state.
func dump(t *testing.T, db *DB) string {
	t.Helper()
	rows, err := db.r.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("list tables: %v", err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	var b strings.Builder
	for _, table := range tables {
		fmt.Fprintf(&b, "[%s]\n", table)
		rows, err := db.r.Query(`SELECT * FROM "` + table + `" ORDER BY seq`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = fmt.Sprintf("%x", bs)
				}
				fmt.Fprintf(&b, "%s=%v ", cols[i], v)
			}
			b.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		rows.Close()
	}
	return b.String()
}

// kinds lists the kinds of events, in order.
func kinds(ev []Event) []EventKind {
	out := make([]EventKind, len(ev))
	for i, e := range ev {
		out[i] = e.Kind
	}
	return out
}
