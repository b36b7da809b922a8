package lint

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checker walks one file's statements in order, reporting findings and keeping the schema model up
// to date as it goes, so that a table counts as new from its CREATE TABLE on.
type checker struct {
	f       *file
	s       *schema
	created map[string]bool // tables this file created (so far): not existing, hence safe
	enums   map[string]bool // enum types this file created
}

// check lints f against s, and leaves in s the schema after f.
func check(f *file, s *schema) {
	if !f.parsed {
		return
	}
	c := &checker{f: f, s: s, created: map[string]bool{}, enums: map[string]bool{}}
	if f.noTx && len(f.stmts) > 1 {
		f.report(f.stmtStart(f.stmts[1]), ruleConcurrentlyInTx, "%s is marked %s and has %d statements: it runs as one query, which PostgreSQL runs as an implicit transaction and in which it refuses CONCURRENTLY; put one statement in each no-transaction file", f.name, noTxMarker, len(f.stmts))
	}
	for _, raw := range f.stmts {
		c.statement(raw)
	}
}

// existing reports whether a table may hold rows when the file runs: every table the file did not
// create itself.
func (c *checker) existing(key string) bool { return !c.created[key] }

func (c *checker) statement(raw *pg_query.RawStmt) {
	at := c.f.stmtStart(raw)
	switch n := raw.Stmt.Node.(type) {
	case *pg_query.Node_CreateStmt:
		c.createTable(n.CreateStmt)
	case *pg_query.Node_CreateTableAsStmt:
		if n.CreateTableAsStmt.Into != nil && n.CreateTableAsStmt.Into.Rel != nil {
			key := relKey(n.CreateTableAsStmt.Into.Rel)
			c.created[key] = true
			c.s.tables[key] = newTable()
		}
	case *pg_query.Node_IndexStmt:
		c.createIndex(n.IndexStmt, at)
	case *pg_query.Node_DropStmt:
		c.drop(n.DropStmt, at)
	case *pg_query.Node_AlterTableStmt:
		if n.AlterTableStmt.Objtype == pg_query.ObjectType_OBJECT_TABLE {
			c.alterTable(raw, n.AlterTableStmt, at)
		}
	case *pg_query.Node_RenameStmt:
		c.rename(n.RenameStmt)
	case *pg_query.Node_ReindexStmt:
		if isConcurrent(n.ReindexStmt.Params) {
			c.concurrently(at, "REINDEX CONCURRENTLY")
		}
	case *pg_query.Node_CreateEnumStmt:
		c.enums[qualifiedKey(nameList(n.CreateEnumStmt.TypeName))] = true
	case *pg_query.Node_AlterEnumStmt:
		c.alterEnum(n.AlterEnumStmt, at)
	case *pg_query.Node_CreateFunctionStmt:
		_, name := nameList(n.CreateFunctionStmt.Funcname)
		c.s.funcs[name] = volatility(n.CreateFunctionStmt.Options)
	case *pg_query.Node_TransactionStmt:
		c.transaction(n.TransactionStmt, at)
	}
}

func (c *checker) createTable(cs *pg_query.CreateStmt) {
	key := relKey(cs.Relation)
	if _, exists := c.s.tables[key]; exists && cs.IfNotExists {
		return // a no-op on the existing table
	}
	c.created[key] = true
	t := newTable()
	t.partitioned = cs.Partspec != nil
	c.s.tables[key] = t
	for _, elt := range cs.TableElts {
		if cd := elt.GetColumnDef(); cd != nil {
			col := t.column(cd.Colname)
			col.typ, col.notNull = cd.TypeName, isNotNull(cd)
		}
	}
	for _, n := range cs.Constraints {
		c.recordCheck(cs.Relation.Relname, t, n.GetConstraint())
	}
}

