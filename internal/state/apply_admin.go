package state

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

func applyUserCreate(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.UserCreate)
	u := cmd.User
	if u.Name == "" {
		return nil, refuse(ErrInvalid, "name can't be empty")
	}
	_, err := a.exec(`INSERT INTO user (name, created_at, updated_at, algo, hash) VALUES (?, ?, ?, ?, ?)`,
		u.Name, fmtTime(u.CreatedAt), fmtTime(u.UpdatedAt), u.Hash.Algo, cmd.Hash)
	if isUnique(err) {
		return nil, refuse(ErrExists, "user %q", u.Name)
	}
	if err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventUser, User: u.Name})
	return u, nil
}

func applyUserDelete(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.UserDelete)
	if _, err := a.exec(`DELETE FROM user WHERE name = ?`, cmd.Name); err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventUser, User: cmd.Name})
	return nil, nil
}

func applyLabelCreate(a *applyCtx, c command.Command) (any, error) {
	l := c.(*command.LabelCreate).Label
	defs, err := json.Marshal(l.Definitions)
	if err != nil {
		return nil, refuse(ErrInvalid, "definitions: %v", err)
	}
	_, err = a.exec(`INSERT INTO label (uid, created_at, name, version, definitions, metadata) VALUES (?, ?, ?, ?, ?, ?)`,
		l.UID.String(), fmtTime(l.CreatedAt), l.Name, l.Version, string(defs), jsonText(l.Metadata))
	if isUnique(err) {
		return nil, refuse(ErrExists, "label %q version %d", l.Name, l.Version)
	}
	if err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventLabel})
	return l, nil
}

func applyLabelDelete(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.LabelDelete)
	if _, err := a.exec(`DELETE FROM label WHERE uid = ?`, cmd.UID.String()); err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventLabel})
	return nil, nil
}

func applyLocationCreate(a *applyCtx, c command.Command) (any, error) {
	l := c.(*command.LocationCreate).Location
	if l.Name == "" {
		return nil, refuse(ErrInvalid, "name can't be empty")
	}
	_, err := a.exec(`INSERT INTO location (name, created_at, description) VALUES (?, ?, ?)`,
		l.Name, fmtTime(l.CreatedAt), l.Description)
	if isUnique(err) {
		return nil, refuse(ErrExists, "location %q", l.Name)
	}
	if err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventMapping})
	return l, nil
}

func applyServiceMappingCreate(a *applyCtx, c command.Command) (any, error) {
	m := c.(*command.ServiceMappingCreate).Mapping
	if m.Service == "" || m.Redirect == "" {
		return nil, refuse(ErrInvalid, "service and redirect can't be empty")
	}
	if m.ApplicationUID != model.NilUID {
		if _, err := a.appRow(m.ApplicationUID); err != nil {
			return nil, err
		}
	}
	_, err := a.exec(`INSERT INTO service_mapping (uid, created_at, service, redirect, location_name, application_uid) VALUES (?, ?, ?, ?, ?, ?)`,
		m.UID.String(), fmtTime(m.CreatedAt), m.Service, m.Redirect, m.LocationName, m.ApplicationUID.String())
	if isUnique(err) {
		return nil, refuse(ErrExists, "service mapping for %q", m.Service)
	}
	if err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventMapping})
	return m, nil
}

func applyServiceMappingDelete(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.ServiceMappingDelete)
	if _, err := a.exec(`DELETE FROM service_mapping WHERE uid = ?`, cmd.UID.String()); err != nil {
		return nil, err
	}
	a.emit(Event{Kind: EventMapping})
	return nil, nil
}

// NodeRegistration is the result of NodeRegister.
type NodeRegistration struct {
	Node    model.Node
	Created bool
}

func applyNodeRegister(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.NodeRegister)
	n := cmd.Node
	pub := base64.StdEncoding.EncodeToString(n.Pubkey)
	drivers, _ := json.Marshal(cmd.Drivers)
	var uid, storedPub, created string
	err := a.queryRow(`SELECT uid, pubkey, created_at FROM node WHERE name = ?`, n.Name).Scan(&uid, &storedPub, &created)
	switch {
	case errors.Is(err, errNoRows):
		if n.LocationName != "" {
			_, err := a.exec(`INSERT OR IGNORE INTO location (name, created_at, description) VALUES (?, ?, ?)`,
				n.LocationName, fmtTime(a.now), cmd.Location.Description)
			if err != nil {
				return nil, err
			}
		}
		_, err = a.exec(`INSERT INTO node (uid, created_at, updated_at, name, definition, location_name, address, pubkey, drivers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			n.UID.String(), fmtTime(a.now), fmtTime(a.now), n.Name, jsonText(n.Definition), n.LocationName, n.Address, pub, string(drivers))
		if isUnique(err) {
			return nil, refuse(ErrExists, "node UID %s is already used by another node name", n.UID)
		}
		if err != nil {
			return nil, err
		}
		n.CreatedAt, n.UpdatedAt = a.now, a.now
		a.emit(Event{Kind: EventNode, Node: n.UID})
		return NodeRegistration{Node: n, Created: true}, nil
	case err != nil:
		return nil, err
	}
	if storedPub != pub {
		return nil, refuse(ErrPubkeyChange, "node %q", n.Name)
	}
	_, err = a.exec(`UPDATE node SET updated_at = ?, definition = ?, address = ?, drivers = ?, maintenance = 0 WHERE name = ?`,
		fmtTime(a.now), jsonText(n.Definition), n.Address, string(drivers), n.Name)
	if err != nil {
		return nil, err
	}
	if err := a.queryRow(`SELECT location_name FROM node WHERE name = ?`, n.Name).Scan(&n.LocationName); err != nil {
		return nil, err
	}
	n.UID = model.UID(mustUID(uid))
	n.CreatedAt, n.UpdatedAt = parseTime(created), a.now
	a.emit(Event{Kind: EventNode, Node: n.UID})
	return NodeRegistration{Node: n}, nil
}

func applyNodeHeartbeat(a *applyCtx, c command.Command) (any, error) {
	cmd := c.(*command.NodeHeartbeat)
	drivers, _ := json.Marshal(cmd.Drivers)
	res, err := a.exec(`UPDATE node SET updated_at = ?, drivers = ?, maintenance = ? WHERE uid = ?`,
		fmtTime(a.now), string(drivers), cmd.Maintenance, cmd.UID.String())
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, refuse(ErrNotFound, "node %s", cmd.UID)
	}
	a.emit(Event{Kind: EventNode, Node: cmd.UID})
	return nil, nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// jsonText is the stored text of a free-form JSON value: compact, {} when absent.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "{}"
	}
	return string(raw)
}
