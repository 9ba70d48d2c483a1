package state

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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
	now    time.Time // the proposer's time stamped into the command: the FSM's only clock
	stmts  *stmtCache
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
	res, events, err := db.ApplyBatch([]Item{{Env: env, Command: c}})
	if err != nil {
		return Result{}, nil, err
	}
	return res[0], events, nil
}

// Item is one decoded command of a batch.
type Item struct {
	Env     command.Envelope
	Command command.Command
}

// ApplyBatch applies commands in order in one transaction (one commit for the batch, the raft
// log delivers commands in batches under load); each command sits in its own savepoint, so a
// refused command changes nothing while the others apply.
func (db *DB) ApplyBatch(items []Item) ([]Result, []Event, error) {
	ctx := context.Background()
	tx := &writeTx{ctx: ctx, c: db.wc}
	if err := tx.exec("BEGIN IMMEDIATE"); err != nil {
		return nil, nil, fmt.Errorf("begin apply: %w", err)
	}
	results := make([]Result, len(items))
	var events []Event
	for i, it := range items {
		h, ok := handlers[it.Env.Type]
		if !ok {
			tx.Rollback()
			return nil, nil, fmt.Errorf("no handler for command type %d", it.Env.Type)
		}
		if err := tx.exec("SAVEPOINT cmd"); err != nil {
			tx.Rollback()
			return nil, nil, err
		}
		a := &applyCtx{ctx: ctx, now: it.Env.Time, stmts: db.ws}
		v, herr := h(a, it.Command)
		switch {
		case herr == nil:
			results[i] = Result{Value: v}
			events = append(events, a.events...)
		case isRefusal(herr) || isConstraint(herr):
			// A constraint failure is decided by the data alone, so every replica refuses
			// the command the same way: it is the command's fault, not the database's.
			if !isRefusal(herr) {
				herr = refuse(ErrInvalid, "%v", herr)
			}
			results[i] = Result{Err: herr}
			if err := tx.exec("ROLLBACK TO cmd"); err != nil {
				tx.Rollback()
				return nil, nil, err
			}
		default:
			tx.Rollback()
			return nil, nil, fmt.Errorf("apply command %d: %w", it.Env.Type, herr)
		}
		if err := tx.exec("RELEASE cmd"); err != nil {
			tx.Rollback()
			return nil, nil, err
		}
	}
	staged, err := db.usage.stage(&applyCtx{ctx: ctx, stmts: db.ws}, events)
	if err != nil {
		tx.Rollback()
		return nil, nil, err
	}
	db.usage.mu.Lock()
	defer db.usage.mu.Unlock()
	if err := tx.exec("COMMIT"); err != nil {
		tx.Rollback()
		db.usage.loaded = false
		return nil, nil, fmt.Errorf("commit batch: %w", err)
	}
	db.usage.install(staged)
	return results, events, nil
}

// refusal marks an error as the command's fault rather than the database's.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

func refuse(sentinel error, format string, args ...any) error {
	return refusal{fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}

func isConstraint(err error) bool {
	return err != nil && strings.Contains(err.Error(), "constraint failed")
}

func isRefusal(err error) bool {
	_, ok := err.(refusal)
	return ok
}

func (a *applyCtx) exec(query string, args ...any) (sql.Result, error) {
	st, err := a.stmts.get(a.ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(a.ctx, args...)
}

func (a *applyCtx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := a.stmts.get(a.ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(a.ctx, args...)
}

func (a *applyCtx) queryRow(query string, args ...any) *sql.Row {
	st, err := a.stmts.get(a.ctx, query)
	if err != nil {
		return a.stmts.c.QueryRowContext(a.ctx, query, args...) // reports the same error through Scan
	}
	return st.QueryRowContext(a.ctx, args...)
}

// writeTx is a transaction on the writer connection, run by hand (BEGIN/COMMIT) so the
// connection's prepared statements serve every transaction.
type writeTx struct {
	ctx context.Context
	c   *sql.Conn
}

func (t *writeTx) exec(q string) error {
	_, err := t.c.ExecContext(t.ctx, q)
	return err
}

// Rollback abandons the transaction.
func (t *writeTx) Rollback() { _ = t.exec("ROLLBACK") }
