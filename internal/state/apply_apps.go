package state

import (
	"database/sql"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

var errNoRows = sql.ErrNoRows

func mustUID(s string) uuid.UUID {
	u, _ := uuid.Parse(s)
	return u
}

// appRow is an application's scheduling columns.
type appRow struct {
	UID             model.UID
	LabelUID        model.UID
	Status          model.Status
	NodeUID         model.UID
	DefinitionIndex int
	Round           uint16
	RoundClosed     bool
}

func (a *applyCtx) appRow(uid model.UID) (appRow, error) {
	var r appRow
	var label, node string
	err := a.queryRow(`SELECT label_uid, status, node_uid, definition_index, round, round_closed FROM application WHERE uid = ?`, uid.String()).
		Scan(&label, &r.Status, &node, &r.DefinitionIndex, &r.Round, &r.RoundClosed)
	if errors.Is(err, errNoRows) {
		return r, refuse(ErrNotFound, "application %s", uid)
	}
	r.UID, r.LabelUID, r.NodeUID = uid, mustUID(label), mustUID(node)
	return r, err
}

// appendState records a new current status of an application.
func (a *applyCtx) appendState(s model.ApplicationState, node model.UID) error {
	_, err := a.exec(`INSERT INTO application_state (uid, application_uid, created_at, status, description) VALUES (?, ?, ?, ?, ?)`,
		s.UID.String(), s.ApplicationUID.String(), fmtTime(s.CreatedAt), string(s.Status), s.Description)
	if err != nil {
		return err
	}
	if _, err := a.exec(`UPDATE application SET status = ?, status_at = ? WHERE uid = ?`,
		string(s.Status), fmtTime(s.CreatedAt), s.ApplicationUID.String()); err != nil {
		return err
	}
	a.emit(Event{Kind: EventApplication, App: s.ApplicationUID, Status: s.Status, Node: node})
	return nil
}

func applyApplicationCreate(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.ApplicationCreate)
	app := cmd.Application
	var n int
	if err := a.queryRow(`SELECT count(*) FROM label WHERE uid = ?`, app.LabelUID.String()).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, refuse(ErrNotFound, "label %s", app.LabelUID)
	}
	_, err := a.exec(`INSERT INTO application (uid, created_at, owner_name, label_uid, metadata, status, status_at, round_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		app.UID.String(), fmtTime(app.CreatedAt), app.OwnerName, app.LabelUID.String(), jsonText(app.Metadata),
		string(model.StatusNew), fmtTime(app.CreatedAt), fmtTime(a.now))
	if isUnique(err) {
		return nil, refuse(ErrExists, "application %s", app.UID)
	}
	if err != nil {
		return nil, err
	}
	st := cmd.State
	st.ApplicationUID, st.Status = app.UID, model.StatusNew
	if err := a.appendState(st, model.NilUID); err != nil {
		return nil, err
	}
	if cmd.Vote != nil {
		v := *cmd.Vote
		v.Vote.ApplicationUID, v.Vote.Round = app.UID, 0
		if _, err := applyVote(a, &v); err != nil {
			return nil, err
		}
	}
	return app, nil
}

func applyApplicationDealloc(a *applyCtx, c command.Command) (any, error) {
	st := c.(*command.ApplicationDealloc).State
	app, err := a.appRow(st.ApplicationUID)
	if err != nil {
		return nil, err
	}
	switch app.Status {
	case model.StatusAllocated:
		st.Status = model.StatusDeallocate
	case model.StatusNew, model.StatusElected:
		st.Status = model.StatusRecalled
	default:
		return nil, refuse(ErrStatus, "unable to deallocate the Application with status: %s", app.Status)
	}
	if err := a.appendState(st, app.NodeUID); err != nil {
		return nil, err
	}
	return st, nil
}

func applyApplicationState(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.ApplicationState)
	app, err := a.appRow(cmd.State.ApplicationUID)
	if err != nil {
		return nil, err
	}
	if len(cmd.From) > 0 && !slices.Contains(cmd.From, app.Status) {
		return nil, refuse(ErrStatus, "application %s is %s", app.UID, app.Status)
	}
	if cmd.Node != model.NilUID && cmd.Node != app.NodeUID {
		return nil, refuse(ErrStatus, "application %s is not assigned to node %s", app.UID, cmd.Node)
	}
	if err := a.appendState(cmd.State, app.NodeUID); err != nil {
		return nil, err
	}
	return cmd.State, nil
}

func applyTaskCreate(a *applyCtx, c command.Command) (any, error) {
	t := c.(*command.TaskCreate).Task
	app, err := a.appRow(t.ApplicationUID)
	if err != nil {
		return nil, err
	}
	_, err = a.exec(`INSERT INTO application_task (uid, application_uid, created_at, updated_at, task, "when", options, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.UID.String(), t.ApplicationUID.String(), fmtTime(t.CreatedAt), fmtTime(t.UpdatedAt), t.Task, string(t.When),
		jsonText(t.Options), jsonText(t.Result))
	if err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventTask, App: t.ApplicationUID, Task: t.UID, Node: app.NodeUID, Status: app.Status})
	return t, nil
}

