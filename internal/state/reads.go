package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/aquarium-fish/aquarium-fish/internal/filter"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// ErrFilter is returned (wrapped with the reason) for a filter that does not parse or names an
// unknown column. The API answers such a list with [] and logs a warning.
var ErrFilter = errors.New("rejected filter")

// Filter columns of each object (api-v1.md §6.4). The password hash columns filter as empty
// text, as they are shown: hash material never leaves the node, not even through a filter.
var (
	userFilter     = filter.Columns{"name": "name", "created_at": "created_at", "updated_at": "updated_at", "algo": "algo", "salt": "''", "hash": "''"}
	labelFilter    = filter.Columns{"uid": "uid", "created_at": "created_at", "name": "name", "version": "version", "definitions": "definitions", "metadata": "metadata"}
	appFilter      = filter.Columns{"uid": "uid", "created_at": "created_at", "owner_name": "owner_name", "label_uid": "label_uid", "metadata": "metadata"}
	taskFilter     = filter.Columns{"uid": "uid", "application_uid": "application_uid", "created_at": "created_at", "updated_at": "updated_at", "task": "task", "when": `"when"`, "options": "options", "result": "result"}
	resourceFilter = filter.Columns{"uid": "uid", "created_at": "created_at", "updated_at": "updated_at", "application_uid": "application_uid", "node_uid": "node_uid", "label_uid": "label_uid", "definition_index": "definition_index", "identifier": "identifier", "ip_addr": "ip_addr", "hw_addr": "hw_addr", "metadata": "metadata"}
	nodeFilter     = filter.Columns{"uid": "uid", "created_at": "created_at", "updated_at": "updated_at", "name": "name", "definition": "definition", "location_name": "location_name", "address": "address", "pubkey": "pubkey"}
	locationFilter = filter.Columns{"name": "name", "created_at": "created_at", "description": "description"}
	mappingFilter  = filter.Columns{"uid": "uid", "created_at": "created_at", "service": "service", "redirect": "redirect", "location_name": "location_name", "application_uid": "application_uid"}
	voteFilter     = filter.Columns{"uid": "uid", "created_at": "created_at", "application_uid": "application_uid", "node_uid": "node_uid", "round": "round", "available": "available", "rand": "rand"}
)

