package filter

import (
	"fmt"
	"strings"
)

// Compile renders e as an SQL boolean expression using cols. Every node is
// parenthesised, so SQLite's precedence cannot regroup it; every literal is a
// `?` whose value is appended to args (string, int64, float64, nil for NULL,
// booleans as int64 1/0). A bare name that is not in cols is an error
// wrapping ErrUnknownColumn; a double-quoted one is a string literal, as in
// SQLite (`name="foo"` means `name='foo'`).
func Compile(e Expr, cols Columns) (sql string, args []any, err error) {
	c := &compiler{cols: cols}
	if err := c.expr(e); err != nil {
		return "", nil, err
	}
	return c.sb.String(), c.args, nil
}

type compiler struct {
	cols Columns
	sb   strings.Builder
	args []any
}

func (c *compiler) write(parts ...string) {
	for _, s := range parts {
		c.sb.WriteString(s)
	}
}

func (c *compiler) arg(v any) {
	if b, ok := v.(bool); ok {
		v = int64(0)
		if b {
			v = int64(1)
		}
	}
	c.args = append(c.args, v)
	c.sb.WriteByte('?')
}

// expr emits e. Only text from this package's tables and the caller's column
// expressions is written; everything the user wrote goes through arg.
func (c *compiler) expr(e Expr) error {
	switch n := e.(type) {
	case *literal:
		switch n.value.(type) {
		case nil, bool, int64, float64, string:
			c.arg(n.value)
			return nil
		}
	case *column:
		if sql, ok := c.cols.lookup(n.name); ok {
			c.write(sql)
			return nil
		}
		if n.quoted {
			c.arg(n.name)
			return nil
		}
		return fmt.Errorf("%w: %q", ErrUnknownColumn, n.name)
	case *unary:
		if n.op < 0 || int(n.op) >= len(unaryText) {
			break
		}
		c.write("(", unaryText[n.op], " ")
		if err := c.expr(n.x); err != nil {
			return err
		}
		c.write(")")
		return nil
	case *binary:
		if n.op < 0 || int(n.op) >= len(binaryText) {
			break
		}
		return c.seq("(", n.l, " "+binaryText[n.op]+" ", n.r, ")")
	case *like:
		if n.escape != nil && !n.glob {
			return c.seq("(", n.x, not(n.not)+"LIKE ", n.pattern, " ESCAPE ", n.escape, ")")
		}
		return c.seq("(", n.x, not(n.not)+likeWord(n.glob)+" ", n.pattern, ")")
	case *in:
		c.write("(")
		if err := c.expr(n.x); err != nil {
			return err
		}
		c.write(not(n.not), "IN (")
		if err := c.list(n.list); err != nil {
			return err
		}
		c.write("))")
		return nil
	case *between:
		return c.seq("(", n.x, not(n.not)+"BETWEEN ", n.lo, " AND ", n.hi, ")")
	case *cast:
		if !castTypes[n.typ] {
			break
		}
		return c.seq("CAST(", n.x, " AS "+n.typ+")")
	case *call:
		if _, ok := functions[n.fn]; !ok {
			return fmt.Errorf("%w: %q", ErrUnknownFunction, n.fn)
		}
		c.write(n.fn, "(")
		if err := c.list(n.args); err != nil {
			return err
		}
		c.write(")")
		return nil
	}
	// Unreachable for Exprs made by Parse; refuse rather than guess.
	return fmt.Errorf("%w: unsupported expression %T", ErrSyntax, e)
}

// seq emits a sequence of fixed strings and sub-expressions.
func (c *compiler) seq(parts ...any) error {
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			c.write(v)
		case Expr:
			if err := c.expr(v); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: missing operand", ErrSyntax)
		}
	}
	return nil
}

func (c *compiler) list(list []Expr) error {
	for i, e := range list {
		if i > 0 {
			c.write(", ")
		}
		if err := c.expr(e); err != nil {
			return err
		}
	}
	return nil
}