func (c *checker) createIndex(is *pg_query.IndexStmt, at int) {
	if is.Concurrent {
		c.concurrently(at, "CREATE INDEX CONCURRENTLY")
		return
	}
	key := relKey(is.Relation)
	if !c.existing(key) {
		return
	}
	kind := "CREATE INDEX"
	if is.Unique {
		kind = "CREATE UNIQUE INDEX"
	}
	if t := c.s.tables[key]; t != nil && t.partitioned {
		if !is.Relation.Inh {
			return // ON ONLY a partitioned table: an invalid index on the parent alone, instant
		}
		c.f.report(at, ruleNotConcurrently, "%s on existing partitioned table %s blocks writes to every partition until all are indexed, and CONCURRENTLY does not work on a partitioned table; create it ON ONLY %s, then CONCURRENTLY on each partition (no-transaction files), then ALTER INDEX ... ATTACH PARTITION each", kind, relName(is.Relation), relName(is.Relation))
		return
	}
	c.f.report(at, ruleNotConcurrently, "%s on existing table %s without CONCURRENTLY blocks writes to it until the index is built; use %s CONCURRENTLY, alone in a file marked %s", kind, relName(is.Relation), kind, noTxMarker)
}

// concurrently reports a CONCURRENTLY operation in a file that runs in a transaction.
func (c *checker) concurrently(at int, what string) {
	if c.f.noTx {
		return
	}
	c.f.report(at, ruleConcurrentlyInTx, "%s cannot run inside a transaction, and this file runs in one: PostgreSQL refuses it and the migration fails; move it alone to a file whose first line is %s", what, noTxMarker)
}

func (c *checker) drop(ds *pg_query.DropStmt, at int) {
	switch ds.RemoveType {
	case pg_query.ObjectType_OBJECT_TABLE:
		for _, obj := range ds.Objects {
			schemaName, name := nameList(obj.GetList().GetItems())
			key := qualifiedKey(schemaName, name)
			if c.f.up && c.existing(key) {
				c.f.report(at, ruleDropInUp, "DROP TABLE %s in an up migration: its data is gone on deploy, and the release still running may read it; drop it in a later release, once no code uses it", displayName(schemaName, name))
			}
			delete(c.s.tables, key)
			delete(c.created, key)
		}
	case pg_query.ObjectType_OBJECT_INDEX:
		if ds.Concurrent {
			c.concurrently(at, "DROP INDEX CONCURRENTLY")
		}
	case pg_query.ObjectType_OBJECT_FUNCTION:
		for _, obj := range ds.Objects {
			if owa := obj.GetObjectWithArgs(); owa != nil {
				_, name := nameList(owa.Objname)
				delete(c.s.funcs, name)
			}
		}
	}
}

func (c *checker) rename(rs *pg_query.RenameStmt) {
	if rs.Relation == nil {
		return
	}
	key := relKey(rs.Relation)
	switch rs.RenameType {
	case pg_query.ObjectType_OBJECT_TABLE:
		newKey := qualifiedKey(rs.Relation.Schemaname, rs.Newname)
		c.s.tables[newKey] = c.s.table(key)
		delete(c.s.tables, key)
		if c.created[key] {
			c.created[newKey] = true
			delete(c.created, key)
		}
	case pg_query.ObjectType_OBJECT_COLUMN:
		t := c.s.table(key)
		if col, ok := t.columns[rs.Subname]; ok {
			t.columns[rs.Newname] = col
			delete(t.columns, rs.Subname)
		}
		for name, chk := range t.checks {
			if chk.column == rs.Subname {
				t.checks[name] = notNullCheck{column: rs.Newname, valid: chk.valid}
			}
		}
	case pg_query.ObjectType_OBJECT_TABCONSTRAINT:
		t := c.s.table(key)
		if chk, ok := t.checks[rs.Subname]; ok {
			t.checks[rs.Newname] = chk
			delete(t.checks, rs.Subname)
		}
	}
}

func (c *checker) alterEnum(ae *pg_query.AlterEnumStmt, at int) {
	if ae.NewVal == "" || ae.OldVal != "" || c.f.noTx { // RENAME VALUE, or outside a transaction
		return
	}
	schemaName, name := nameList(ae.TypeName)
	if c.enums[qualifiedKey(schemaName, name)] {
		return // created in this transaction: its new values are usable at once
	}
	c.f.report(at, ruleEnumAddValueInTx, "ALTER TYPE %s ADD VALUE '%s' runs in this file's transaction: the new value cannot be used until the migration commits (and PostgreSQL before 12 refuses it); use the value in a later migration, or mark this file %s", displayName(schemaName, name), ae.NewVal, noTxMarker)
}

