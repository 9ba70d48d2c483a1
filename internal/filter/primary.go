package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

func (p *parser) parsePrimary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tokString:
		p.pos++
		return &literal{value: t.value}, nil
	case tokInteger, tokFloat:
		p.pos++
		return numberLiteral(t)
	case tokQuoted:
		p.pos++
		return &column{name: t.value, quoted: true}, nil
	case tokOp:
		if !p.acceptOp("(") {
			return nil, p.unexpected()
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return e, nil
	case tokIdent:
		return p.parseWord()
	}
	return nil, p.unexpected()
}

// parseWord parses a primary that starts with a bare word: a keyword
// literal, NOT (as SQLite allows in operand position), CAST, a function call
// or a column name.
func (p *parser) parseWord() (Expr, error) {
	t := p.peek()
	word := strings.ToUpper(t.value)
	switch word {
	case "NULL":
		p.pos++
		return &literal{}, nil
	case "TRUE", "FALSE":
		p.pos++
		return &literal{value: word == "TRUE"}, nil
	case "NOT":
		return p.parseNot()
	case "CAST":
		return p.parseCast()
	}
	if u := p.toks[p.pos+1]; u.kind == tokOp && u.value == "(" && !reserved[word] {
		return p.parseCall()
	}
	if reserved[word] {
		return nil, p.unexpected()
	}
	p.pos++
	return &column{name: t.value}, nil
}

func (p *parser) parseCast() (Expr, error) {
	p.pos++ // CAST
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	x, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if !p.acceptKeyword("AS") {
		return nil, p.unexpected()
	}
	t := p.peek()
	typ := strings.ToUpper(t.value)
	if t.kind != tokIdent || !castTypes[typ] {
		return nil, fmt.Errorf("%w: unsupported CAST type %s at offset %d", ErrSyntax, t.describe(), t.pos)
	}
	p.pos++
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &cast{x: x, typ: typ}, nil
}

func (p *parser) parseCall() (Expr, error) {
	t := p.next()
	name := asciiLower(t.value)
	ar, ok := functions[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s at offset %d", ErrUnknownFunction, t.describe(), t.pos)
	}
	p.pos++ // (
	n := &call{fn: name}
	if !p.acceptOp(")") {
		for {
			if len(n.args) == ar.max {
				return nil, fmt.Errorf("%w: too many arguments to %s() (at most %d)", ErrSyntax, name, ar.max)
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, e)
			if p.acceptOp(")") {
				break
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
	}
	if len(n.args) < ar.min {
		return nil, fmt.Errorf("%w: too few arguments to %s() (at least %d)", ErrSyntax, name, ar.min)
	}
	return n, nil
}

// numberLiteral converts a number token. Integers too large for int64 become
// floats, as in SQLite; floats out of range are refused.
func numberLiteral(t token) (Expr, error) {
	if t.kind == tokInteger {
		v, err := strconv.ParseInt(t.value, 10, 64)
		if err == nil {
			return &literal{value: v}, nil
		}
		if !errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%w: malformed number %s at offset %d", ErrSyntax, t.describe(), t.pos)
		}
	}
	v, err := strconv.ParseFloat(t.value, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: number %s out of range at offset %d", ErrSyntax, t.describe(), t.pos)
	}
	return &literal{value: v}, nil
}
