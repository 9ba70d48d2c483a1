package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/aquarium-fish/aquarium-fish/internal/store/command"
)

// Result is what applying one command gives back to its proposer.
type Result struct {
	Value any   // the object created or changed, when the command has one
	Err   error // one of the Err* sentinels (wrapped) when the command was refused
}

// applyCtx is one command being applied: its transaction, its log time and the events it raises.
type applyCtx struct {
	ctx    context.Context
	tx     *sql.Tx
	now    time.Time // the proposer's time stamped into the command: the FSM's only clock
	events []Event
}

func (a *applyCtx) emit(e Event) { a.events = append(a.events, e) }

type handler func(a *applyCtx, c command.Command) (any, error)

var handlers = map[command.Type]handler{
	command.TypeUserCreate:           applyUserCreate,
	command.TypeUserDelete:           applyUserDelete,
	command.TypeLabelCreate:          applyLabelCreate,
	command.TypeLabelDelete:          applyLabelDelete,
	command.TypeApplicationCreate:    applyApplicationCreate,
	command.TypeApplicationDealloc:   applyApplicationDealloc,
	command.TypeApplicationState:     applyApplicationState,
	command.TypeTaskCreate:           applyTaskCreate,
	command.TypeTaskResult:           applyTaskResult,
	command.TypeVote:                 applyVote,
	command.TypeResourceCreate:       applyResourceCreate,
	command.TypeResourceDelete:       applyResourceDelete,
	command.TypeResourceSetIP:        applyResourceSetIP,
	command.TypeNodeRegister:         applyNodeRegister,
	command.TypeNodeHeartbeat:        applyNodeHeartbeat,
	command.TypeLocationCreate:       applyLocationCreate,
	command.TypeServiceMappingCreate: applyServiceMappingCreate,
	command.TypeServiceMappingDelete: applyServiceMappingDelete,
	command.TypeReelect:              applyReelect,
	command.TypeCloseRound:           applyCloseRound,
}

// Apply applies one decoded command in one transaction. A refused command (Result.Err) changes
// nothing. The returned error is a fault of the database itself: the caller must stop, because
// replicas would diverge.
func (db *DB) Apply(env command.Envelope, c command.Command) (Result, []Event, error) {
	h, ok := handlers[env.Type]
	if !ok {
		return Result{}, nil, fmt.Errorf("no handler for command type %d", env.Type)
	}
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return Result{}, nil, fmt.Errorf("begin apply: %w", err)
	}
	a := &applyCtx{ctx: ctx, tx: tx, now: env.Time}
	v, herr := h(a, c)
	if herr != nil {
		tx.Rollback()
		if isRefusal(herr) {
			return Result{Err: herr}, nil, nil
		}
		return Result{}, nil, fmt.Errorf("apply command %d: %w", env.Type, herr)
	}
	if err := tx.Commit(); err != nil {
		return Result{}, nil, fmt.Errorf("commit command %d: %w", env.Type, err)
	}
	return Result{Value: v}, a.events, nil
}

// refusal marks an error as the command's fault rather than the database's.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

func refuse(sentinel error, format string, args ...any) error {
	return refusal{fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

func isRefusal(err error) bool {
	_, ok := err.(refusal)
	return ok
}

func (a *applyCtx) exec(query string, args ...any) (sql.Result, error) {
	return a.tx.ExecContext(a.ctx, query, args...)
}

func (a *applyCtx) queryRow(query string, args ...any) *sql.Row {
	return a.tx.QueryRowContext(a.ctx, query, args...)
}