func (c *checker) transaction(ts *pg_query.TransactionStmt, at int) {
	kind := strings.ReplaceAll(strings.TrimPrefix(ts.Kind.String(), "TRANS_STMT_"), "_", " ")
	switch ts.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_START, pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		kind += " TRANSACTION"
	}
	c.f.report(at, ruleTransactionControl, "%s in a migration file: the tool runs each file in its own transaction together with its version row, and transaction control inside would split them (a COMMIT keeps what ran even if a later statement fails); remove it, and use %s for statements that must run outside a transaction", kind, noTxMarker)
}

// alterTable checks each subcommand of an ALTER TABLE in order.
func (c *checker) alterTable(raw *pg_query.RawStmt, stmt *pg_query.AlterTableStmt, stmtAt int) {
	key, name := relKey(stmt.Relation), relName(stmt.Relation)
	existing := c.existing(key)
	t := c.s.table(key)
	starts := c.f.subcommandStarts(raw, stmt.Relation.Location, len(stmt.Cmds))
	for i, n := range stmt.Cmds {
		cmd := n.GetAlterTableCmd()
		if cmd == nil {
			continue
		}
		pos := stmtAt
		if starts != nil {
			pos = starts[i]
		}
		switch cmd.Subtype {
		case pg_query.AlterTableType_AT_AddColumn:
			cd := cmd.Def.GetColumnDef()
			if cd == nil {
				continue
			}
			if existing {
				c.addColumn(name, cd, pos)
			}
			col := t.column(cd.Colname)
			col.typ, col.notNull = cd.TypeName, isNotNull(cd)
		case pg_query.AlterTableType_AT_AddConstraint:
			con := cmd.Def.GetConstraint()
			if con == nil {
				continue
			}
			if existing {
				c.addConstraint(name, con, pos)
			}
			c.recordCheck(stmt.Relation.Relname, t, con)
		case pg_query.AlterTableType_AT_ValidateConstraint:
			if chk, ok := t.checks[cmd.Name]; ok {
				t.checks[cmd.Name] = notNullCheck{column: chk.column, valid: true}
			}
		case pg_query.AlterTableType_AT_DropConstraint:
			delete(t.checks, cmd.Name)
		case pg_query.AlterTableType_AT_SetNotNull:
			col := t.column(cmd.Name)
			if existing && !col.notNull && !t.provenNotNull(cmd.Name) {
				c.f.report(pos, ruleSetNotNull, "ALTER COLUMN %s SET NOT NULL on existing table %s scans the whole table under an ACCESS EXCLUSIVE lock (no reads, no writes); first ADD CONSTRAINT ... CHECK (%s IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT it (a lighter lock), then SET NOT NULL skips the scan", cmd.Name, name, cmd.Name)
			}
			col.notNull = true
		case pg_query.AlterTableType_AT_DropNotNull:
			t.column(cmd.Name).notNull = false
		case pg_query.AlterTableType_AT_AlterColumnType:
			cd := cmd.Def.GetColumnDef()
			if cd == nil {
				continue
			}
			col := t.column(cmd.Name)
			if existing && !noRewrite(col.typ, cd.TypeName, cd.RawDefault) {
				from := ""
				if col.typ != nil {
					from = " from " + typeString(col.typ)
				}
				c.f.report(pos, ruleColumnTypeChange, "ALTER COLUMN %s TYPE %s%s on existing table %s rewrites the table and rebuilds its indexes under an ACCESS EXCLUSIVE lock; add a new column, backfill it in batches and switch over, or, if the change is binary-coercible, suppress with the reason", cmd.Name, typeString(cd.TypeName), from, name)
			}
			col.typ = cd.TypeName
		case pg_query.AlterTableType_AT_DropColumn:
			if existing && c.f.up {
				c.f.report(pos, ruleDropInUp, "DROP COLUMN %s.%s in an up migration: its data is gone on deploy, and the release still running may read it; drop it in a later release, once no code uses it", name, cmd.Name)
			}
			delete(t.columns, cmd.Name)
		case pg_query.AlterTableType_AT_DetachPartition:
			if pc := cmd.Def.GetPartitionCmd(); pc != nil && pc.Concurrent {
				c.concurrently(pos, "DETACH PARTITION CONCURRENTLY")
			}
		}
	}
}

