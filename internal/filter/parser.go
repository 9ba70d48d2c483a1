package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// limits bound the work Parse does; tests may lift them.
type limits struct {
	length, depth, height int
}

var defaultLimits = limits{length: MaxLength, depth: MaxDepth, height: maxHeight}

// Parse parses one expression. Text after the first top-level `;` (outside
// quotes) is ignored. Anything before it that is not exactly one complete
// expression is an error wrapping ErrSyntax (or ErrUnknownFunction).
func Parse(s string) (Expr, error) {
	return parse(s, defaultLimits)
}

func parse(s string, lim limits) (Expr, error) {
	if len(s) > lim.length {
		return nil, fmt.Errorf("%w: filter longer than %d bytes", ErrSyntax, lim.length)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: filter is not valid UTF-8", ErrSyntax)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tokEOF {
		return nil, fmt.Errorf("%w: empty filter", ErrSyntax)
	}
	p := &parser{toks: toks, maxDepth: lim.depth}
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tokEOF {
		return nil, p.unexpected()
	}
	if h := height(e); h > lim.height {
		return nil, fmt.Errorf("%w: expression too complex (%d levels, at most %d)", ErrSyntax, h, lim.height)
	}
	return e, nil
}

// parser is a recursive-descent parser, one method per precedence level,
// loosest first: OR, AND, NOT, equality-like (= != IS IN LIKE GLOB BETWEEN),
// relational (< <= > >=), additive, multiplicative, concatenation, unary.
// This is SQLite's order.
type parser struct {
	toks     []token
	pos      int
	depth    int
	maxDepth int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func isKeyword(t token, kw string) bool {
	return t.kind == tokIdent && strings.EqualFold(t.value, kw)
}

func (p *parser) acceptKeyword(kw string) bool {
	if isKeyword(p.peek(), kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if t := p.peek(); t.kind == tokOp && t.value == op {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.unexpected()
	}
	return nil
}

func (p *parser) unexpected() error {
	t := p.peek()
	if t.kind == tokIdent && subqueryStart[strings.ToUpper(t.value)] {
		return fmt.Errorf("%w: sub-queries are not allowed (%s at offset %d)", ErrSyntax, t.describe(), t.pos)
	}
	return fmt.Errorf("%w: unexpected %s at offset %d", ErrSyntax, t.describe(), t.pos)
}

// enter counts one level of nesting; every recursion of the parser that is
// not bounded by the fixed number of precedence levels goes through it.
func (p *parser) enter() error {
	p.depth++
	if p.depth > p.maxDepth {
		return fmt.Errorf("%w: expression nested deeper than %d at offset %d", ErrSyntax, p.maxDepth, p.peek().pos)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseExpr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.parseOr()
}

// parseLeftAssoc parses `operand {op operand}` for the operators in ops.
func (p *parser) parseLeftAssoc(operand func() (Expr, error), ops func(token) (binaryOp, bool)) (Expr, error) {
	l, err := operand()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := ops(p.peek())
		if !ok {
			return l, nil
		}
		p.pos++
		r, err := operand()
		if err != nil {
			return nil, err
		}
		l = &binary{op: op, l: l, r: r}
	}
}

func (p *parser) parseOr() (Expr, error) {
	return p.parseLeftAssoc(p.parseAnd, func(t token) (binaryOp, bool) { return opOr, isKeyword(t, "OR") })
}

func (p *parser) parseAnd() (Expr, error) {
	return p.parseLeftAssoc(p.parseNot, func(t token) (binaryOp, bool) { return opAnd, isKeyword(t, "AND") })
}

func (p *parser) parseNot() (Expr, error) {
	if !p.acceptKeyword("NOT") {
		return p.parseEquality()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	return &unary{op: opNot, x: x}, nil
}

var equalityOps = map[string]binaryOp{"=": opEq, "==": opEq, "!=": opNe, "<>": opNe}

// parseEquality parses the loosest comparison level: = == != <> IS [NOT],
// [NOT] LIKE, [NOT] GLOB, [NOT] IN and [NOT] BETWEEN, left-associative.
func (p *parser) parseEquality() (Expr, error) {
	l, err := p.parseRelational()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if op, ok := equalityOps[t.value]; ok && t.kind == tokOp {
			p.pos++
			r, err := p.parseRelational()
			if err != nil {
				return nil, err
			}
			l = &binary{op: op, l: l, r: r}
			continue
		}
		if isKeyword(t, "IS") {
			p.pos++
			op := opIs
			if p.acceptKeyword("NOT") {
				op = opIsNot
			}
			r, err := p.parseRelational()
			if err != nil {
				return nil, err
			}
			l = &binary{op: op, l: l, r: r}
			continue
		}
		negated := false
		if isKeyword(t, "NOT") {
			// Only NOT LIKE/GLOB/IN/BETWEEN continue an operand; any other NOT
			// here is left for the caller to report.
			switch u := p.toks[p.pos+1]; {
			case isKeyword(u, "LIKE"), isKeyword(u, "GLOB"), isKeyword(u, "IN"), isKeyword(u, "BETWEEN"):
				p.pos++
				negated = true
			default:
				return l, nil
			}
		}
		switch {
		case p.acceptKeyword("LIKE"):
			l, err = p.parseLike(l, negated, false)
		case p.acceptKeyword("GLOB"):
			l, err = p.parseLike(l, negated, true)
		case p.acceptKeyword("IN"):
			l, err = p.parseIn(l, negated)
		case p.acceptKeyword("BETWEEN"):
			l, err = p.parseBetween(l, negated)
		default:
			return l, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseLike(x Expr, negated, glob bool) (Expr, error) {
	pattern, err := p.parseRelational()
	if err != nil {
		return nil, err
	}
	n := &like{glob: glob, not: negated, x: x, pattern: pattern}
	if isKeyword(p.peek(), "ESCAPE") {
		if glob {
			return nil, fmt.Errorf("%w: ESCAPE is only allowed with LIKE (offset %d)", ErrSyntax, p.peek().pos)
		}
		p.pos++
		if n.escape, err = p.parseRelational(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (p *parser) parseIn(x Expr, negated bool) (Expr, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	n := &in{not: negated, x: x}
	if p.acceptOp(")") {
		return n, nil // SQLite accepts an empty list: IN is false, NOT IN true
	}
	for {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		n.list = append(n.list, e)
		if p.acceptOp(")") {
			return n, nil
		}
		if err := p.expectOp(","); err != nil {
			return nil, err
		}
	}
}

func (p *parser) parseBetween(x Expr, negated bool) (Expr, error) {
	lo, err := p.parseRelational()
	if err != nil {
		return nil, err
	}
	if !p.acceptKeyword("AND") {
		return nil, p.unexpected()
	}
	hi, err := p.parseRelational()
	if err != nil {
		return nil, err
	}
	return &between{not: negated, x: x, lo: lo, hi: hi}, nil
}

var (
	relationalOps     = map[string]binaryOp{"<": opLt, "<=": opLe, ">": opGt, ">=": opGe}
	additiveOps       = map[string]binaryOp{"+": opAdd, "-": opSub}
	multiplicativeOps = map[string]binaryOp{"*": opMul, "/": opDiv, "%": opMod}
	concatOps         = map[string]binaryOp{"||": opConcat}
)

func opsIn(table map[string]binaryOp) func(token) (binaryOp, bool) {
	return func(t token) (binaryOp, bool) {
		op, ok := table[t.value]
		return op, ok && t.kind == tokOp
	}
}

func (p *parser) parseRelational() (Expr, error) {
	return p.parseLeftAssoc(p.parseAdditive, opsIn(relationalOps))
}

func (p *parser) parseAdditive() (Expr, error) {
	return p.parseLeftAssoc(p.parseMultiplicative, opsIn(additiveOps))
}

func (p *parser) parseMultiplicative() (Expr, error) {
	return p.parseLeftAssoc(p.parseConcat, opsIn(multiplicativeOps))
}

func (p *parser) parseConcat() (Expr, error) {
	return p.parseLeftAssoc(p.parseUnary, opsIn(concatOps))
}

func (p *parser) parseUnary() (Expr, error) {
	var op unaryOp
	switch {
	case p.acceptOp("-"):
		op = opNeg
	case p.acceptOp("+"):
		op = opPlus
	default:
		return p.parsePrimary()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return &unary{op: op, x: x}, nil
}
