package test

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/aquarium-fish/aquarium-fish/internal/driver"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// TaskSnapshot is the name of the only task of the test driver.
const TaskSnapshot = "snapshot"

var _ driver.Task = (*snapshotTask)(nil)

// emptyResult is the result of a task that is not done: the node runs it again later. Each
// call returns its own copy, so no caller can alter another's result.
func emptyResult() json.RawMessage { return json.RawMessage(`{}`) }

// snapshotTask pretends to snapshot a resource.
type snapshotTask struct {
	d *Driver
	// Full asks for a full snapshot; the simulation ignores it.
	Full bool `json:"full"`
}

// snapshotResult is the result of a successful snapshot. Its fields are in ascending order of
// their JSON names, so the encoding is exactly {"snapshots":[...],"when":"..."}.
type snapshotResult struct {
	Snapshots []string     `json:"snapshots"`
	When      model.Status `json:"when"`
}

// Task returns the snapshot task configured with options, or false for any other name or for
// options that do not decode (drivers.md §1: treated as an unknown task).
func (d *Driver) Task(name string, options json.RawMessage) (driver.Task, bool) {
	if name != TaskSnapshot {
		return nil, false
	}
	t := &snapshotTask{d: d}
	if options = bytes.TrimSpace(options); len(options) > 0 {
		if err := json.Unmarshal(options, t); err != nil {
			return nil, false
		}
	}
	return t, true
}

// Run runs fail_snapshot (a failure returns {} and no error, so the node retries), then
// requires the marker file (missing: {} and an error) and reports the simulated snapshot.
func (t *snapshotTask) Run(ctx context.Context, task model.ApplicationTask, res model.Resource) (json.RawMessage, error) {
	if err := t.d.knobs.check(knobSnapshot, t.d.cfg.FailSnapshot, "Snapshot "+res.Identifier); err != nil {
		t.d.log.Debug("snapshot not done", "identifier", res.Identifier, "err", err)
		return emptyResult(), nil
	}
	if err := ctx.Err(); err != nil {
		return emptyResult(), err
	}
	ok, err := t.d.exists(res.Identifier)
	if err != nil {
		return emptyResult(), err
	}
	if !ok {
		return emptyResult(), &unavailableError{"snapshot", res.Identifier}
	}
	out, err := json.Marshal(snapshotResult{Snapshots: []string{"test-snapshot"}, When: task.When})
	if err != nil {
		return emptyResult(), err
	}
	return out, nil
}
