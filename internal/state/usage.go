package state

import (
	"context"
	"fmt"
	"sync"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// usageIndex keeps in memory, for every node, the chosen definitions of the applications that use
// its capacity: assigned and not final, or still holding a resource there. The scheduler reads it
// on every pass; reading it from SQL cost a row per live resource each time.
//
// It is loaded from the database on first use and then kept up to date by ApplyBatch, which
// works out the new membership of every application a batch touched inside its transaction and
// installs it under mu together with the COMMIT. So a reader never sees the database newer than
// the index: a reader that saw a batch's effect in SQL and then reads the index waits for mu and
// sees that batch too.
type usageIndex struct {
	mu     sync.RWMutex
	loaded bool
	nodes  map[model.UID]map[model.UID]string // node → application → definition JSON
	apps   map[model.UID]model.UID            // application → the node it counts on
}

// usageEntry is the membership of one application: the node it uses ("" = none) and the
// definition it uses there.
type usageEntry struct {
	node model.UID
	def  string
}

// liveStatuses are the statuses in which an assigned application uses its node's capacity.
const liveStatuses = `('ELECTED','ALLOCATED','DEALLOCATE')`

// NodeDefinitions lists the chosen definitions (JSON) of the applications that use node's
// capacity: assigned and not final, or still holding a resource there.
func (db *DB) NodeDefinitions(ctx context.Context, node model.UID) ([]string, error) {
	u := &db.usage
	u.mu.RLock()
	if !u.loaded {
		u.mu.RUnlock()
		if err := db.loadUsage(ctx); err != nil {
			return nil, err
		}
		u.mu.RLock()
	}
	defer u.mu.RUnlock()
	defs := make([]string, 0, len(u.nodes[node]))
	for _, d := range u.nodes[node] {
		defs = append(defs, d)
	}
	return defs, nil
}

// loadUsage reads the whole index. It holds mu, so no batch commits meanwhile.
func (db *DB) loadUsage(ctx context.Context) error {
	u := &db.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.loaded {
		return nil
	}
	rows, err := db.query(ctx, `SELECT a.uid, a.node_uid, a.definition FROM application a
		WHERE a.status IN `+liveStatuses+`
		UNION ALL
		SELECT a.uid, r.node_uid, a.definition FROM resource r JOIN application a ON a.uid = r.application_uid
		WHERE a.status NOT IN `+liveStatuses)
	if err != nil {
		return fmt.Errorf("load node usage: %w", err)
	}
	defer rows.Close()
	u.nodes = map[model.UID]map[model.UID]string{}
	u.apps = map[model.UID]model.UID{}
	for rows.Next() {
		var app, node model.UID
		var def string
		if err := rows.Scan(uidCol{&app}, uidCol{&node}, &def); err != nil {
			return fmt.Errorf("load node usage: %w", err)
		}
		u.set(app, usageEntry{node: node, def: def})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load node usage: %w", err)
	}
	u.loaded = true
	return nil
}

// set records the membership of app (node NilUID = it uses no capacity). Callers hold mu.
func (u *usageIndex) set(app model.UID, e usageEntry) {
	if old, ok := u.apps[app]; ok {
		delete(u.nodes[old], app)
		if len(u.nodes[old]) == 0 {
			delete(u.nodes, old)
		}
		delete(u.apps, app)
	}
	if e.node == model.NilUID {
		return
	}
	if u.nodes[e.node] == nil {
		u.nodes[e.node] = map[model.UID]string{}
	}
	u.nodes[e.node][app] = e.def
	u.apps[app] = e.node
}

// stage works out, inside the apply transaction a, the new membership of the applications that
// events touched. It returns nil while the index is not loaded (the load will read it all). An
// application just created (NEW and not in the index) cannot use capacity: it is not read.
func (u *usageIndex) stage(a *applyCtx, events []Event) (map[model.UID]usageEntry, error) {
	var touched []model.UID
	u.mu.RLock()
	loaded := u.loaded
	for _, ev := range events {
		if !loaded || ev.App == model.NilUID || ev.Kind != EventApplication && ev.Kind != EventResource {
			continue
		}
		if _, counted := u.apps[ev.App]; !counted && ev.Kind == EventApplication && ev.Status == model.StatusNew {
			continue
		}
		touched = append(touched, ev.App)
	}
	u.mu.RUnlock()
	if !loaded {
		return nil, nil
	}
	out := make(map[model.UID]usageEntry, len(touched))
	for _, app := range touched {
		if _, done := out[app]; done {
			continue
		}
		var e usageEntry
		err := a.queryRow(`SELECT CASE WHEN a.status IN `+liveStatuses+` THEN a.node_uid ELSE COALESCE(r.node_uid, '') END, a.definition
			FROM application a LEFT JOIN resource r ON r.application_uid = a.uid WHERE a.uid = ?`, app.String()).
			Scan(uidCol{&e.node}, &e.def)
		if err != nil {
			return nil, fmt.Errorf("node usage of %s: %w", app, err)
		}
		out[app] = e
	}
	return out, nil
}

// install applies what stage worked out; the caller holds mu and has just committed. When stage
// ran before a concurrent load, the load missed this batch: the index is read again next time.
func (u *usageIndex) install(staged map[model.UID]usageEntry) {
	if staged == nil {
		u.loaded = false
		return
	}
	for app, e := range staged {
		u.set(app, e)
	}
}