// addColumn checks ADD COLUMN on an existing table.
func (c *checker) addColumn(table string, cd *pg_query.ColumnDef, at int) {
	var def *pg_query.Node
	notNull, generated := false, ""
	for _, n := range cd.Constraints {
		con := n.GetConstraint()
		if con == nil {
			continue
		}
		switch con.Contype {
		case pg_query.ConstrType_CONSTR_DEFAULT:
			def = con.RawExpr
		case pg_query.ConstrType_CONSTR_NOTNULL, pg_query.ConstrType_CONSTR_PRIMARY:
			notNull = true
		case pg_query.ConstrType_CONSTR_IDENTITY:
			generated = "an identity column (GENERATED ... AS IDENTITY) draws a sequence value for every row"
		case pg_query.ConstrType_CONSTR_GENERATED:
			generated = "a stored generated column is computed for every row"
		}
		c.columnConstraint(table, cd.Colname, con, at)
	}
	if typ := typeString(cd.TypeName); isSerial(typ) && generated == "" {
		generated = typ + " adds a nextval() default, which is volatile"
	}
	switch {
	case generated != "":
		c.f.report(at, ruleVolatileDefault, "ADD COLUMN %s to existing table %s: %s, so the whole table is rewritten under an ACCESS EXCLUSIVE lock; add a plain nullable column, fill it in batches, then attach the default or sequence", cd.Colname, table, generated)
	case def != nil && !isNullConst(def):
		if fn, loc, ok := c.volatileCall(def); ok {
			if loc <= 0 {
				loc = at
			}
			c.f.report(loc, ruleVolatileDefault, "ADD COLUMN %s to existing table %s with volatile default %s(): every row gets its own value, so the whole table is rewritten under an ACCESS EXCLUSIVE lock; add the column without it, SET DEFAULT, and backfill existing rows in batches (a constant or stable default such as now() is stored once and is fine)", cd.Colname, table, fn)
		}
	case notNull:
		c.f.report(at, ruleNotNullWithoutDefault, "ADD COLUMN %s NOT NULL without a default to existing table %s fails as soon as the table has a row (CI's empty database will not show it); give it a default, or add it nullable, backfill, then enforce NOT NULL", cd.Colname, table)
	}
}

// columnConstraint checks a constraint written inline in ADD COLUMN: it validates or indexes every
// row of the existing table just like ADD CONSTRAINT.
func (c *checker) columnConstraint(table, colName string, con *pg_query.Constraint, at int) {
	switch con.Contype {
	case pg_query.ConstrType_CONSTR_CHECK, pg_query.ConstrType_CONSTR_FOREIGN:
		c.f.report(at, ruleConstraintNotValid, "ADD COLUMN %s with an inline %s on existing table %s validates every row under the column's ACCESS EXCLUSIVE lock; add the column, then ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT", colName, constraintKind(con), table)
	case pg_query.ConstrType_CONSTR_UNIQUE, pg_query.ConstrType_CONSTR_PRIMARY:
		c.f.report(at, ruleNotConcurrently, "ADD COLUMN %s %s on existing table %s builds its index under an ACCESS EXCLUSIVE lock; add the column, CREATE UNIQUE INDEX CONCURRENTLY in a no-transaction file, then ADD CONSTRAINT ... %s USING INDEX", colName, constraintKind(con), table, constraintKind(con))
	}
}

