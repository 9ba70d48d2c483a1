package testcluster

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/model"

	_ "modernc.org/sqlite" // reads the nodes' state databases
)

// History records what the clients of a test were told.
type History struct {
	mu  sync.Mutex
	ops []Op
}

// Op is one client request and its outcome.
type Op struct {
	Kind       string // "create" or "deallocate"
	Node       int    // the node it went through
	App        model.UID
	Err        error
	Start, End time.Time
}

// Record adds an operation that started at start and ended now.
func (h *History) Record(kind string, node int, app model.UID, err error, start time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, Op{Kind: kind, Node: node, App: app, Err: err, Start: start, End: time.Now()})
}

// Ops returns the recorded operations.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// Acked returns the applications whose creation was acknowledged.
func (h *History) Acked() []model.UID {
	var out []model.UID
	for _, op := range h.Ops() {
		if op.Kind == "create" && op.Err == nil {
			out = append(out, op.App)
		}
	}
	return out
}

// Failed counts the operations of kind that got an error.
func (h *History) Failed(kind string) int {
	n := 0
	for _, op := range h.Ops() {
		if op.Kind == kind && op.Err != nil {
			n++
		}
	}
	return n
}

// AppRecord is an application as the replicated state tells it.
type AppRecord struct {
	UID      model.UID
	Status   model.Status // current
	NodeUID  string       // assigned node ("" when none)
	States   []model.Status
	Resource *ResourceRecord
}

// Count counts the states of the application's history with status s.
func (a *AppRecord) Count(s model.Status) int {
	n := 0
	for _, st := range a.States {
		if st == s {
			n++
		}
	}
	return n
}

// ResourceRecord is a resource as the replicated state tells it.
type ResourceRecord struct {
	App        model.UID
	NodeUID    string
	Identifier string
}

// Snapshot is the replicated state of the applications, read from one node's database.
type Snapshot struct {
	Apps   map[model.UID]*AppRecord
	Digest string // identifies the application history: equal on converged nodes
}

