package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/auth"
	"github.com/aquarium-fish/aquarium-fish/internal/model"
	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// Store changes the replicated state.
type Store interface {
	Apply(ctx context.Context, c command.Command) (any, error)
}

// Reader is what the handlers read from the state.
type Reader interface {
	Users(ctx context.Context, f *string) ([]model.User, error)
	User(ctx context.Context, name string) (model.User, error)
	UserCredentials(ctx context.Context, name string) (hash []byte, stamp string, err error)
	Labels(ctx context.Context, f *string) ([]model.Label, error)
	Label(ctx context.Context, uid model.UID) (model.Label, error)
	Applications(ctx context.Context, f *string, owner string) ([]model.Application, error)
	Application(ctx context.Context, uid model.UID) (model.Application, error)
	OwnedState(ctx context.Context, app model.UID) (model.ApplicationState, string, error)
	ApplicationResource(ctx context.Context, app model.UID) (model.Resource, error)
	Tasks(ctx context.Context, app model.UID, f *string) ([]model.ApplicationTask, error)
	Resources(ctx context.Context, f *string) ([]model.Resource, error)
	Resource(ctx context.Context, uid model.UID) (model.Resource, error)
	Nodes(ctx context.Context, f *string) ([]model.Node, error)
	Node(ctx context.Context, uid model.UID) (model.Node, error)
	Votes(ctx context.Context, f *string) ([]model.Vote, error)
	Locations(ctx context.Context, f *string) ([]model.Location, error)
	ServiceMappings(ctx context.Context, f *string) ([]model.ServiceMapping, error)
	ServiceMapping(ctx context.Context, uid model.UID) (model.ServiceMapping, error)
}

// Voter casts this node's vote with an application it creates, when it can serve it.
type Voter interface {
	Prevote(ctx context.Context, app model.Application) (vote *command.Vote, done func(created bool))
}

// Control is this node's maintenance and shutdown switch.
type Control interface {
	SetShutdownDelay(d time.Duration)
	SetMaintenance(on bool)
	SetShutdown(on bool)
}

// Deps is everything the API needs.
type Deps struct {
	Store   Store
	State   func() Reader // the current state (it is swapped when a snapshot is restored)
	Auth    *auth.Cache
	Control Control
	Voter   Voter // optional
	Log     *slog.Logger
	Now     func() time.Time
	// NodeUID and NodeName identify this node (UID prefixes, state descriptions).
	NodeUID  model.UID
	NodeName string
	// DriverKnown reports whether this program has the driver type of a definition's driver.
	DriverKnown func(name string) bool
	// Roles tells each node's raft role (leader, voter, nonvoter) by node UID.
	Roles func() map[string]string
	// Spec is the OpenAPI document served at /api/openapi.yaml.
	Spec []byte
}
