package filter

import "errors"

// Limits applied by Parse. They keep parsing cheap and bounded for any input.
const (
	// MaxLength is the longest filter accepted, in bytes (the whole input,
	// including any ignored text after `;`).
	MaxLength = 4096
	// MaxDepth is the deepest nesting of parentheses, prefix operators,
	// function calls and lists accepted.
	MaxDepth = 100
	// maxHeight bounds the height of the AST (long operator chains such as
	// `a=1 OR a=2 OR ...` are not nested in the text but are in the tree). It
	// stays far below SQLite's default expression depth limit of 1000.
	maxHeight = 250
)

// Sentinel errors. Errors returned by this package wrap one of them together
// with a detail (position, offending token, column or function name).
var (
	ErrSyntax          = errors.New("filter syntax error")
	ErrUnknownColumn   = errors.New("unknown filter column")
	ErrUnknownFunction = errors.New("unknown filter function")
)

// Columns maps a filter column name (lower case, as clients write it;
// matching is case-insensitive) to the SQL column expression to emit (already
// safe, chosen by the caller, e.g. `"name"` or `l.version`). A mapped
// expression is emitted verbatim, so anything more complex than a (qualified)
// column name must carry its own parentheses.
type Columns map[string]string

// lookup finds the SQL expression for a column name, ignoring ASCII case as
// SQLite does for identifiers.
func (c Columns) lookup(name string) (string, bool) {
	if sql, ok := c[asciiLower(name)]; ok {
		return sql, true
	}
	for k, sql := range c {
		if asciiEqualFold(k, name) {
			return sql, true
		}
	}
	return "", false
}

// Where parses filter and compiles it over cols: Parse followed by Compile.
// On error the caller answers an empty list and logs a warning.
func Where(filter string, cols Columns) (sql string, args []any, err error) {
	e, err := Parse(filter)
	if err != nil {
		return "", nil, err
	}
	return Compile(e, cols)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// asciiEqualFold reports whether a and b are equal ignoring ASCII case only
// (SQLite identifiers fold ASCII letters, nothing else).
func asciiEqualFold(a, b string) bool {
	return len(a) == len(b) && asciiLower(a) == asciiLower(b)
}
