package filter

import (
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// openLabelDB creates the label table of spec §6.4 in a temporary SQLite file
// and fills it with a few rows.
func openLabelDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "filter.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	stmts := []string{
		`CREATE TABLE label(uid TEXT, created_at TEXT, name TEXT, version INTEGER, definitions TEXT, metadata TEXT)`,
		`INSERT INTO label VALUES
			('6fe5a3c2-0d6b-4e1c-9a43-1b2c3d4e5f60', '2024-01-01 00:00:00.000000000+00:00', 'test-label1', 1, '[{"driver":"test"}]', '{"team":"ci"}'),
			('0b1c2d3e-4f50-4617-8283-949596979899', '2024-01-02 00:00:00.000000000+00:00', 'test-label2', 2, '[{"driver":"test"}]', '{}'),
			('a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', '2024-01-03 00:00:00.000000000+00:00', 'ubuntu2004', 1, '[{"driver":"docker"}]', '{"team":"qa"}'),
			('ffeeddcc-bbaa-4998-8776-655443322110', '2024-01-04 00:00:00.000000000+00:00', 'ubuntu2204', 3, '[{"driver":"docker"}]', '{}')`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// names runs the filter over the label table and returns the matching names.
func names(t *testing.T, db *sql.DB, filter string) ([]string, error) {
	t.Helper()
	where, args, err := Where(filter, labelColumns)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(`SELECT l.name FROM label AS l WHERE `+where+` ORDER BY l.name`, args...)
	if err != nil {
		t.Fatalf("filter %q compiled to %q %v, which SQLite refused: %v", filter, where, args, err)
	}
	defer rows.Close()
	got := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("filter %q compiled to %q %v failed: %v", filter, where, args, err)
	}
	return got, nil
}