// ReadSnapshot reads the applications from the state database of nd.
func ReadSnapshot(nd *Node) (*Snapshot, error) {
	db, err := sql.Open("sqlite", "file:"+nd.DBPath()+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // one consistent view
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	s := &Snapshot{Apps: map[model.UID]*AppRecord{}}
	h := sha256.New()
	rows, err := tx.QueryContext(ctx, `SELECT uid, status, node_uid FROM application ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var uid, status, nodeUID string
		if err := rows.Scan(&uid, &status, &nodeUID); err != nil {
			rows.Close()
			return nil, err
		}
		u, err := uuid.Parse(uid)
		if err != nil {
			rows.Close()
			return nil, err
		}
		s.Apps[u] = &AppRecord{UID: u, Status: model.Status(status), NodeUID: nodeUID}
		fmt.Fprintf(h, "a %s %s %s\n", uid, status, nodeUID)
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT application_uid, status FROM application_state ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var uid, status string
		if err := rows.Scan(&uid, &status); err != nil {
			rows.Close()
			return nil, err
		}
		u, _ := uuid.Parse(uid)
		if a := s.Apps[u]; a != nil {
			a.States = append(a.States, model.Status(status))
		}
		fmt.Fprintf(h, "s %s %s\n", uid, status)
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT application_uid, node_uid, identifier FROM resource ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r ResourceRecord
		var uid string
		if err := rows.Scan(&uid, &r.NodeUID, &r.Identifier); err != nil {
			return nil, err
		}
		r.App, _ = uuid.Parse(uid)
		if a := s.Apps[r.App]; a != nil {
			if a.Resource != nil {
				return nil, fmt.Errorf("application %s has two resources", r.App)
			}
			a.Resource = &r
		}
		fmt.Fprintf(h, "r %s %s %s\n", uid, r.NodeUID, r.Identifier)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.Digest = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// Converged waits until every running node holds the same application history and returns it.
func (c *Cluster) Converged(tb testing.TB, timeout time.Duration) *Snapshot {
	tb.Helper()
	var snap *Snapshot
	var why string
	err := pollEvery(snapshotPoll, timeout, func() bool {
		snap, why = nil, ""
		for _, nd := range c.Running() {
			s, err := ReadSnapshot(nd)
			if err != nil {
				why = fmt.Sprintf("%s: %v", nd.Name, err)
				return false
			}
			if snap != nil && s.Digest != snap.Digest {
				why = fmt.Sprintf("%s differs (%d applications vs %d)", nd.Name, len(s.Apps), len(snap.Apps))
				return false
			}
			snap = s
		}
		return snap != nil
	})
	if err != nil {
		tb.Fatalf("the running nodes do not converge within %v: %s", timeout, why)
	}
	return snap
}

// Markers lists the resources (marker files) the test driver holds on nd.
func Markers(nd *Node) ([]string, error) {
	entries, err := os.ReadDir(nd.Workspace)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "test-") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// snapshotPoll is how often Converged and Check read the databases again: a read of every
// node's database is not cheap, and must not slow the cluster it watches.
const snapshotPoll = 50 * time.Millisecond

// Expect says what Check requires beyond the invariants.
type Expect struct {
	// Allocated: every acknowledged application reached ALLOCATED (exactly once).
	Allocated bool
	// Settle bounds the wait for convergence and for the drivers to match the state.
	Settle time.Duration
}

// Check waits for the running nodes to converge and checks the invariants over the state and
// the drivers: no application reaches ALLOCATED twice, an application has at most one resource
// and only while it is not final, every acknowledged creation exists, and each running node's
// driver holds exactly the resources the state gives it. It returns the converged snapshot.
func (c *Cluster) Check(tb testing.TB, h *History, exp Expect) *Snapshot {
	tb.Helper()
	if exp.Settle == 0 {
		exp.Settle = 20 * time.Second
	}
	var snap *Snapshot
	var problems []string
	_ = pollEvery(snapshotPoll, exp.Settle, func() bool {
		snap = c.Converged(tb, exp.Settle)
		problems = append(c.driversMatch(snap), invariants(snap, h, exp)...)
		return len(problems) == 0
	})
	for _, p := range problems {
		tb.Error(p)
	}
	return snap
}

// invariants lists what is wrong with snap.
func invariants(snap *Snapshot, h *History, exp Expect) []string {
	var problems []string
	for _, app := range h.Acked() {
		a := snap.Apps[app]
		switch {
		case a == nil:
			problems = append(problems, fmt.Sprintf("acknowledged application %s is lost", app))
		case exp.Allocated && a.Count(model.StatusAllocated) != 1:
			problems = append(problems, fmt.Sprintf("acknowledged application %s reached ALLOCATED %d times (history %v)", app, a.Count(model.StatusAllocated), a.States))
		}
	}
	for _, a := range snap.Apps {
		if n := a.Count(model.StatusAllocated); n > 1 {
			problems = append(problems, fmt.Sprintf("application %s reached ALLOCATED %d times (history %v)", a.UID, n, a.States))
		}
		if a.Resource != nil && a.Status.Final() {
			problems = append(problems, fmt.Sprintf("application %s is %s but keeps resource %s on %s", a.UID, a.Status, a.Resource.Identifier, a.Resource.NodeUID))
		}
		if a.Resource != nil && a.Resource.NodeUID != a.NodeUID {
			problems = append(problems, fmt.Sprintf("application %s is assigned to %s but its resource is on %s", a.UID, a.NodeUID, a.Resource.NodeUID))
		}
	}
	return problems
}

// driversMatch compares each running node's markers with the resources the state gives it.
func (c *Cluster) driversMatch(snap *Snapshot) []string {
	var problems []string
	for _, nd := range c.Running() {
		var want []string
		for _, a := range snap.Apps {
			if a.Resource != nil && a.Resource.NodeUID == nd.UID() {
				want = append(want, a.Resource.Identifier)
			}
		}
		sort.Strings(want)
		got, err := Markers(nd)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !slices.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("%s: the driver holds %v, the state says %v", nd.Name, got, want))
		}
	}
	return problems
}
