package state

import "github.com/aquarium-fish/aquarium-fish/internal/model"

// EventKind says what changed.
type EventKind uint8

// The kinds of change Apply reports.
const (
	EventUser        EventKind = iota + 1 // a user was created or deleted
	EventLabel                            // a label was created or deleted
	EventApplication                      // an application was created or its status changed
	EventTask                             // a task was created or got its result
	EventVote                             // a vote was cast
	EventNode                             // a node registered or its heartbeat changed what it offers
	EventResource                         // a resource was created, changed or removed
	EventMapping                          // a service mapping or location changed
)

// Event describes one committed change. Events are hints to wake the node's loops: a loop that
// misses one re-reads the state.
type Event struct {
	Kind   EventKind
	App    model.UID    // application concerned (EventApplication, EventTask, EventVote, EventResource)
	Status model.Status // new status (EventApplication)
	Node   model.UID    // node the application is assigned to, or the node concerned
	Task   model.UID    // EventTask
	User   string       // EventUser
}
