package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`name='test-label1'`, `(name = 'test-label1')`},
		{`name = 'it''s'`, `(name = 'it''s')`},
		{`name="ubuntu2004"`, `(name = "ubuntu2004")`},
		{`"we""ird" == 1`, `("we""ird" = 1)`},
		{`a <> 1`, `(a != 1)`},
		{`a != 1`, `(a != 1)`},
		{`1=1`, `(1 = 1)`},
		{`x = 1.5`, `(x = 1.5)`},
		{`x = .5e1`, `(x = 5.0)`},
		{`x = 1e20`, `(x = 1e+20)`},
		{`x = 99999999999999999999`, `(x = 1e+20)`},
		{`x = 9223372036854775807`, `(x = 9223372036854775807)`},
		{`x IS NULL`, `(x IS NULL)`},
		{`x is not null`, `(x IS NOT NULL)`},
		{`x IS NOT y`, `(x IS NOT y)`},
		{`x = TRUE OR y = false`, `((x = TRUE) OR (y = FALSE))`},
		// precedence: OR < AND < NOT < equality < relational < + < * < || < unary
		{`a OR b AND c`, `(a OR (b AND c))`},
		{`a AND b OR c`, `((a AND b) OR c)`},
		{`NOT a AND b`, `((NOT a) AND b)`},
		{`NOT a = b`, `(NOT (a = b))`},
		{`NOT NOT a`, `(NOT (NOT a))`},
		{`a = b < c`, `(a = (b < c))`},
		{`a < b = c`, `((a < b) = c)`},
		{`a = b = c`, `((a = b) = c)`},
		{`a + b * c`, `(a + (b * c))`},
		{`a * b + c`, `((a * b) + c)`},
		{`a - b - c`, `((a - b) - c)`},
		{`a * b || c`, `(a * (b || c))`},
		{`-a || b`, `((- a) || b)`},
		{`- -a`, `(- (- a))`},
		{`+a % 2`, `((+ a) % 2)`},
		{`a < b + 1`, `(a < (b + 1))`},
		{`(a OR b) AND c`, `((a OR b) AND c)`},
		{`((((a))))`, `a`},
		{`1 = NOT 0`, `(1 = (NOT 0))`},
		// LIKE, GLOB, IN, BETWEEN
		{`name LIKE 'test-label%'`, `(name LIKE 'test-label%')`},
		{`name not like 'a\%' escape '\'`, `(name NOT LIKE 'a\%' ESCAPE '\')`},
		{`name GLOB 'a*'`, `(name GLOB 'a*')`},
		{`name NOT GLOB 'a*'`, `(name NOT GLOB 'a*')`},
		{`name LIKE 'a' || '%'`, `(name LIKE ('a' || '%'))`},
		{`name IN ('a', 'b')`, `(name IN ('a', 'b'))`},
		{`name NOT IN (1, 2+3, x)`, `(name NOT IN (1, (2 + 3), x))`},
		{`name IN ()`, `(name IN ())`},
		{`version BETWEEN 0 AND 2`, `(version BETWEEN 0 AND 2)`},
		{`v BETWEEN 0 AND 2 AND w`, `((v BETWEEN 0 AND 2) AND w)`},
		{`v NOT BETWEEN 1+1 AND 2*3`, `(v NOT BETWEEN (1 + 1) AND (2 * 3))`},
		{`a = 1 AND b IN (1) OR c LIKE 'x'`, `(((a = 1) AND (b IN (1))) OR (c LIKE 'x'))`},
		// CAST and functions
		{`CAST(version AS TEXT) = '1'`, `(CAST(version AS TEXT) = '1')`},
		{`cast(v as int)`, `CAST(v AS INT)`},
		{`abs(version) = 1`, `(abs(version) = 1)`},
		{`ABS(version)`, `abs(version)`},
		{`coalesce(a, b, 'c')`, `coalesce(a, b, 'c')`},
		{`json_extract(metadata, '$.a') = 'b'`, `(json_extract(metadata, '$.a') = 'b')`},
		{`max(1, 2)`, `max(1, 2)`},
		{`substr(name, 1, 4) = 'test'`, `(substr(name, 1, 4) = 'test')`},
		// `;` ends the expression outside quotes only
		{`name = 'test-label1'; DROP label`, `(name = 'test-label1')`},
		{`name = ';'`, `(name = ';')`},
		{`name = ";"; x`, `(name = ";")`},
		{"\tname\n=\r'x'  ", `(name = 'x')`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := e.String(); got != tt.want {
				t.Fatalf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
			}
			// The canonical form parses back to itself.
			again, err := Parse(e.String())
			if err != nil || again.String() != tt.want {
				t.Fatalf("round trip of %s: %v, %v", tt.want, again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{``, ErrSyntax},
		{`   `, ErrSyntax},
		{`; name = 'x'`, ErrSyntax},
		{`DROP label`, ErrSyntax},
		{`name IN (DROP label)`, ErrSyntax},
		{`SELECT * FROM users WHERE a = 1; DROP users`, ErrSyntax},
		{`a in (SELECT * FROM users)`, ErrSyntax},
		{`name IN (SELECT name FROM labels)`, ErrSyntax},
		{`a IN (1,2) ORDER BY id; DROP users`, ErrSyntax},
		{`EXISTS (SELECT 1)`, ErrSyntax},
		{`(SELECT 1) = 1`, ErrSyntax},
		{`name = 'x' UNION SELECT 1`, ErrSyntax},
		{`name = 'x' -- comment`, ErrSyntax},
		{`name = 'x' /* c */`, ErrSyntax},
		{`name = ?`, ErrSyntax},
		{`name = :x`, ErrSyntax},
		{`name = @x`, ErrSyntax},
		{`name = $x`, ErrSyntax},
		{"name = `x`", ErrSyntax},
		{`name = [x]`, ErrSyntax},
		{`l.name = 'x'`, ErrSyntax},
		{`name = 'x`, ErrSyntax},
		{`name = 'x; DROP label`, ErrSyntax},
		{`name = "x`, ErrSyntax},
		{`(name = 'x'`, ErrSyntax},
		{`name = 'x')`, ErrSyntax},
		{`abs(version`, ErrSyntax},
		{`name =`, ErrSyntax},
		{`= 1`, ErrSyntax},
		{`name 'x'`, ErrSyntax},
		{`a NOT b`, ErrSyntax},
		{`a NOT NULL`, ErrSyntax},
		{`a IN 'x'`, ErrSyntax},
		{`a IN (1,)`, ErrSyntax},
		{`a BETWEEN 1 OR 2`, ErrSyntax},
		{`a GLOB 'x' ESCAPE 'y'`, ErrSyntax},
		{`a | b`, ErrSyntax},
		{`a << 1`, ErrSyntax},
		{`a & 1`, ErrSyntax},
		{`~a`, ErrSyntax},
		{`a ! 1`, ErrSyntax},
		{`metadata -> '$.a'`, ErrSyntax},
		{`1x = 1`, ErrSyntax},
		{`1.2.3`, ErrSyntax},
		{`1e`, ErrSyntax},
		{`1e999 = 1`, ErrSyntax},
		{`x'00' = 1`, ErrSyntax},
		{`name COLLATE NOCASE = 'x'`, ErrSyntax},
		{`CAST(v AS BLOB)`, ErrSyntax},
		{`CAST(v)`, ErrSyntax},
		{`CAST v AS TEXT`, ErrSyntax},
		{`abs()`, ErrSyntax},
		{`abs(1, 2)`, ErrSyntax},
		{`max(1)`, ErrSyntax},
		{`replace('a', 'b')`, ErrSyntax},
		{`count(*)`, ErrUnknownFunction},
		{`load_extension('x')`, ErrUnknownFunction},
		{`randomblob(10) = 1`, ErrUnknownFunction},
		{`sqlite_version() = 1`, ErrUnknownFunction},
		{`like('a', 'b')`, ErrSyntax},
		{"name = '\xff'", ErrSyntax},
		{strings.Repeat("(", MaxDepth+1) + "1" + strings.Repeat(")", MaxDepth+1), ErrSyntax},
		{strings.Repeat("-", MaxDepth+1) + "1", ErrSyntax},
		{strings.Repeat("NOT ", MaxDepth+1) + "1", ErrSyntax},
		{strings.Repeat("abs(", MaxDepth+1) + "1" + strings.Repeat(")", MaxDepth+1), ErrSyntax},
		{"1" + strings.Repeat("+1", maxHeight), ErrSyntax},
		{"name = '" + strings.Repeat("x", MaxLength) + "'", ErrSyntax},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%q) = %v, %v; want error %v", tt.in, e, err, tt.want)
			}
		})
	}
}

func TestParseLimitsAccepted(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("(", MaxDepth-1) + "1" + strings.Repeat(")", MaxDepth-1),
		"1" + strings.Repeat("+1", maxHeight-2),
		"name = '" + strings.Repeat("x", MaxLength-10) + "'",
	} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%.40q...): %v", in, err)
		}
	}
}