// addConstraint checks ADD CONSTRAINT on an existing table.
func (c *checker) addConstraint(table string, con *pg_query.Constraint, at int) {
	name := con.Conname
	if name != "" {
		name += " "
	}
	switch con.Contype {
	case pg_query.ConstrType_CONSTR_CHECK, pg_query.ConstrType_CONSTR_FOREIGN:
		if con.SkipValidation {
			return
		}
		lock := "an ACCESS EXCLUSIVE lock (no reads, no writes)"
		if con.Contype == pg_query.ConstrType_CONSTR_FOREIGN {
			lock = "a lock that blocks writes to both tables"
		}
		c.f.report(at, ruleConstraintNotValid, "ADD CONSTRAINT %s%s on existing table %s without NOT VALID checks every row under %s; add it NOT VALID, then VALIDATE CONSTRAINT, which checks the rows without blocking writes (best in a later migration)", name, constraintKind(con), table, lock)
	case pg_query.ConstrType_CONSTR_UNIQUE, pg_query.ConstrType_CONSTR_PRIMARY:
		if con.Indexname != "" { // USING INDEX: the index is already built
			return
		}
		c.f.report(at, ruleNotConcurrently, "ADD CONSTRAINT %s%s on existing table %s builds its index under an ACCESS EXCLUSIVE lock (no reads, no writes); build it with CREATE UNIQUE INDEX CONCURRENTLY in a no-transaction file, then ADD CONSTRAINT ... %s USING INDEX", name, constraintKind(con), table, constraintKind(con))
	}
}

// recordCheck remembers a CHECK (col IS NOT NULL) constraint, which lets SET NOT NULL skip its scan.
func (c *checker) recordCheck(tableName string, t *table, con *pg_query.Constraint) {
	if con == nil || con.Contype != pg_query.ConstrType_CONSTR_CHECK {
		return
	}
	col := notNullColumn(con.RawExpr)
	if col == "" {
		return
	}
	name := con.Conname
	if name == "" {
		name = checkName(tableName, col)
	}
	t.checks[name] = notNullCheck{column: col, valid: !con.SkipValidation}
}

func (t *table) provenNotNull(col string) bool {
	for _, chk := range t.checks {
		if chk.column == col && chk.valid {
			return true
		}
	}
	return false
}

// volatileCall finds the first call in expr to a function that is volatile: one a migration created
// without declaring it IMMUTABLE or STABLE, or one of PostgreSQL's own volatile functions.
func (c *checker) volatileCall(expr *pg_query.Node) (name string, location int, ok bool) {
	walk(expr.ProtoReflect(), func(m protoreflect.Message) bool {
		fc, isCall := m.Interface().(*pg_query.FuncCall)
		if !isCall {
			return true
		}
		schemaName, fn := nameList(fc.Funcname)
		vol, declared := c.s.funcs[fn]
		volatile := vol == "volatile" || (!declared && (schemaName == "" || schemaName == "pg_catalog") && builtinVolatile[fn])
		if volatile {
			name, location, ok = displayName(schemaName, fn), int(fc.Location), true
			return false
		}
		return true
	})
	return name, location, ok
}

// walk calls visit on m and every message below it, depth first, until visit returns false; it
// returns false when stopped.
func walk(m protoreflect.Message, visit func(protoreflect.Message) bool) bool {
	if !m.IsValid() {
		return true
	}
	if !visit(m) {
		return false
	}
	more := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			for i := 0; i < v.List().Len() && more; i++ {
				more = walk(v.List().Get(i).Message(), visit)
			}
		default:
			more = walk(v.Message(), visit)
		}
		return more
	})
	return more
}

// volatility reads CREATE FUNCTION's IMMUTABLE / STABLE / VOLATILE; without one, a function is
// VOLATILE.
func volatility(options []*pg_query.Node) string {
	for _, n := range options {
		if d := n.GetDefElem(); d != nil && d.Defname == "volatility" {
			if s := d.Arg.GetString_(); s != nil {
				return strings.ToLower(s.Sval)
			}
		}
	}
	return "volatile"
}

// isConcurrent reads REINDEX's options: CONCURRENTLY, or (CONCURRENTLY [true|false]).
func isConcurrent(params []*pg_query.Node) bool {
	for _, n := range params {
		d := n.GetDefElem()
		if d == nil || d.Defname != "concurrently" {
			continue
		}
		if d.Arg == nil {
			return true
		}
		switch {
		case d.Arg.GetString_() != nil:
			switch strings.ToLower(d.Arg.GetString_().Sval) {
			case "false", "off", "no", "0":
				return false
			}
			return true
		case d.Arg.GetBoolean() != nil:
			return d.Arg.GetBoolean().Boolval
		case d.Arg.GetInteger() != nil:
			return d.Arg.GetInteger().Ival != 0
		}
		return true
	}
	return false
}

