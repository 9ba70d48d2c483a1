package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is the state database: one connection that writes (used only by Apply) and a pool that
// reads.
type DB struct {
	path string
	w    *sql.DB
	wc   *sql.Conn // the one writer connection; only Apply (the FSM) and Backup use it
	r    *sql.DB
	ws   *stmtCache // statements of the writer connection
	rs   *stmtCache // statements of the reader pool

	usage usageIndex // what each node's applications use (NodeDefinitions)
}

// Open opens (creating when missing) the database at path and migrates it to the newest schema.
func Open(path string) (*DB, error) {
	w, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("open state db: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	if err := migrate(w); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open state db for reading: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	wc, err := w.Conn(context.Background())
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open state db writer: %w", err)
	}
	return &DB{path: path, w: w, wc: wc, r: r, ws: &stmtCache{db: wc, c: wc}, rs: &stmtCache{db: r}}, nil
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// The database is rebuilt from the raft log after a crash, so it need not be synced.
	q.Add("_pragma", "synchronous(OFF)")
	q.Add("_pragma", "foreign_keys(OFF)")
	// Reads through a memory map instead of one read(2) per page.
	q.Add("_pragma", "mmap_size(268435456)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + q.Encode()
}

func migrate(db *sql.DB) error {
	ctx := context.Background()
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("state db schema version %d is newer than this program (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
	}
	return nil
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close closes both connections.
func (db *DB) Close() error {
	db.rs.close()
	db.ws.close()
	return errors.Join(db.r.Close(), db.wc.Close(), db.w.Close())
}

// Backup writes a consistent copy of the database to path (which must not exist).
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := db.wc.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("backup state db: %w", err)
	}
	return nil
}

// Remove deletes a database file and its WAL side files.
func Remove(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// timeLayout is how timestamps are stored: sortable text, as filters compare them.
const timeLayout = "2006-01-02 15:04:05.000000000-07:00"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
