package state

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Work is an application as the scheduler and the executor see it.
type Work struct {
	UID             model.UID
	CreatedAt       time.Time
	LabelUID        model.UID
	Status          model.Status
	NodeUID         model.UID
	DefinitionIndex int
	Round           uint16
	RoundClosed     bool
	HasResource     bool
	StatusAt        time.Time // when the current status was recorded
	RoundAt         time.Time // when the current election round opened
	Voted           bool      // (Waiting only) the asking node voted in the current round
	// Definition is the JSON of the label definition the election chose ("" before).
	Definition string
}

// Def decodes the chosen definition.
func (w Work) Def() (model.LabelDefinition, bool) {
	var d model.LabelDefinition
	if w.Definition == "" || json.Unmarshal([]byte(w.Definition), &d) != nil {
		return d, false
	}
	return d, true
}

const workCols = `a.uid, a.created_at, a.label_uid, a.status, a.node_uid, a.definition_index, a.round, a.round_closed,
	EXISTS (SELECT 1 FROM resource r WHERE r.application_uid = a.uid), a.status_at, a.round_at, a.definition`

func scanWork(s scanner) (Work, error) {
	var w Work
	err := s.Scan(uidCol{&w.UID}, timeCol{&w.CreatedAt}, uidCol{&w.LabelUID}, &w.Status, uidCol{&w.NodeUID},
		&w.DefinitionIndex, &w.Round, &w.RoundClosed, &w.HasResource, timeCol{&w.StatusAt}, timeCol{&w.RoundAt}, &w.Definition)
	return w, err
}

// WorkByStatus lists the applications in one of statuses, oldest first.
func (db *DB) WorkByStatus(ctx context.Context, statuses ...model.Status) ([]Work, error) {
	q := `SELECT ` + workCols + ` FROM application a WHERE a.status IN (?` + strings.Repeat(",?", len(statuses)-1) + `) ORDER BY a.seq`
	args := make([]any, len(statuses))
	for i, s := range statuses {
		args[i] = string(s)
	}
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanWork)
}

// Waiting lists the NEW applications, oldest first, telling for each whether node voted in
// its current round.
func (db *DB) Waiting(ctx context.Context, node model.UID) ([]Work, error) {
	rows, err := db.query(ctx, `SELECT `+workCols+`,
		EXISTS (SELECT 1 FROM vote v WHERE v.application_uid = a.uid AND v.node_uid = ? AND v.round = a.round)
		FROM application a WHERE a.status = 'NEW' ORDER BY a.seq`, node.String())
	if err != nil {
		return nil, err
	}
	return collect(rows, func(s scanner) (Work, error) {
		var w Work
		err := s.Scan(uidCol{&w.UID}, timeCol{&w.CreatedAt}, uidCol{&w.LabelUID}, &w.Status, uidCol{&w.NodeUID},
			&w.DefinitionIndex, &w.Round, &w.RoundClosed, &w.HasResource, timeCol{&w.StatusAt}, timeCol{&w.RoundAt}, &w.Definition, &w.Voted)
		return w, err
	})
}

// NodeWork lists the applications assigned to node that still hold or may hold a resource there:
// every non-final status, and final ones whose resource is not removed yet.
func (db *DB) NodeWork(ctx context.Context, node model.UID) ([]Work, error) {
	// Two indexed halves, so the cost follows the live work, not the history.
	rows, err := db.query(ctx, `SELECT `+workCols+` FROM application a
		WHERE a.node_uid = ? AND a.status IN `+liveStatuses+`
		UNION
		SELECT `+workCols+` FROM resource r JOIN application a ON a.uid = r.application_uid
		WHERE r.node_uid = ?
		ORDER BY 1`, node.String(), node.String())
	if err != nil {
		return nil, err
	}
	return collect(rows, scanWork)
}

// WorkOf reads one application's scheduling view.
func (db *DB) WorkOf(ctx context.Context, app model.UID) (Work, error) {
	return one(ctx, db, "application a", workCols, scanWork, "a.uid = ?", app.String())
}

// NodesLastSeen tells when each node last said it was alive, by node UID.
func (db *DB) NodesLastSeen(ctx context.Context) (map[model.UID]time.Time, error) {
	nodes, err := db.Nodes(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[model.UID]time.Time, len(nodes))
	for _, n := range nodes {
		out[n.UID] = n.UpdatedAt
	}
	return out, nil
}