func applyTaskResult(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.TaskResult)
	res, err := a.exec(`UPDATE application_task SET result = ?, updated_at = ? WHERE uid = ?`,
		jsonText(cmd.Result), fmtTime(cmd.UpdatedAt), cmd.UID.String())
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, refuse(ErrNotFound, "task %s", cmd.UID)
	}
	a.emit(Event{Kind: EventTask, Task: cmd.UID})
	return nil, nil
}

func applyResourceCreate(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.ResourceCreate)
	r := cmd.Resource
	app, err := a.appRow(r.ApplicationUID)
	if err != nil {
		return nil, err
	}
	var existing string
	if err := a.queryRow(`SELECT uid FROM resource WHERE application_uid = ?`, app.UID.String()).Scan(&existing); err == nil && existing == r.UID.String() {
		return r, nil // the same command again (its answer was lost): it is recorded already
	}
	if app.NodeUID != r.NodeUID {
		return nil, refuse(ErrStatus, "application %s is not assigned to node %s", app.UID, r.NodeUID)
	}
	if app.Status != model.StatusElected && app.Status != model.StatusRecalled {
		return nil, refuse(ErrStatus, "application %s is %s", app.UID, app.Status)
	}
	_, err = a.exec(`INSERT INTO resource (uid, created_at, updated_at, application_uid, node_uid, label_uid, definition_index, identifier, ip_addr, hw_addr, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.UID.String(), fmtTime(r.CreatedAt), fmtTime(r.UpdatedAt), r.ApplicationUID.String(), r.NodeUID.String(),
		r.LabelUID.String(), r.DefinitionIndex, r.Identifier, r.IPAddr, r.HwAddr, jsonText(r.Metadata))
	if isUnique(err) {
		return nil, refuse(ErrExists, "resource of application %s", app.UID)
	}
	if err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventResource, App: app.UID, Node: app.NodeUID, Status: app.Status})
	if app.Status == model.StatusElected {
		st := cmd.State
		st.ApplicationUID, st.Status = app.UID, model.StatusAllocated
		if err := a.appendState(st, app.NodeUID); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func applyResourceDelete(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.ResourceDelete)
	app, err := a.appRow(cmd.ApplicationUID)
	if err != nil {
		return nil, err
	}
	if _, err := a.exec(`DELETE FROM resource WHERE application_uid = ?`, app.UID.String()); err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventResource, App: app.UID, Node: app.NodeUID})
	if app.Status.Final() && app.Status != model.StatusRecalled {
		return nil, nil // already final; keep the history as it is
	}
	st := cmd.State
	st.ApplicationUID = app.UID
	if err := a.appendState(st, app.NodeUID); err != nil {
		return nil, err
	}
	return st, nil
}

func applyResourceSetIP(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.ResourceSetIP)
	if _, err := a.exec(`UPDATE resource SET ip_addr = ?, updated_at = ? WHERE uid = ?`,
		cmd.IP, fmtTime(cmd.UpdatedAt), cmd.UID.String()); err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventResource})
	return nil, nil
}
