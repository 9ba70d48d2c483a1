package filter

import (
	"fmt"
	"strings"
)

type tokenKind int

const (
	tokEOF     tokenKind = iota // end of input, or the first top-level `;`
	tokIdent                    // bare word: a keyword, column or function name
	tokQuoted                   // "double-quoted" identifier (value unescaped)
	tokString                   // 'single-quoted' string (value unescaped)
	tokInteger                  // decimal integer
	tokFloat                    // decimal number with a fraction or exponent
	tokOp                       // operator or punctuation (value is its spelling)
)

type token struct {
	kind  tokenKind
	value string // unescaped value (identifier, string, number or operator)
	raw   string // the text as written, for error messages
	pos   int    // byte offset in the input
}

// describe renders a token for an error message, which the API logs as a
// warning: shortened so that a long token cannot flood the log, and without
// the contents of quoted text, which may be a value a client keeps secret.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokString:
		return "quoted text '...'"
	case tokQuoted:
		return `quoted text "..."`
	}
	const maxLen = 24
	raw := t.raw
	if len(raw) > maxLen {
		raw = raw[:maxLen] + "..."
	}
	return fmt.Sprintf("%q", raw)
}

// lex splits s into tokens up to the end of input or the first `;` outside
// quotes, whichever comes first. The last token is always tokEOF.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) || s[i] == ';' {
			return append(toks, token{kind: tokEOF, pos: i}), nil
		}
		t, err := lexOne(s, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i = t.pos + len(t.raw)
	}
}

// lexOne reads the token starting at s[i], which is not a space.
func lexOne(s string, i int) (token, error) {
	c := s[i]
	switch {
	case c == '\'' || c == '"':
		val, end, ok := lexQuoted(s, i)
		if !ok {
			return token{}, fmt.Errorf("%w: unterminated quoted text at offset %d", ErrSyntax, i)
		}
		kind := tokString
		if c == '"' {
			kind = tokQuoted
		}
		return token{kind: kind, value: val, raw: s[i:end], pos: i}, nil
	case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
		return lexNumber(s, i)
	case isIdentStart(c):
		j := i + 1
		for j < len(s) && isIdentPart(s[j]) {
			j++
		}
		return token{kind: tokIdent, value: s[i:j], raw: s[i:j], pos: i}, nil
	}
	op, err := lexOperator(s, i)
	if err != nil {
		return token{}, err
	}
	return token{kind: tokOp, value: op, raw: op, pos: i}, nil
}

// lexQuoted reads text quoted with s[start] (a doubled quote stands for one)
// and returns the unescaped value and the offset just past the closing quote.
func lexQuoted(s string, start int) (string, int, bool) {
	q := s[start]
	var b strings.Builder
	i := start + 1
	for {
		j := strings.IndexByte(s[i:], q)
		if j < 0 {
			return "", 0, false
		}
		b.WriteString(s[i : i+j])
		i += j + 1
		if i < len(s) && s[i] == q {
			b.WriteByte(q)
			i++
			continue
		}
		return b.String(), i, true
	}
}

// lexNumber reads digits [. digits] [e [+-] digits], or . digits [...].
func lexNumber(s string, i int) (token, error) {
	j := i
	digits := func() {
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	kind := tokInteger
	digits()
	if j < len(s) && s[j] == '.' {
		kind = tokFloat
		j++
		digits()
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k >= len(s) || !isDigit(s[k]) {
			return token{}, fmt.Errorf("%w: malformed number at offset %d", ErrSyntax, i)
		}
		kind = tokFloat
		j = k
		digits()
	}
	if j < len(s) && (isIdentPart(s[j]) || s[j] == '.') {
		return token{}, fmt.Errorf("%w: malformed number at offset %d", ErrSyntax, i)
	}
	return token{kind: kind, value: s[i:j], raw: s[i:j], pos: i}, nil
}

// lexOperator reads an operator or punctuation token. Comments, parameter
// markers and operators outside the grammar are refused here.
func lexOperator(s string, i int) (string, error) {
	next := byte(0)
	if i+1 < len(s) {
		next = s[i+1]
	}
	switch c := s[i]; c {
	case '(', ')', ',', '+', '*', '%':
		return string(c), nil
	case '-':
		if next == '-' {
			return "", fmt.Errorf("%w: comments are not allowed (offset %d)", ErrSyntax, i)
		}
		if next == '>' {
			return "", fmt.Errorf("%w: operator -> is not supported (offset %d)", ErrSyntax, i)
		}
		return "-", nil
	case '/':
		if next == '*' {
			return "", fmt.Errorf("%w: comments are not allowed (offset %d)", ErrSyntax, i)
		}
		return "/", nil
	case '|':
		if next == '|' {
			return "||", nil
		}
	case '=':
		if next == '=' {
			return "==", nil
		}
		return "=", nil
	case '!':
		if next == '=' {
			return "!=", nil
		}
	case '<':
		switch next {
		case '=':
			return "<=", nil
		case '>':
			return "<>", nil
		case '<':
		default:
			return "<", nil
		}
	case '>':
		switch next {
		case '=':
			return ">=", nil
		case '>':
		default:
			return ">", nil
		}
	}
	return "", fmt.Errorf("%w: unexpected character %q at offset %d", ErrSyntax, rune(s[i]), i)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }
