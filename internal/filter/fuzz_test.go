package filter

import (
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// fuzzSeeds are the spec's examples (§6.2, §6.3) and a few more shapes.
var fuzzSeeds = []string{
	`name='test-label1'`,
	`name = 'test-label2'`,
	`name="ubuntu2004"`,
	`name LIKE 'test-label%'`,
	`name IN ('a', 'b')`,
	`name = 'x' AND version = 1`,
	`version > 0`,
	`version BETWEEN 0 AND 2`,
	`name IS NOT NULL`,
	`abs(version) = 1`,
	`CAST(version AS TEXT) = '1'`,
	`1=1`,
	`UID LIKE '6fe5%'`,
	`name = 'test-label1'; DROP label`,
	`a IN (1,2) ORDER BY id; DROP users`,
	`DROP label`,
	`name IN (DROP label)`,
	`SELECT * FROM users WHERE a = 1; DROP users`,
	`a in (SELECT * FROM users)`,
	`name IN (SELECT name FROM labels)`,
	``,
	`json_extract(metadata, '$.a') == "b" OR -version * 2.5e3 <> .5 || 'x'`,
	`NOT name NOT GLOB 'u*' AND name NOT LIKE '%!_%' ESCAPE '!' IS NOT TRUE`,
	`coalesce(NULL, max(1, 2, version), min(-1, +2)) NOT BETWEEN 1 AND 2`,
	`"we""ird" = 'it''s' -- x`,
}

// fuzzColumns are deliberately distinctive so the output check below can
// recognise them.
var fuzzColumns = Columns{
	"uid":         `l."uid"`,
	"created_at":  `l."created_at"`,
	"name":        `"name"`,
	"version":     `l.version`,
	"definitions": `l."definitions"`,
	"metadata":    `l."metadata"`,
}

// sqlWords are the words Compile may emit besides column expressions.
var sqlWords = func() map[string]bool {
	m := map[string]bool{
		"AND": true, "OR": true, "NOT": true, "IS": true, "IN": true, "LIKE": true,
		"GLOB": true, "ESCAPE": true, "BETWEEN": true, "CAST": true, "AS": true,
	}
	for f := range functions {
		m[f] = true
	}
	for typ := range castTypes {
		m[typ] = true
	}
	return m
}()

var sqlOps = map[string]bool{
	"(": true, ")": true, ",": true, "?": true, "=": true, "!=": true, "<": true,
	"<=": true, ">": true, ">=": true, "+": true, "-": true, "*": true, "/": true,
	"%": true, "||": true,
}

// checkSQL fails unless sql is made only of the whitelisted column
// expressions, words, operators and `?`, and has one `?` per argument.
func checkSQL(t *testing.T, input, sql string, args []any) {
	t.Helper()
	colSQL := make([]string, 0, len(fuzzColumns))
	for _, c := range fuzzColumns {
		colSQL = append(colSQL, c)
	}
	sort.Slice(colSQL, func(i, j int) bool { return len(colSQL[i]) > len(colSQL[j]) })
	marks := 0
	for i := 0; i < len(sql); {
		rest := sql[i:]
		if rest[0] == ' ' {
			i++
			continue
		}
		if col := prefixIn(rest, colSQL); col != "" {
			i += len(col)
			continue
		}
		if isIdentStart(rest[0]) {
			j := 1
			for j < len(rest) && isIdentPart(rest[j]) {
				j++
			}
			if !sqlWords[rest[:j]] {
				t.Fatalf("input %q compiled to %q: word %q is not whitelisted", input, sql, rest[:j])
			}
			i += j
			continue
		}
		op := rest[:1]
		if len(rest) > 1 && sqlOps[rest[:2]] {
			op = rest[:2]
		}
		if !sqlOps[op] {
			t.Fatalf("input %q compiled to %q: unexpected text at %d", input, sql, i)
		}
		if op == "?" {
			marks++
		}
		i += len(op)
	}
	if marks != len(args) {
		t.Fatalf("input %q compiled to %q with %d placeholders but %d args", input, sql, marks, len(args))
	}
}

func prefixIn(s string, candidates []string) string {
	for _, c := range candidates {
		if strings.HasPrefix(s, c) {
			return c
		}
	}
	return ""
}

func FuzzWhere(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	db, err := sql.Open("sqlite", filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE label(uid TEXT, created_at TEXT, name TEXT, version INTEGER, definitions TEXT, metadata TEXT)`); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input string) {
		where, args, err := Where(input, fuzzColumns)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrUnknownColumn) && !errors.Is(err, ErrUnknownFunction) {
				t.Fatalf("Where(%q): error %v wraps no sentinel", input, err)
			}
			if where != "" || args != nil {
				t.Fatalf("Where(%q) returned SQL with an error", input)
			}
			return
		}
		checkSQL(t, input, where, args)

		where2, args2, err2 := Where(input, fuzzColumns)
		if err2 != nil || where2 != where || !reflect.DeepEqual(args2, args) {
			t.Fatalf("Where(%q) is not deterministic: %q %v / %q %v %v", input, where, args, where2, args2, err2)
		}

		// The canonical form means the same thing.
		e, _ := Parse(input)
		again, err := parse(e.String(), limits{length: 1 << 20, depth: 1 << 20, height: 1 << 20})
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", e.String(), input, err)
		}
		where3, args3, err3 := Compile(again, fuzzColumns)
		if err3 != nil || where3 != where || !reflect.DeepEqual(args3, args) {
			t.Fatalf("canonical form %q of %q compiles differently: %q %v %v", e.String(), input, where3, args3, err3)
		}

		// SQLite compiles it (EXPLAIN prepares without evaluating anything).
		rows, err := db.Query(`EXPLAIN SELECT 1 FROM label AS l WHERE `+where, args...)
		if err != nil {
			t.Fatalf("input %q compiled to %q, which SQLite refuses: %v", input, where, err)
		}
		rows.Close()
	})
}
