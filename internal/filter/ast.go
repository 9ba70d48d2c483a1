package filter

import (
	"strconv"
	"strings"
)

// Expr is a parsed filter expression. Its String method renders it
// canonically (fully parenthesised, literals inline) for logs and tests; that
// text is never used as SQL. Only Parse creates Exprs.
type Expr interface {
	String() string
	exprNode()
}

type binaryOp int

const (
	opOr binaryOp = iota
	opAnd
	opEq
	opNe
	opIs
	opIsNot
	opLt
	opLe
	opGt
	opGe
	opAdd
	opSub
	opMul
	opDiv
	opMod
	opConcat
)

// binaryText is the canonical spelling of each binary operator, used both for
// String and for the SQL.
var binaryText = [...]string{
	opOr: "OR", opAnd: "AND",
	opEq: "=", opNe: "!=", opIs: "IS", opIsNot: "IS NOT",
	opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opAdd: "+", opSub: "-", opMul: "*", opDiv: "/", opMod: "%",
	opConcat: "||",
}

type unaryOp int

const (
	opNeg unaryOp = iota
	opPlus
	opNot
)

var unaryText = [...]string{opNeg: "-", opPlus: "+", opNot: "NOT"}

// literal is a constant: nil (NULL), string, int64, float64 or bool.
type literal struct{ value any }

// column is an identifier. A quoted one that is not a column is a string.
type column struct {
	name   string
	quoted bool
}

type unary struct {
	op unaryOp
	x  Expr
}

type binary struct {
	op   binaryOp
	l, r Expr
}

// like is `x [NOT] LIKE pattern [ESCAPE escape]` or `x [NOT] GLOB pattern`.
type like struct {
	glob, not          bool
	x, pattern, escape Expr // escape is nil when absent
}

type in struct {
	not  bool
	x    Expr
	list []Expr
}

type between struct {
	not       bool
	x, lo, hi Expr
}

// cast is CAST(x AS typ); typ is the canonical name from castTypes.
type cast struct {
	x   Expr
	typ string
}

// call is a function call; fn is the canonical name from the functions table.
type call struct {
	fn   string
	args []Expr
}

func (*literal) exprNode() {}
func (*column) exprNode()  {}
func (*unary) exprNode()   {}
func (*binary) exprNode()  {}
func (*like) exprNode()    {}
func (*in) exprNode()      {}
func (*between) exprNode() {}
func (*cast) exprNode()    {}
func (*call) exprNode()    {}

func (n *literal) String() string {
	switch v := n.value.(type) {
	case nil:
		return "NULL"
	case bool:
		if v {
			return "TRUE"
		}
		return "FALSE"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0" // keep it a float when parsed again
		}
		return s
	case string:
		return quote(v, '\'')
	}
	return "?"
}

func (n *column) String() string {
	if n.quoted {
		return quote(n.name, '"')
	}
	return n.name
}

func (n *unary) String() string {
	return "(" + unaryText[n.op] + " " + n.x.String() + ")"
}

func (n *binary) String() string {
	return "(" + n.l.String() + " " + binaryText[n.op] + " " + n.r.String() + ")"
}

func (n *like) String() string {
	var b strings.Builder
	b.WriteString("(" + n.x.String() + not(n.not) + likeWord(n.glob) + " " + n.pattern.String())
	if n.escape != nil {
		b.WriteString(" ESCAPE " + n.escape.String())
	}
	b.WriteString(")")
	return b.String()
}

func (n *in) String() string {
	return "(" + n.x.String() + not(n.not) + "IN (" + joinExprs(n.list) + "))"
}

func (n *between) String() string {
	return "(" + n.x.String() + not(n.not) + "BETWEEN " + n.lo.String() + " AND " + n.hi.String() + ")"
}

func (n *cast) String() string {
	return "CAST(" + n.x.String() + " AS " + n.typ + ")"
}

func (n *call) String() string {
	return n.fn + "(" + joinExprs(n.args) + ")"
}

func joinExprs(list []Expr) string {
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// not returns the keyword gap between an operand and LIKE/GLOB/IN/BETWEEN.
func not(negated bool) string {
	if negated {
		return " NOT "
	}
	return " "
}

func likeWord(glob bool) string {
	if glob {
		return "GLOB"
	}
	return "LIKE"
}

// quote wraps s in q, doubling any q inside.
func quote(s string, q byte) string {
	qs := string(q)
	return qs + strings.ReplaceAll(s, qs, qs+qs) + qs
}

// height is the height of the tree rooted at e (a leaf has height 1).
func height(e Expr) int {
	h := 0
	for _, c := range children(e) {
		h = max(h, height(c))
	}
	return h + 1
}

func children(e Expr) []Expr {
	switch n := e.(type) {
	case *unary:
		return []Expr{n.x}
	case *binary:
		return []Expr{n.l, n.r}
	case *like:
		if n.escape != nil {
			return []Expr{n.x, n.pattern, n.escape}
		}
		return []Expr{n.x, n.pattern}
	case *in:
		return append([]Expr{n.x}, n.list...)
	case *between:
		return []Expr{n.x, n.lo, n.hi}
	case *cast:
		return []Expr{n.x}
	case *call:
		return n.args
	}
	return nil
}
