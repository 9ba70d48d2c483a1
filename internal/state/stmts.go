package state

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements of the fixed queries (parsing SQL costs more than running
// these small queries). Queries built from user filters are never cached: they vary without
// bound.
type stmtCache struct {
	db preparer
	c  *sql.Conn // the writer connection, when the cache is the writer's
	m  sync.Map  // query text → *sql.Stmt
}

type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (c *stmtCache) close() {
	c.m.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
}

// query runs a fixed read query through the statement cache.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := db.rs.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a fixed single-row read query through the statement cache.
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := db.rs.get(ctx, q)
	if err != nil {
		return db.r.QueryRowContext(ctx, q, args...) // reports the same error through Scan
	}
	return st.QueryRowContext(ctx, args...)
}
