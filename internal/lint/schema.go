package lint

import (
	"maps"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// schema is what the migrations so far have built, as far as the rules need it: tables with their
// columns' types and NOT NULL checks, and the functions they created with their volatility. It is
// a model, not a catalog: what it does not know (a table created in a DO block), the rules treat
// as existing and unknown.
type schema struct {
	tables  map[string]*table
	funcs   map[string]string // function name → "immutable", "stable" or "volatile"
	indexes map[string]string // index key → its table's key
}

type table struct {
	owner       *schema // the schema that may change it; another one copies it first
	partitioned bool
	columns     map[string]*column
	checks      map[string]notNullCheck // CHECK (col IS NOT NULL) constraints by name
}

type column struct {
	typ     *pg_query.TypeName // nil when unknown
	notNull bool
}

// notNullCheck is a CHECK (column IS NOT NULL) constraint: once valid, SET NOT NULL on its column
// skips the table scan (PostgreSQL 12+).
type notNullCheck struct {
	column string
	valid  bool
}

func newSchema() *schema {
	return &schema{tables: map[string]*table{}, funcs: map[string]string{}, indexes: map[string]string{}}
}

func newTable() *table {
	return &table{columns: map[string]*column{}, checks: map[string]notNullCheck{}}
}

// clone returns a schema a down file may change without changing s. Tables are copied on first
// write (table), not here: a down touches a few tables of a history that may hold hundreds, and
// s does not change while the clone is in use (the down is checked before the next up).
func (s *schema) clone() *schema {
	return &schema{tables: maps.Clone(s.tables), funcs: maps.Clone(s.funcs), indexes: maps.Clone(s.indexes)}
}

// table returns the model of a table for changing it, creating an empty one for a table it has
// not seen, and copying one that another schema shares.
func (s *schema) table(key string) *table {
	t := s.tables[key]
	switch {
	case t == nil:
		t = newTable()
	case t.owner != s:
		c := &table{partitioned: t.partitioned, columns: make(map[string]*column, len(t.columns)), checks: maps.Clone(t.checks)}
		for cn, col := range t.columns {
			cc := *col
			c.columns[cn] = &cc
		}
		t = c
	default:
		return t
	}
	t.owner = s
	s.tables[key] = t
	return t
}

func (t *table) column(name string) *column {
	c := t.columns[name]
	if c == nil {
		c = &column{}
		t.columns[name] = c
	}
	return c
}

// relKey names a table the same way however it is written: public is the default schema.
func relKey(rv *pg_query.RangeVar) string {
	return qualifiedKey(rv.Schemaname, rv.Relname)
}

func qualifiedKey(schemaName, name string) string {
	if schemaName == "" || schemaName == "public" {
		return name
	}
	return schemaName + "." + name
}

// relName is a table's name as the migration wrote it, for messages.
func relName(rv *pg_query.RangeVar) string {
	if rv.Schemaname != "" {
		return rv.Schemaname + "." + rv.Relname
	}
	return rv.Relname
}

// nameList reads a qualified name the parser gives as a list of strings ([schema,] name).
func nameList(nodes []*pg_query.Node) (schemaName, name string) {
	var parts []string
	for _, n := range nodes {
		if s := n.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		}
	}
	switch len(parts) {
	case 0:
		return "", ""
	case 1:
		return "", parts[0]
	default:
		return parts[len(parts)-2], parts[len(parts)-1]
	}
}

func displayName(schemaName, name string) string {
	if schemaName == "" {
		return name
	}
	return schemaName + "." + name
}

// notNullColumn returns the column of a CHECK (col IS NOT NULL) expression, or "".
func notNullColumn(expr *pg_query.Node) string {
	nt := expr.GetNullTest()
	if nt == nil || nt.Nulltesttype != pg_query.NullTestType_IS_NOT_NULL {
		return ""
	}
	ref := nt.Arg.GetColumnRef()
	if ref == nil || len(ref.Fields) != 1 {
		return ""
	}
	if s := ref.Fields[0].GetString_(); s != nil {
		return s.Sval
	}
	return ""
}

// checkName is the name PostgreSQL gives an unnamed CHECK constraint on one column (before
// truncation to 63 bytes and de-duplication, which are rare enough to ignore here).
func checkName(tableName, columnName string) string {
	return strings.Join([]string{tableName, columnName, "check"}, "_")
}
