package command

import (
	"time"

	"encoding/json"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// UserCreate adds a user. Hash is the encoded password hash (never the password).
type UserCreate struct {
	User model.User `json:"user"`
	Hash []byte     `json:"hash"`
}

// UserDelete removes a user; removing an unknown user is not an error.
type UserDelete struct {
	Name string `json:"name"`
}

// LabelCreate adds a label; (name, version) must be unique.
type LabelCreate struct {
	Label model.Label `json:"label"`
}

// LabelDelete removes a label; removing an unknown label is not an error.
type LabelDelete struct {
	UID model.UID `json:"uid"`
}

// ApplicationCreate adds an application and its first state NEW. The label must exist when the
// command is applied.
type ApplicationCreate struct {
	Application model.Application      `json:"application"`
	State       model.ApplicationState `json:"state"`
	// Vote is the proposing node's round-0 vote, cast with the creation so that a node that can
	// serve the application saves a round trip; nil when it does not vote.
	Vote *Vote `json:"vote,omitempty"`
}

// ApplicationDealloc is a user's deallocation request: DEALLOCATE when the application is
// allocated, RECALLED when it is not allocated yet. State.Status is filled in when applied.
type ApplicationDealloc struct {
	State model.ApplicationState `json:"state"`
}

// ApplicationState appends a state when the current status is one of From (any when empty).
type ApplicationState struct {
	State model.ApplicationState `json:"state"`
	From  []model.Status         `json:"from,omitempty"`
	// Node, when set, must be the node the application is assigned to.
	Node model.UID `json:"node,omitempty"`
}

// TaskCreate adds an application task.
type TaskCreate struct {
	Task model.ApplicationTask `json:"task"`
}

// TaskResult stores a task's result.
type TaskResult struct {
	UID       model.UID       `json:"uid"`
	Result    json.RawMessage `json:"result"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Vote is a node's answer in an election round. Applying the vote that completes a round
// decides the election.
type Vote struct {
	Vote model.Vote `json:"vote"`
	// StateUID is the UID the ELECTED state gets if this vote decides the election.
	StateUID model.UID `json:"state_uid"`
}

// ResourceCreate records an allocated resource and moves its application from ELECTED to
// ALLOCATED. When the application was recalled meanwhile, the resource is still recorded (so it
// is torn down) and the status stays.
type ResourceCreate struct {
	Resource model.Resource         `json:"resource"`
	State    model.ApplicationState `json:"state"`
}

// ResourceDelete removes the resource of an application and appends its final state.
type ResourceDelete struct {
	ApplicationUID model.UID              `json:"application_uid"`
	State          model.ApplicationState `json:"state"`
}

// ResourceSetIP records the IP address a resource was found at.
type ResourceSetIP struct {
	UID       model.UID `json:"uid"`
	IP        string    `json:"ip"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NodeRegister creates or refreshes a node row at start.
type NodeRegister struct {
	Node     model.Node     `json:"node"`
	Drivers  []string       `json:"drivers"`
	Location model.Location `json:"location"` // created when missing and Name is set
}

// NodeHeartbeat says a node is alive, with what it can run now.
type NodeHeartbeat struct {
	UID         model.UID `json:"uid"`
	Drivers     []string  `json:"drivers"`
	Maintenance bool      `json:"maintenance"`
}

// LocationCreate adds a location.
type LocationCreate struct {
	Location model.Location `json:"location"`
}

// ServiceMappingCreate adds a service mapping.
type ServiceMappingCreate struct {
	Mapping model.ServiceMapping `json:"mapping"`
}

// ServiceMappingDelete removes a service mapping.
type ServiceMappingDelete struct {
	UID model.UID `json:"uid"`
}

// Reelect returns an ELECTED application whose node stopped answering to a new round.
type Reelect struct {
	ApplicationUID model.UID              `json:"application_uid"`
	Round          uint16                 `json:"round"`
	State          model.ApplicationState `json:"state"` // the NEW state that reopens the election
}

func (UserCreate) Type() Type           { return TypeUserCreate }
func (UserDelete) Type() Type           { return TypeUserDelete }
func (LabelCreate) Type() Type          { return TypeLabelCreate }
func (LabelDelete) Type() Type          { return TypeLabelDelete }
func (ApplicationCreate) Type() Type    { return TypeApplicationCreate }
func (ApplicationDealloc) Type() Type   { return TypeApplicationDealloc }
func (ApplicationState) Type() Type     { return TypeApplicationState }
func (TaskCreate) Type() Type           { return TypeTaskCreate }
func (TaskResult) Type() Type           { return TypeTaskResult }
func (Vote) Type() Type                 { return TypeVote }
func (ResourceCreate) Type() Type       { return TypeResourceCreate }
func (ResourceDelete) Type() Type       { return TypeResourceDelete }
func (ResourceSetIP) Type() Type        { return TypeResourceSetIP }
func (NodeRegister) Type() Type         { return TypeNodeRegister }
func (NodeHeartbeat) Type() Type        { return TypeNodeHeartbeat }
func (LocationCreate) Type() Type       { return TypeLocationCreate }
func (ServiceMappingCreate) Type() Type { return TypeServiceMappingCreate }
func (ServiceMappingDelete) Type() Type { return TypeServiceMappingDelete }
func (Reelect) Type() Type              { return TypeReelect }
func (CloseRound) Type() Type           { return TypeCloseRound }

// CloseRound decides an election round whose deadline passed with the votes it has: an
// eligible node that did not vote in time does not hold the application back.
type CloseRound struct {
	ApplicationUID model.UID `json:"application_uid"`
	Round          uint16    `json:"round"`
	StateUID       model.UID `json:"state_uid"` // the ELECTED state's UID if there is a winner
}

// bodies makes an empty body for each type; Decode dispatches through it.
var bodies = map[Type]func() Command{
	TypeUserCreate:           func() Command { return &UserCreate{} },
	TypeUserDelete:           func() Command { return &UserDelete{} },
	TypeLabelCreate:          func() Command { return &LabelCreate{} },
	TypeLabelDelete:          func() Command { return &LabelDelete{} },
	TypeApplicationCreate:    func() Command { return &ApplicationCreate{} },
	TypeApplicationDealloc:   func() Command { return &ApplicationDealloc{} },
	TypeApplicationState:     func() Command { return &ApplicationState{} },
	TypeTaskCreate:           func() Command { return &TaskCreate{} },
	TypeTaskResult:           func() Command { return &TaskResult{} },
	TypeVote:                 func() Command { return &Vote{} },
	TypeResourceCreate:       func() Command { return &ResourceCreate{} },
	TypeResourceDelete:       func() Command { return &ResourceDelete{} },
	TypeResourceSetIP:        func() Command { return &ResourceSetIP{} },
	TypeNodeRegister:         func() Command { return &NodeRegister{} },
	TypeNodeHeartbeat:        func() Command { return &NodeHeartbeat{} },
	TypeLocationCreate:       func() Command { return &LocationCreate{} },
	TypeServiceMappingCreate: func() Command { return &ServiceMappingCreate{} },
	TypeServiceMappingDelete: func() Command { return &ServiceMappingDelete{} },
	TypeReelect:              func() Command { return &Reelect{} },
	TypeCloseRound:           func() Command { return &CloseRound{} },
}
