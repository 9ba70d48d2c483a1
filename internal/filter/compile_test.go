package filter

import (
	"errors"
	"reflect"
	"testing"
)

// labelColumns is the Label column set of spec §6.4, qualified as a store
// query over `label AS l` might map it.
var labelColumns = Columns{
	"uid":         `l."uid"`,
	"created_at":  `l."created_at"`,
	"name":        `l."name"`,
	"version":     `l."version"`,
	"definitions": `l."definitions"`,
	"metadata":    `l."metadata"`,
}

func TestCompile(t *testing.T) {
	cols := Columns{"name": `"name"`, "version": `l.version`, "uid": `"uid"`, "when": `"when"`}
	tests := []struct {
		in   string
		sql  string
		args []any
	}{
		{`name='x'`, `("name" = ?)`, []any{"x"}},
		{`NAME = "ubuntu2004"`, `("name" = ?)`, []any{"ubuntu2004"}},
		{`"Name" = 'x'`, `("name" = ?)`, []any{"x"}},
		{`"ver sion" = "x"`, `(? = ?)`, []any{"ver sion", "x"}},
		{`UID LIKE '6fe5%'`, `("uid" LIKE ?)`, []any{"6fe5%"}},
		{`when = 'x'`, `("when" = ?)`, []any{"x"}},
		{`1=1`, `(? = ?)`, []any{int64(1), int64(1)}},
		{`version = 1.5 OR version IS NULL`, `((l.version = ?) OR (l.version IS ?))`, []any{1.5, nil}},
		{`version == TRUE AND version <> FALSE`, `((l.version = ?) AND (l.version != ?))`, []any{int64(1), int64(0)}},
		{`-version - -1`, `((- l.version) - (- ?))`, []any{int64(1)}},
		{`NOT name || 'a' IS NOT 'b'`, `(NOT (("name" || ?) IS NOT ?))`, []any{"a", "b"}},
		{`name NOT LIKE 'a!%' ESCAPE '!'`, `("name" NOT LIKE ? ESCAPE ?)`, []any{"a!%", "!"}},
		{`name GLOB 'a*'`, `("name" GLOB ?)`, []any{"a*"}},
		{`name IN ('a', 'b')`, `("name" IN (?, ?))`, []any{"a", "b"}},
		{`name NOT IN ()`, `("name" NOT IN ())`, nil},
		{`version BETWEEN 0 AND 2`, `(l.version BETWEEN ? AND ?)`, []any{int64(0), int64(2)}},
		{`CAST(version AS text) = '1'`, `(CAST(l.version AS TEXT) = ?)`, []any{"1"}},
		{`Json_Extract(name, '$.a', '$.b')`, `json_extract("name", ?, ?)`, []any{"$.a", "$.b"}},
		{`abs(version) % 2 * 3 / 4 + 5 >= 6`, `(((((abs(l.version) % ?) * ?) / ?) + ?) >= ?)`,
			[]any{int64(2), int64(3), int64(4), int64(5), int64(6)}},
		{`name = 'x'; DROP label`, `("name" = ?)`, []any{"x"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sql, args, err := Where(tt.in, cols)
			if err != nil {
				t.Fatalf("Where(%q): %v", tt.in, err)
			}
			if sql != tt.sql || !reflect.DeepEqual(args, tt.args) {
				t.Fatalf("Where(%q) = %s %#v, want %s %#v", tt.in, sql, args, tt.sql, tt.args)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	cols := Columns{"name": `"name"`}
	tests := []struct {
		in   string
		want error
	}{
		{`a IN (1,2)`, ErrUnknownColumn},
		{`nme = 'x'`, ErrUnknownColumn},
		{`name = 'x' AND abs(version) = 1`, ErrUnknownColumn},
		{`name = value`, ErrUnknownColumn},
		{`DROP label`, ErrSyntax},
		{`random() = 1`, ErrUnknownFunction},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sql, args, err := Where(tt.in, cols)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Where(%q) = %q %v, %v; want error %v", tt.in, sql, args, err, tt.want)
			}
			if sql != "" || args != nil {
				t.Fatalf("Where(%q) returned SQL %q with an error", tt.in, sql)
			}
		})
	}
	if _, _, err := Compile(nil, cols); !errors.Is(err, ErrSyntax) {
		t.Fatalf("Compile(nil) error = %v, want ErrSyntax", err)
	}
}

func TestCompileDeterministic(t *testing.T) {
	e, err := Parse(`name IN ('a', 'b') OR version BETWEEN 1 AND 2 AND metadata IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	sql1, args1, err1 := Compile(e, labelColumns)
	sql2, args2, err2 := Compile(e, labelColumns)
	if err1 != nil || err2 != nil || sql1 != sql2 || !reflect.DeepEqual(args1, args2) {
		t.Fatalf("two compilations differ: %q %v %v / %q %v %v", sql1, args1, err1, sql2, args2, err2)
	}
}