// list runs "SELECT cols FROM table WHERE <where> AND <filter> ORDER BY seq".
func list[T any](ctx context.Context, db *DB, table, cols string, scan func(scanner) (T, error),
	f *string, fcols filter.Columns, where string, args ...any) ([]T, error) {
	q := `SELECT ` + cols + ` FROM ` + table + ` WHERE ` + where
	if f != nil {
		cond, fargs, err := filter.Where(*f, fcols)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFilter, err)
		}
		q += ` AND (` + cond + `)`
		args = append(args, fargs...)
	}
	q += ` ORDER BY seq`
	var rows *sql.Rows
	var err error
	if f != nil {
		rows, err = db.r.QueryContext(ctx, q, args...) // user filters vary: not cached
	} else {
		rows, err = db.query(ctx, q, args...)
	}
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// one reads a single object; a missing row is ErrNotFound.
func one[T any](ctx context.Context, db *DB, table, cols string, scan func(scanner) (T, error), where string, args ...any) (T, error) {
	v, err := scan(db.queryRow(ctx, `SELECT `+cols+` FROM `+table+` WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	return v, err
}

// Users lists users; f is the optional filter.
func (db *DB) Users(ctx context.Context, f *string) ([]model.User, error) {
	return list(ctx, db, "user", userCols, scanUser, f, userFilter, "1")
}

// User reads one user.
func (db *DB) User(ctx context.Context, name string) (model.User, error) {
	return one(ctx, db, "user", userCols, scanUser, "name = ?", name)
}

// UserCredentials returns a user's stored hash and a stamp that changes whenever the user does.
func (db *DB) UserCredentials(ctx context.Context, name string) (hash []byte, stamp string, err error) {
	err = db.queryRow(ctx, `SELECT hash, seq || '/' || updated_at FROM user WHERE name = ?`, name).Scan(&hash, &stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", ErrNotFound
	}
	return hash, stamp, err
}

// Labels lists labels.
func (db *DB) Labels(ctx context.Context, f *string) ([]model.Label, error) {
	return list(ctx, db, "label", labelCols, scanLabel, f, labelFilter, "1")
}

// Label reads one label.
func (db *DB) Label(ctx context.Context, uid model.UID) (model.Label, error) {
	return one(ctx, db, "label", labelCols, scanLabel, "uid = ?", uid.String())
}

// Applications lists applications, only those of owner when owner is not empty.
func (db *DB) Applications(ctx context.Context, f *string, owner string) ([]model.Application, error) {
	if owner == "" {
		return list(ctx, db, "application", appCols, scanApp, f, appFilter, "1")
	}
	return list(ctx, db, "application", appCols, scanApp, f, appFilter, "owner_name = ?", owner)
}

// Application reads one application.
func (db *DB) Application(ctx context.Context, uid model.UID) (model.Application, error) {
	return one(ctx, db, "application", appCols, scanApp, "uid = ?", uid.String())
}

// OwnedState reads an application's current state and the application's owner in one query
// (clients poll the state; owner checks need the owner).
func (db *DB) OwnedState(ctx context.Context, app model.UID) (model.ApplicationState, string, error) {
	var st model.ApplicationState
	var owner string
	err := db.queryRow(ctx, `SELECT s.uid, s.application_uid, s.created_at, s.status, s.description, a.owner_name
		FROM application a JOIN application_state s ON s.application_uid = a.uid
		WHERE a.uid = ? ORDER BY s.seq DESC LIMIT 1`, app.String()).
		Scan(uidCol{&st.UID}, uidCol{&st.ApplicationUID}, timeCol{&st.CreatedAt}, &st.Status, &st.Description, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return st, "", ErrNotFound
	}
	return st, owner, err
}

// Tasks lists an application's tasks.
func (db *DB) Tasks(ctx context.Context, app model.UID, f *string) ([]model.ApplicationTask, error) {
	return list(ctx, db, "application_task", taskCols, scanTask, f, taskFilter, "application_uid = ?", app.String())
}

// Task reads one task.
func (db *DB) Task(ctx context.Context, uid model.UID) (model.ApplicationTask, error) {
	return one(ctx, db, "application_task", taskCols, scanTask, "uid = ?", uid.String())
}

// PendingTasks lists the tasks of app waiting for status when (result still {}), newest first.
func (db *DB) PendingTasks(ctx context.Context, app model.UID, when model.Status) ([]model.ApplicationTask, error) {
	rows, err := db.query(ctx, `SELECT `+taskCols+` FROM application_task WHERE application_uid = ? AND "when" = ? AND result = '{}' ORDER BY seq DESC`,
		app.String(), string(when))
	if err != nil {
		return nil, err
	}
	return collect(rows, scanTask)
}

// Resources lists resources.
func (db *DB) Resources(ctx context.Context, f *string) ([]model.Resource, error) {
	return list(ctx, db, "resource", resourceCols, scanResource, f, resourceFilter, "1")
}

// Resource reads one resource.
func (db *DB) Resource(ctx context.Context, uid model.UID) (model.Resource, error) {
	return one(ctx, db, "resource", resourceCols, scanResource, "uid = ?", uid.String())
}

// ApplicationResource reads the resource of an application.
func (db *DB) ApplicationResource(ctx context.Context, app model.UID) (model.Resource, error) {
	return one(ctx, db, "resource", resourceCols, scanResource, "application_uid = ?", app.String())
}

// NodeResources lists the resources a node holds.
func (db *DB) NodeResources(ctx context.Context, node model.UID) ([]model.Resource, error) {
	return list(ctx, db, "resource", resourceCols, scanResource, nil, nil, "node_uid = ?", node.String())
}

// liveResource finds a resource of node whose application is ALLOCATED.
func (db *DB) liveResource(ctx context.Context, node model.UID, col, val string) (model.Resource, error) {
	return one(ctx, db, "resource", resourceCols, scanResource,
		col+` = ? AND node_uid = ? AND application_uid IN (SELECT uid FROM application WHERE status = 'ALLOCATED')`,
		val, node.String())
}

// LiveResourceByIP finds node's allocated resource with that IP address.
func (db *DB) LiveResourceByIP(ctx context.Context, node model.UID, ip string) (model.Resource, error) {
	return db.liveResource(ctx, node, "ip_addr", ip)
}

// LiveResourceByHwAddr finds node's allocated resource with that MAC address.
func (db *DB) LiveResourceByHwAddr(ctx context.Context, node model.UID, mac string) (model.Resource, error) {
	return db.liveResource(ctx, node, "hw_addr", mac)
}

// LiveResourceByIdentifier finds node's allocated resource with that driver identifier.
func (db *DB) LiveResourceByIdentifier(ctx context.Context, node model.UID, id string) (model.Resource, error) {
	return db.liveResource(ctx, node, "identifier", id)
}

// Votes lists votes.
func (db *DB) Votes(ctx context.Context, f *string) ([]model.Vote, error) {
	return list(ctx, db, "vote", voteCols, scanVote, f, voteFilter, "1")
}

// Vote reads node's vote in a round of an application.
func (db *DB) Vote(ctx context.Context, app, node model.UID, round uint16) (model.Vote, error) {
	return one(ctx, db, "vote", voteCols, scanVote, "application_uid = ? AND node_uid = ? AND round = ?",
		app.String(), node.String(), round)
}

// Nodes lists nodes.
func (db *DB) Nodes(ctx context.Context, f *string) ([]model.Node, error) {
	return list(ctx, db, "node", nodeCols, scanNode, f, nodeFilter, "1")
}

// Node reads one node.
func (db *DB) Node(ctx context.Context, uid model.UID) (model.Node, error) {
	return one(ctx, db, "node", nodeCols, scanNode, "uid = ?", uid.String())
}

// Locations lists locations.
func (db *DB) Locations(ctx context.Context, f *string) ([]model.Location, error) {
	return list(ctx, db, "location", locationCols, scanLocation, f, locationFilter, "1")
}

// ServiceMappings lists service mappings.
func (db *DB) ServiceMappings(ctx context.Context, f *string) ([]model.ServiceMapping, error) {
	return list(ctx, db, "service_mapping", mappingCols, scanMapping, f, mappingFilter, "1")
}

// ServiceMapping reads one service mapping.
func (db *DB) ServiceMapping(ctx context.Context, uid model.UID) (model.ServiceMapping, error) {
	return one(ctx, db, "service_mapping", mappingCols, scanMapping, "uid = ?", uid.String())
}

// MappingsForService lists the mappings whose service is exactly service.
func (db *DB) MappingsForService(ctx context.Context, service string) ([]model.ServiceMapping, error) {
	return list(ctx, db, "service_mapping", mappingCols, scanMapping, nil, nil, "service = ?", service)
}
