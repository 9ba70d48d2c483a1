package state

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Column lists and scanners, one per object, in the order the scanners read them.
const (
	userCols     = `name, created_at, updated_at, algo`
	labelCols    = `uid, created_at, name, version, definitions, metadata`
	appCols      = `uid, created_at, owner_name, label_uid, metadata`
	taskCols     = `uid, application_uid, created_at, updated_at, task, "when", options, result`
	resourceCols = `uid, created_at, updated_at, application_uid, node_uid, label_uid, definition_index, identifier, ip_addr, hw_addr, metadata`
	voteCols     = `uid, created_at, application_uid, node_uid, round, available, rand`
	nodeCols     = `uid, created_at, updated_at, name, definition, location_name, address, pubkey`
	locationCols = `name, created_at, description`
	mappingCols  = `uid, created_at, service, redirect, location_name, application_uid`
)

type scanner interface{ Scan(dest ...any) error }

// uidCol scans a UID stored as text.
type uidCol struct{ u *model.UID }

func (c uidCol) Scan(src any) error {
	s, _ := src.(string)
	*c.u = mustUID(s)
	return nil
}

// timeCol scans a timestamp stored as text.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	s, _ := src.(string)
	*c.t = parseTime(s)
	return nil
}

// rawCol scans a free-form JSON value stored as text.
type rawCol struct{ r *json.RawMessage }

func (c rawCol) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*c.r = json.RawMessage(v)
	case []byte:
		*c.r = append(json.RawMessage(nil), v...)
	default:
		*c.r = json.RawMessage("{}")
	}
	return nil
}

func scanUser(s scanner) (model.User, error) {
	var u model.User
	err := s.Scan(&u.Name, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt}, &u.Hash.Algo)
	return u, err
}

func scanLabel(s scanner) (model.Label, error) {
	var l model.Label
	var defs string
	err := s.Scan(uidCol{&l.UID}, timeCol{&l.CreatedAt}, &l.Name, &l.Version, &defs, rawCol{&l.Metadata})
	if err == nil {
		err = json.Unmarshal([]byte(defs), &l.Definitions)
	}
	return l, err
}

func scanApp(s scanner) (model.Application, error) {
	var a model.Application
	err := s.Scan(uidCol{&a.UID}, timeCol{&a.CreatedAt}, &a.OwnerName, uidCol{&a.LabelUID}, rawCol{&a.Metadata})
	return a, err
}

func scanTask(s scanner) (model.ApplicationTask, error) {
	var t model.ApplicationTask
	err := s.Scan(uidCol{&t.UID}, uidCol{&t.ApplicationUID}, timeCol{&t.CreatedAt}, timeCol{&t.UpdatedAt},
		&t.Task, &t.When, rawCol{&t.Options}, rawCol{&t.Result})
	return t, err
}

func scanResource(s scanner) (model.Resource, error) {
	var r model.Resource
	err := s.Scan(uidCol{&r.UID}, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}, uidCol{&r.ApplicationUID},
		uidCol{&r.NodeUID}, uidCol{&r.LabelUID}, &r.DefinitionIndex, &r.Identifier, &r.IPAddr, &r.HwAddr, rawCol{&r.Metadata})
	return r, err
}

func scanVote(s scanner) (model.Vote, error) {
	var v model.Vote
	err := s.Scan(uidCol{&v.UID}, timeCol{&v.CreatedAt}, uidCol{&v.ApplicationUID}, uidCol{&v.NodeUID},
		&v.Round, &v.Available, &v.Rand)
	return v, err
}

func scanNode(s scanner) (model.Node, error) {
	var n model.Node
	var pub string
	err := s.Scan(uidCol{&n.UID}, timeCol{&n.CreatedAt}, timeCol{&n.UpdatedAt}, &n.Name, rawCol{&n.Definition},
		&n.LocationName, &n.Address, &pub)
	if err == nil && pub != "" {
		n.Pubkey, err = base64.StdEncoding.DecodeString(pub)
	}
	return n, err
}

func scanLocation(s scanner) (model.Location, error) {
	var l model.Location
	err := s.Scan(&l.Name, timeCol{&l.CreatedAt}, &l.Description)
	return l, err
}

func scanMapping(s scanner) (model.ServiceMapping, error) {
	var m model.ServiceMapping
	err := s.Scan(uidCol{&m.UID}, timeCol{&m.CreatedAt}, &m.Service, &m.Redirect, &m.LocationName, uidCol{&m.ApplicationUID})
	return m, err
}

// collect scans every row; the result is never nil, so empty lists encode as [].
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