func isNotNull(cd *pg_query.ColumnDef) bool {
	if cd.IsNotNull {
		return true
	}
	for _, n := range cd.Constraints {
		if con := n.GetConstraint(); con != nil {
			switch con.Contype {
			case pg_query.ConstrType_CONSTR_NOTNULL, pg_query.ConstrType_CONSTR_PRIMARY:
				return true
			}
		}
	}
	return false
}

func isNullConst(n *pg_query.Node) bool {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	ac := n.GetAConst()
	return ac != nil && ac.Isnull
}

func constraintKind(con *pg_query.Constraint) string {
	switch con.Contype {
	case pg_query.ConstrType_CONSTR_CHECK:
		return "CHECK"
	case pg_query.ConstrType_CONSTR_FOREIGN:
		return "FOREIGN KEY"
	case pg_query.ConstrType_CONSTR_UNIQUE:
		return "UNIQUE"
	case pg_query.ConstrType_CONSTR_PRIMARY:
		return "PRIMARY KEY"
	}
	return strings.TrimPrefix(con.Contype.String(), "CONSTR_")
}

// sqlTypeNames are the SQL spellings of the internal names the parser gives common types.
var sqlTypeNames = map[string]string{
	"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
	"bool": "boolean", "bpchar": "char",
}

// typeString renders a column type for messages: varchar(20), numeric(10,2), text[].
func typeString(tn *pg_query.TypeName) string {
	if tn == nil {
		return "?"
	}
	_, name := nameList(tn.Names)
	if sqlName, ok := sqlTypeNames[name]; ok {
		name = sqlName
	}
	if mods := typmods(tn); len(mods) > 0 {
		parts := make([]string, len(mods))
		for i, m := range mods {
			parts[i] = fmt.Sprint(m)
		}
		name += "(" + strings.Join(parts, ",") + ")"
	}
	return name + strings.Repeat("[]", len(tn.ArrayBounds))
}

func typmods(tn *pg_query.TypeName) []int32 {
	var mods []int32
	for _, n := range tn.Typmods {
		ac := n.GetAConst()
		if ac == nil || ac.GetIval() == nil {
			return nil
		}
		mods = append(mods, ac.GetIval().Ival)
	}
	return mods
}

func isSerial(typ string) bool {
	switch typ {
	case "serial", "serial2", "serial4", "serial8", "smallserial", "bigserial":
		return true
	}
	return false
}

// noRewrite reports whether ALTER COLUMN ... TYPE from old to new is known not to rewrite the table
// (PostgreSQL skips the rewrite when the old type is binary-coercible to the new one and USING does
// not change the value): a wider or unlimited varchar, varchar to text and back, a numeric with
// more precision and the same scale. When the old type is unknown, it says no.
func noRewrite(oldType, newType *pg_query.TypeName, using *pg_query.Node) bool {
	if oldType == nil || newType == nil || using != nil || len(oldType.ArrayBounds) > 0 || len(newType.ArrayBounds) > 0 {
		return false
	}
	_, from := nameList(oldType.Names)
	_, to := nameList(newType.Names)
	fromMods, toMods := typmods(oldType), typmods(newType)
	text := func(t string) bool { return t == "varchar" || t == "text" }
	switch {
	case text(from) && to == "text":
		return true
	case text(from) && to == "varchar":
		return len(toMods) == 0 || (from == "varchar" && len(fromMods) == 1 && toMods[0] >= fromMods[0])
	case from == "numeric" && to == "numeric":
		switch {
		case len(toMods) == 0:
			return true
		case len(fromMods) == 0:
			return false
		}
		fromScale, toScale := int32(0), int32(0)
		if len(fromMods) == 2 {
			fromScale = fromMods[1]
		}
		if len(toMods) == 2 {
			toScale = toMods[1]
		}
		return toScale == fromScale && toMods[0] >= fromMods[0]
	}
	return false
}