// TestSpecAccepted is the table of spec §6.2 plus a few more: each filter
// returns its natural result when run by SQLite.
func TestSpecAccepted(t *testing.T) {
	db := openLabelDB(t)
	all := []string{"test-label1", "test-label2", "ubuntu2004", "ubuntu2204"}
	tests := []struct {
		filter string
		want   []string
	}{
		{`name='test-label1'`, []string{"test-label1"}},
		{`name = 'test-label2'`, []string{"test-label2"}},
		{`name="ubuntu2004"`, []string{"ubuntu2004"}},
		{`name LIKE 'test-label%'`, []string{"test-label1", "test-label2"}},
		{`name IN ('a', 'b')`, []string{}},
		{`name IN ('ubuntu2204', 'test-label2')`, []string{"test-label2", "ubuntu2204"}},
		{`name = 'x' AND version = 1`, []string{}},
		{`name = 'ubuntu2004' AND version = 1`, []string{"ubuntu2004"}},
		{`version > 0`, all},
		{`version BETWEEN 0 AND 2`, []string{"test-label1", "test-label2", "ubuntu2004"}},
		{`name IS NOT NULL`, all},
		{`abs(version) = 1`, []string{"test-label1", "ubuntu2004"}},
		{`CAST(version AS TEXT) = '1'`, []string{"test-label1", "ubuntu2004"}},
		{`1=1`, all},
		{`UID LIKE '6fe5%'`, []string{"test-label1"}},
		{`name = 'test-label1'; DROP label`, []string{"test-label1"}},
		// beyond the spec table
		{`name NOT LIKE 'test%' AND version <> 3`, []string{"ubuntu2004"}},
		{`name GLOB 'ubuntu*'`, []string{"ubuntu2004", "ubuntu2204"}},
		{`name LIKE 'test!-label_' ESCAPE '!'`, []string{"test-label1", "test-label2"}},
		{`version NOT IN (1, 2)`, []string{"ubuntu2204"}},
		{`name IN ()`, []string{}},
		{`version NOT BETWEEN 1 AND 2`, []string{"ubuntu2204"}},
		{`json_extract(metadata, '$.team') = 'ci'`, []string{"test-label1"}},
		{`json_extract(definitions, '$[0].driver') = "docker"`, []string{"ubuntu2004", "ubuntu2204"}},
		{`created_at >= '2024-01-03'`, []string{"ubuntu2004", "ubuntu2204"}},
		{`lower(upper(name)) = name AND length(name) = 11`, []string{"test-label1", "test-label2"}},
		{`substr(name, 1, 6) || 'x' = 'ubuntux'`, []string{"ubuntu2004", "ubuntu2204"}},
		{`instr(name, '22') > 0 OR replace(name, 'test-', '') = 'label1'`, []string{"test-label1", "ubuntu2204"}},
		{`trim(' ' || name || ' ') = name AND rtrim(name, '0123456789') = 'test-label'`, []string{"test-label1", "test-label2"}},
		{`coalesce(NULL, version) = 2 OR ifnull(NULL, version) = 3`, []string{"test-label2", "ubuntu2204"}},
		{`max(version, 2) = 2 AND min(version, 1.5) = 1 AND round(version / 2.0) = 1`, []string{"test-label1", "ubuntu2004"}},
		{`version * 2 - 1 = 3 OR version % 3 = 0`, []string{"test-label2", "ubuntu2204"}},
		{`version = TRUE`, []string{"test-label1", "ubuntu2004"}},
		{`(version IS 1) IS NOT FALSE`, []string{"test-label1", "ubuntu2004"}},
		{`NOT (name = 'ubuntu2004' OR name = 'ubuntu2204')`, []string{"test-label1", "test-label2"}},
		{`-version = -2 AND +version = 2`, []string{"test-label2"}},
		{`name = 'it''s'`, []string{}},
		{`CAST(CAST(version AS REAL) AS INT) = 3 AND CAST('3' AS NUMERIC) = 3`, []string{"ubuntu2204"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			got, err := names(t, db, tt.filter)
			if err != nil {
				t.Fatalf("filter %q refused: %v", tt.filter, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("filter %q = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

// TestSpecRejected is the table of spec §6.3 plus the ambiguous last row of
// §6.2: each filter is an error, so nothing is executed.
func TestSpecRejected(t *testing.T) {
	db := openLabelDB(t)
	tests := []string{
		`DROP label`,
		`name IN (DROP label)`,
		`SELECT * FROM users WHERE a = 1; DROP users`,
		`a in (SELECT * FROM users)`,
		`name IN (SELECT name FROM labels)`,
		``,
		`a IN (1,2) ORDER BY id; DROP users`,
		`name IN (1,2) ORDER BY id; DROP users`,
		`name = 'x' OR 1=1 --`,
		`name = 'x'' OR ''1''=''1`,
		`nosuchcolumn = 1`,
		`load_extension('evil')`,
	}
	for _, filter := range tests {
		t.Run(filter, func(t *testing.T) {
			got, err := names(t, db, filter)
			if err == nil {
				t.Fatalf("filter %q accepted, matched %v", filter, got)
			}
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrUnknownColumn) && !errors.Is(err, ErrUnknownFunction) {
				t.Fatalf("filter %q: error %v wraps no sentinel", filter, err)
			}
		})
	}
	// The table is intact.
	if got, err := names(t, db, `1=1`); err != nil || len(got) != 4 {
		t.Fatalf("label table damaged: %v, %v", got, err)
	}
}

// TestLimitsFitSQLite checks that the largest expressions Parse accepts are
// still accepted by SQLite (expression depth, parser stack, argument count).
func TestLimitsFitSQLite(t *testing.T) {
	db := openLabelDB(t)
	n := maxHeight - 2
	filters := []string{
		"1" + strings.Repeat("+1", n) + " > 0",
		strings.Repeat("(", MaxDepth-1) + "1=1" + strings.Repeat(")", MaxDepth-1),
		strings.Repeat("NOT ", MaxDepth-2) + "1=1",
		strings.Repeat("abs(", MaxDepth-2) + "1" + strings.Repeat(")", MaxDepth-2),
		"coalesce(NULL" + strings.Repeat(",1", maxArgs-1) + ") = 1",
		"name IN (" + strings.Repeat("'x',", 1000) + "'test-label1')",
		strings.Repeat("name = 'x' OR ", n-5) + "1=1",
	}
	for _, f := range filters {
		if len(f) > MaxLength {
			t.Fatalf("test filter too long: %d bytes", len(f))
		}
		if _, err := names(t, db, f); err != nil {
			t.Errorf("filter %.40q... refused: %v", f, err)
		}
	}
}
