// Package command defines the typed, versioned commands that are the only way to change the
// replicated state. A command is encoded once by the node that proposes it, appended to the raft
// log and applied identically on every node, so everything that varies (time, UIDs, random
// tie-breakers, password hashes) is decided by the proposer and carried inside the command.
package command

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Type identifies a command. Values are part of the log format: never renumber them.
type Type uint16

// The command types.
const (
	TypeUserCreate           Type = 1
	TypeUserDelete           Type = 2
	TypeLabelCreate          Type = 3
	TypeLabelDelete          Type = 4
	TypeApplicationCreate    Type = 5
	TypeApplicationDealloc   Type = 6
	TypeApplicationState     Type = 7
	TypeTaskCreate           Type = 8
	TypeTaskResult           Type = 9
	TypeVote                 Type = 10
	TypeResourceCreate       Type = 11
	TypeResourceDelete       Type = 12
	TypeResourceSetIP        Type = 13
	TypeNodeRegister         Type = 14
	TypeNodeHeartbeat        Type = 15
	TypeLocationCreate       Type = 16
	TypeServiceMappingCreate Type = 17
	TypeServiceMappingDelete Type = 18
	TypeReelect              Type = 19
	TypeCloseRound           Type = 20
)

// Command is implemented by every command body.
type Command interface {
	Type() Type
}

// Envelope is the encoded form of a command in the log.
type Envelope struct {
	Type    Type            `json:"t"`
	Version uint8           `json:"v"`
	Time    time.Time       `json:"ts"` // the proposer's clock; the only time the FSM knows
	Body    json.RawMessage `json:"b"`
}

// version is the body version the node writes; decoders accept it and older ones.
const version = 1

// Encode wraps c in an envelope stamped with now.
func Encode(c Command, now time.Time) ([]byte, error) {
	// HTML escaping would change the bytes of free-form JSON (metadata, options) that clients
	// compare literally.
	body, err := marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode command %d: %w", c.Type(), err)
	}
	return marshal(Envelope{Type: c.Type(), Version: version, Time: now.UTC(), Body: body})
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Decode reads an envelope and its typed body.
func Decode(b []byte) (Envelope, Command, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return env, nil, fmt.Errorf("decode command envelope: %w", err)
	}
	if env.Version > version {
		return env, nil, fmt.Errorf("command %d has version %d, newer than this node understands (%d)", env.Type, env.Version, version)
	}
	newBody, ok := bodies[env.Type]
	if !ok {
		return env, nil, fmt.Errorf("unknown command type %d", env.Type)
	}
	c := newBody()
	if err := json.Unmarshal(env.Body, c); err != nil {
		return env, nil, fmt.Errorf("decode command %d body: %w", env.Type, err)
	}
	return env, c, nil
}
