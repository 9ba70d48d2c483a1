// Package driver defines what a resource driver provides to the node, the optional capabilities a
// driver may add, the registry of driver factories and the capacity arithmetic local drivers share.
//
// A driver turns a label definition into a running resource (a VM, a container, a local user) and
// tears it down again. Drivers are small: every call takes a context, state lives in the driver
// instance (never in package variables), and faults are deterministic so tests can rely on them.
package driver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"

	"github.com/aquarium-fish/aquarium-fish/internal/model"
)

// Driver is one configured driver instance, for example "test" or "test/slow".
type Driver interface {
	// Name is the instance name as configured ("docker", "aws/dev").
	Name() string
	// IsRemote reports whether allocations consume no CPU/RAM of this node.
	IsRemote() bool
	// AvailableCapacity tells how many more instances of def fit given the node's current usage.
	// An error means the driver cannot tell; the node then treats the definition as not runnable.
	AvailableCapacity(usage Usage, def model.LabelDefinition) (int, error)
	// Allocate creates the resource. It may take minutes (image downloads); it must honour ctx.
	Allocate(ctx context.Context, req AllocateRequest) (Allocation, error)
	// Deallocate destroys the resource. Deallocating a resource that is already gone is an error
	// only when the driver cannot tell it is gone.
	Deallocate(ctx context.Context, res model.Resource) error
	// Status reports whether the resource still exists.
	Status(ctx context.Context, res model.Resource) (ResourceStatus, error)
}

// ResourceStatus is what a driver knows of a resource.
type ResourceStatus string

// The resource statuses a driver reports.
const (
	ResourceAllocated ResourceStatus = "ALLOCATED"
	ResourceNone      ResourceStatus = "NONE"
)

// AllocateRequest is everything a driver needs to create one resource.
type AllocateRequest struct {
	ApplicationUID  model.UID
	ResourceUID     model.UID
	LabelUID        model.UID
	DefinitionIndex int
	Definition      model.LabelDefinition
	// Metadata is the merged metadata object (application keys overlaid by label keys). It holds
	// secrets: never log it.
	Metadata map[string]any
}

// Allocation is what a driver reports about a resource it created.
type Allocation struct {
	Identifier string // unique, never empty
	IPAddr     string // "" when unknown
	HwAddr     string // lowercase zero-padded MAC or ""
}

// Tasker is implemented by drivers that run application tasks (snapshot, ...).
type Tasker interface {
	// Task returns the named task configured with options, or false when the driver has no such
	// task or the options do not decode.
	Task(name string, options json.RawMessage) (Task, bool)
}

// Task is one runnable application task.
type Task interface {
	// Run executes the task on res. The result is stored even when err is not nil; a result of
	// {} means "not done", and the node tries again later.
	Run(ctx context.Context, task model.ApplicationTask, res model.Resource) (json.RawMessage, error)
}

// Inventory is implemented by drivers that can list the resources they created for this node,
// so the node can clean up resources its state does not know (after a crash, for example).
type Inventory interface {
	// Resources lists the identifiers of all resources this driver instance holds for this node.
	Resources(ctx context.Context) ([]string, error)
	// Destroy removes a resource known only by its identifier.
	Destroy(ctx context.Context, identifier string) error
}

// PeerIdentifier is implemented by drivers whose resources cannot be told apart by IP address
// (local users share the host's addresses). Given a connection's remote and local addresses it
// returns the identifier of the resource that owns the remote end.
type PeerIdentifier interface {
	IdentifyPeer(remote, local netip.AddrPort) (identifier string, ok bool)
}

// Env is what the node gives every driver instance.
type Env struct {
	// Log is the instance's logger; the node has already tagged it with the instance name.
	Log *slog.Logger
	// WorkDir is the node's working directory; relative driver paths resolve against it.
	WorkDir string
	// NodeUID identifies this node; drivers tag what they create with it to find it again.
	NodeUID model.UID
	// NodeName is the configured node name.
	NodeName string
	// Endpoints returns the addresses resources use to reach this node's meta API and SOCKS5
	// proxy. It is called at allocation time, after the listeners are bound.
	Endpoints func() Endpoints
}

// Endpoints are the node's listening addresses, as bound (ports resolved).
type Endpoints struct {
	API   netip.AddrPort
	Proxy netip.AddrPort
}

// ErrNotFound is returned (wrapped) by drivers when a resource does not exist.
var ErrNotFound = errors.New("resource not found")
