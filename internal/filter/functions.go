package filter

// arity is the accepted number of arguments of a function.
type arity struct{ min, max int }

// maxArgs caps variadic functions well below SQLite's own limit on function
// arguments, so a compiled filter never fails to prepare for that reason.
const maxArgs = 100

// functions is the whitelist of side-effect-free scalar SQLite functions a
// filter may call, by lower-case name. The key is what reaches SQL.
var functions = map[string]arity{
	"abs":          {1, 1},
	"lower":        {1, 1},
	"upper":        {1, 1},
	"length":       {1, 1},
	"trim":         {1, 2},
	"ltrim":        {1, 2},
	"rtrim":        {1, 2},
	"substr":       {2, 3},
	"instr":        {2, 2},
	"replace":      {3, 3},
	"coalesce":     {2, maxArgs},
	"ifnull":       {2, 2},
	"round":        {1, 2},
	"min":          {2, maxArgs}, // with one argument it would be the aggregate
	"max":          {2, maxArgs},
	"json_extract": {2, maxArgs},
}

// castTypes are the type names accepted in CAST(x AS type), upper case; the
// key is what reaches SQL.
var castTypes = map[string]bool{
	"TEXT":    true,
	"INTEGER": true,
	"INT":     true,
	"REAL":    true,
	"NUMERIC": true,
}

// reserved words cannot be bare column names. They are the grammar's own
// keywords and the SQL words that only make sense outside one expression, so
// that e.g. `DROP label` is reported as a syntax error rather than an unknown
// column. (`when` is deliberately absent: it is a column of tasks.)
var reserved = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IS": true, "IN": true,
	"LIKE": true, "GLOB": true, "BETWEEN": true, "ESCAPE": true,
	"NULL": true, "TRUE": true, "FALSE": true, "CAST": true, "AS": true,
	"SELECT": true, "FROM": true, "WHERE": true, "WITH": true, "EXISTS": true,
	"VALUES": true, "UNION": true, "EXCEPT": true, "INTERSECT": true,
	"ORDER": true, "BY": true, "GROUP": true, "HAVING": true, "LIMIT": true,
	"OFFSET": true, "COLLATE": true, "DISTINCT": true, "ALL": true,
	"INSERT": true, "UPDATE": true, "DELETE": true, "DROP": true,
	"CREATE": true, "ALTER": true, "ATTACH": true, "DETACH": true,
	"PRAGMA": true, "VACUUM": true, "REINDEX": true, "ANALYZE": true,
	"BEGIN": true, "COMMIT": true, "ROLLBACK": true, "SAVEPOINT": true,
	"RELEASE": true, "EXPLAIN": true,
}

// subqueryStart are the words that would open a sub-query.
var subqueryStart = map[string]bool{"SELECT": true, "WITH": true, "VALUES": true, "EXISTS": true}
