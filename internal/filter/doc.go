// Package filter implements the REST API's `filter` query parameter: a small,
// SQLite-flavoured boolean expression language that is parsed into an AST and
// compiled to parameterised SQL.
//
// Security rule: user text never reaches SQL. The compiled SQL is built only
// from
//   - column expressions chosen by the caller (the Columns whitelist),
//   - `?` placeholders, one per literal, whose values travel as arguments,
//   - operators, keywords, CAST type names and function names taken from
//     fixed tables inside this package.
//
// Nothing else is emitted: identifiers that are not whitelisted columns are an
// error (or, when double-quoted, a string literal bound as an argument, as
// SQLite does with `name="foo"`), unknown functions are an error, and any
// token the grammar does not expect (sub-queries, statement keywords,
// comments, parameter markers) is a syntax error. Only the text before the
// first top-level `;` is considered; that text must be exactly one
// expression. Input length and nesting depth are bounded so that a request
// can neither exhaust the stack nor take long to parse, and so that the
// compiled expression stays within SQLite's own expression depth limit.
//
// Concrete AST node types are unexported on purpose: every Expr comes from
// Parse, so Compile can rely on operators, functions and types having been
// checked against the whitelists.
package filter
