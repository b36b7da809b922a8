package lint

import (
	"fmt"
	"strings"
	"unicode/utf8"

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
	domains map[string]bool // domains this file created
	// notValid holds the constraints this file added NOT VALID to an existing table, as
	// table key + "\x00" + name: validating one in the same transaction keeps the ADD's lock.
	notValid map[string]bool
}

// check lints f against s, and leaves in s the schema after f.
func check(f *file, s *schema) {
	if !f.parsed {
		return
	}
	c := &checker{f: f, s: s, created: map[string]bool{}, enums: map[string]bool{}, domains: map[string]bool{}, notValid: map[string]bool{}}
	c.identifiers()
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
		c.idempotent(at, n.CreateStmt.IfNotExists, "CREATE TABLE", "IF NOT EXISTS")
		c.createTable(n.CreateStmt, at)
	case *pg_query.Node_CreateTableAsStmt:
		if n.CreateTableAsStmt.Into != nil && n.CreateTableAsStmt.Into.Rel != nil {
			key := relKey(n.CreateTableAsStmt.Into.Rel)
			c.created[key] = true
			c.s.tables[key] = &table{owner: c.s, columns: map[string]*column{}, checks: map[string]notNullCheck{}}
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
		c.rename(n.RenameStmt, at)
	case *pg_query.Node_ReindexStmt:
		c.reindex(n.ReindexStmt, at)
	case *pg_query.Node_VacuumStmt:
		if !n.VacuumStmt.IsVacuumcmd {
			return // ANALYZE alone runs anywhere and takes a light lock
		}
		c.outsideTransaction(at, "VACUUM")
		if hasOption(n.VacuumStmt.Options, "full") {
			c.f.report(at, ruleVacuumFullOrCluster, "VACUUM FULL rewrites each table it names (every table, without a name) under an ACCESS EXCLUSIVE lock: no reads, no writes until the copy is done; run plain VACUUM, or pg_repack, in maintenance, not in a migration")
		}
	case *pg_query.Node_ClusterStmt:
		cs := n.ClusterStmt
		if cs.Relation == nil {
			c.outsideTransaction(at, "CLUSTER without a table")
			c.f.report(at, ruleVacuumFullOrCluster, "CLUSTER rewrites every table clustered before, each under an ACCESS EXCLUSIVE lock: no reads, no writes until its copy is done; use pg_repack in maintenance, not a migration")
		} else if c.existing(relKey(cs.Relation)) {
			c.f.report(at, ruleVacuumFullOrCluster, "CLUSTER %s rewrites the table under an ACCESS EXCLUSIVE lock: no reads, no writes until the copy is done; use pg_repack in maintenance, not a migration", relName(cs.Relation))
		}
	case *pg_query.Node_CreatedbStmt:
		c.outsideTransaction(at, "CREATE DATABASE")
	case *pg_query.Node_DropdbStmt:
		c.outsideTransaction(at, "DROP DATABASE")
	case *pg_query.Node_CreateTableSpaceStmt:
		c.outsideTransaction(at, "CREATE TABLESPACE")
	case *pg_query.Node_DropTableSpaceStmt:
		c.outsideTransaction(at, "DROP TABLESPACE")
	case *pg_query.Node_AlterSystemStmt:
		c.outsideTransaction(at, "ALTER SYSTEM")
	case *pg_query.Node_TruncateStmt:
		if n.TruncateStmt.Behavior == pg_query.DropBehavior_DROP_CASCADE {
			c.f.report(at, ruleTruncateCascade, "TRUNCATE ... CASCADE also empties every table that references these by foreign key, recursively, each under an ACCESS EXCLUSIVE lock, and which tables those are depends on the schema the day it runs; name every table to empty, without CASCADE")
		}
	case *pg_query.Node_CreateDomainStmt:
		c.createDomain(n.CreateDomainStmt, at)
	case *pg_query.Node_AlterDomainStmt:
		c.alterDomain(n.AlterDomainStmt, at)
	case *pg_query.Node_CreateSchemaStmt:
		c.idempotent(at, n.CreateSchemaStmt.IfNotExists, "CREATE SCHEMA", "IF NOT EXISTS")
	case *pg_query.Node_CreateExtensionStmt:
		c.idempotent(at, n.CreateExtensionStmt.IfNotExists, "CREATE EXTENSION", "IF NOT EXISTS")
	case *pg_query.Node_CreateSeqStmt:
		c.idempotent(at, n.CreateSeqStmt.IfNotExists, "CREATE SEQUENCE", "IF NOT EXISTS")
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

func (c *checker) createTable(cs *pg_query.CreateStmt, at int) {
	key := relKey(cs.Relation)
	if _, exists := c.s.tables[key]; exists && cs.IfNotExists {
		return // a no-op on the existing table
	}
	c.created[key] = true
	t := newTable()
	t.owner, t.partitioned = c.s, cs.Partspec != nil
	c.s.tables[key] = t
	pk := map[string]bool{}
	for _, elt := range cs.TableElts {
		if con := elt.GetConstraint(); con != nil && con.Contype == pg_query.ConstrType_CONSTR_PRIMARY {
			for _, k := range con.Keys {
				if s := k.GetString_(); s != nil {
					pk[s.Sval] = true
				}
			}
		}
	}
	for _, elt := range cs.TableElts {
		if cd := elt.GetColumnDef(); cd != nil {
			col := t.column(cd.Colname)
			col.typ, col.notNull = cd.TypeName, isNotNull(cd)
			pos := at
			if cd.Location > 0 {
				pos = int(cd.Location)
			}
			c.columnType(relName(cs.Relation), cd, pk[cd.Colname] || hasConstraint(cd, pg_query.ConstrType_CONSTR_PRIMARY), pos)
		}
	}
	for _, elt := range cs.TableElts {
		c.recordCheck(cs.Relation.Relname, t, elt.GetConstraint())
	}
	for _, n := range cs.Constraints {
		c.recordCheck(cs.Relation.Relname, t, n.GetConstraint())
	}
}

func (c *checker) createIndex(is *pg_query.IndexStmt, at int) {
	key := relKey(is.Relation)
	if is.Idxname != "" {
		c.s.indexes[qualifiedKey(is.Relation.Schemaname, is.Idxname)] = key
	}
	c.idempotent(at, is.IfNotExists || is.Idxname == "", "CREATE INDEX", "IF NOT EXISTS")
	if is.Concurrent {
		c.concurrently(at, "CREATE INDEX CONCURRENTLY")
		c.pg14Bug(at, "CREATE INDEX CONCURRENTLY")
		return
	}
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

// outsideTransaction reports a statement PostgreSQL refuses inside a transaction block, in a file
// that runs in one.
func (c *checker) outsideTransaction(at int, what string) {
	if c.f.noTx {
		return
	}
	c.f.report(at, ruleNoTransactionRequired, "%s cannot run inside a transaction block, and this file runs in one: PostgreSQL refuses it and the migration fails; move it alone to a file whose first line is %s, if a migration should run it at all", what, noTxMarker)
}

// idempotent reports, in a no-transaction file, a statement that fails when run twice: nothing
// rolls back a failed run, so the retry meets what the first attempt left.
func (c *checker) idempotent(at int, guarded bool, what, guard string) {
	if !c.f.noTx || guarded {
		return
	}
	hint := ""
	if what == "CREATE INDEX" {
		hint = "; if a CREATE INDEX CONCURRENTLY fails it leaves an INVALID index, which the retry must drop first (DROP INDEX CONCURRENTLY IF EXISTS)"
	}
	c.f.report(at, ruleNoTxIfExists, "%s without %s in a file marked %s: nothing rolls back a failed run, so a retry fails on what the first attempt left; write %s %s%s", what, guard, noTxMarker, what, guard, hint)
}

// pg14Bug reports CONCURRENTLY index builds on a target with the 14.0-14.3 corruption bug.
func (c *checker) pg14Bug(at int, what string) {
	if t := c.f.target; t.Major == 14 && t.Minor >= 0 && t.Minor < 4 {
		c.f.report(at, rulePG14Concurrently, "%s on PostgreSQL %s (VISIONA_DB_SERVER_VERSION) can build an index that misses rows written during the build, a bug fixed in 14.4; upgrade the server to the latest 14.x before this runs (and check indexes built there with amcheck)", what, t)
	}
}

func (c *checker) reindex(rs *pg_query.ReindexStmt, at int) {
	if isConcurrent(rs.Params) {
		c.concurrently(at, "REINDEX CONCURRENTLY")
		c.pg14Bug(at, "REINDEX CONCURRENTLY")
		return
	}
	switch rs.Kind {
	case pg_query.ReindexObjectType_REINDEX_OBJECT_INDEX:
		if rs.Relation == nil {
			return
		}
		table, known := c.s.indexes[relKey(rs.Relation)]
		if known && !c.existing(table) {
			return
		}
		c.f.report(at, ruleNotConcurrently, "REINDEX INDEX %s without CONCURRENTLY blocks writes to its table and every query that would use the index until the rebuild is done; use REINDEX INDEX CONCURRENTLY, alone in a file marked %s", relName(rs.Relation), noTxMarker)
	case pg_query.ReindexObjectType_REINDEX_OBJECT_TABLE:
		if rs.Relation == nil || !c.existing(relKey(rs.Relation)) {
			return
		}
		c.f.report(at, ruleNotConcurrently, "REINDEX TABLE %s without CONCURRENTLY blocks writes to it, and the queries that would use its indexes, until every index is rebuilt; use REINDEX TABLE CONCURRENTLY, alone in a file marked %s", relName(rs.Relation), noTxMarker)
	default:
		kind := strings.TrimPrefix(rs.Kind.String(), "REINDEX_OBJECT_")
		c.outsideTransaction(at, "REINDEX "+kind)
		c.f.report(at, ruleNotConcurrently, "REINDEX %s without CONCURRENTLY locks every table it reaches against writes while rebuilding its indexes; reindex the indexes that need it, CONCURRENTLY, in maintenance", kind)
	}
}

func (c *checker) createDomain(cd *pg_query.CreateDomainStmt, at int) {
	schemaName, name := nameList(cd.Domainname)
	c.domains[qualifiedKey(schemaName, name)] = true
	if !c.f.up {
		return
	}
	for _, n := range cd.Constraints {
		if con := n.GetConstraint(); con != nil && con.Contype == pg_query.ConstrType_CONSTR_CHECK {
			c.f.report(at, ruleCreateDomainCheck, "CREATE DOMAIN %s with a CHECK: any later change to its constraints re-checks every column of the domain in every table, and it cannot be changed in place; put the CHECK on each table's column instead, where it can be replaced NOT VALID and validated without blocking writes", displayName(schemaName, name))
			return
		}
	}
}

func (c *checker) alterDomain(ad *pg_query.AlterDomainStmt, at int) {
	schemaName, name := nameList(ad.TypeName)
	if c.domains[qualifiedKey(schemaName, name)] {
		return // created in this file: no column uses it yet that could hold rows
	}
	switch ad.Subtype {
	case "C":
		con := ad.Def.GetConstraint()
		if con == nil || con.SkipValidation {
			return
		}
		c.f.report(at, ruleDomainConstraint, "ALTER DOMAIN %s ADD CONSTRAINT without NOT VALID checks every row of every column of this domain, in every table, while blocking writes to them; add it NOT VALID, then VALIDATE CONSTRAINT in a later migration", displayName(schemaName, name))
	case "O":
		c.f.report(at, ruleDomainConstraint, "ALTER DOMAIN %s SET NOT NULL checks every row of every column of this domain, in every table, while blocking writes to them; add a CHECK (VALUE IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT in a later migration", displayName(schemaName, name))
	}
}

func (c *checker) drop(ds *pg_query.DropStmt, at int) {
	c.idempotent(at, ds.MissingOk, "DROP "+strings.ReplaceAll(strings.TrimPrefix(ds.RemoveType.String(), "OBJECT_"), "_", " "), "IF EXISTS")
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
			for idx, table := range c.s.indexes {
				if table == key {
					delete(c.s.indexes, idx)
				}
			}
		}
	case pg_query.ObjectType_OBJECT_INDEX:
		if ds.Concurrent {
			c.concurrently(at, "DROP INDEX CONCURRENTLY")
		}
		for _, obj := range ds.Objects {
			schemaName, name := nameList(obj.GetList().GetItems())
			key := qualifiedKey(schemaName, name)
			table, known := c.s.indexes[key]
			delete(c.s.indexes, key)
			if ds.Concurrent || (known && !c.existing(table)) {
				continue
			}
			if t := c.s.tables[table]; known && t != nil && t.partitioned {
				continue // an index on a partitioned table cannot be dropped CONCURRENTLY
			}
			on := "its table"
			if known {
				on = "table " + table
			}
			c.f.report(at, ruleNotConcurrently, "DROP INDEX %s without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on %s: while it waits for running queries, every new read and write queues behind it; use DROP INDEX CONCURRENTLY IF EXISTS, alone in a file marked %s", displayName(schemaName, name), on, noTxMarker)
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

func (c *checker) rename(rs *pg_query.RenameStmt, at int) {
	if rs.RenameType == pg_query.ObjectType_OBJECT_SCHEMA {
		if c.f.up {
			c.f.report(at, ruleRename, "ALTER SCHEMA %s RENAME TO %s: every query of the running release that names %s fails from the moment this commits; move clients first (search_path, or views in the old schema), rename in a later release", rs.Subname, rs.Newname, rs.Subname)
		}
		return
	}
	if rs.Relation == nil {
		return
	}
	key := relKey(rs.Relation)
	if c.f.up && c.existing(key) {
		switch {
		case rs.RenameType == pg_query.ObjectType_OBJECT_TABLE:
			c.f.report(at, ruleRename, "RENAME of existing table %s to %s: the release still running queries %s and fails from the moment this commits; rename it and CREATE VIEW %s AS SELECT * FROM %s in the same migration, deploy the code that uses the new name, drop the view in a later release", relName(rs.Relation), rs.Newname, relName(rs.Relation), relName(rs.Relation), rs.Newname)
		case rs.RenameType == pg_query.ObjectType_OBJECT_COLUMN && rs.RelationType == pg_query.ObjectType_OBJECT_TABLE:
			c.f.report(at, ruleRename, "RENAME COLUMN %s.%s to %s: the release still running reads and writes %s and fails from the moment this commits; add %s, deploy code that writes both and reads the new one, backfill, drop %s in a later release", relName(rs.Relation), rs.Subname, rs.Newname, rs.Subname, rs.Newname, rs.Subname)
		}
	}
	switch rs.RenameType {
	case pg_query.ObjectType_OBJECT_INDEX:
		if table, ok := c.s.indexes[key]; ok {
			delete(c.s.indexes, key)
			c.s.indexes[qualifiedKey(rs.Relation.Schemaname, rs.Newname)] = table
		}
	case pg_query.ObjectType_OBJECT_TABLE:
		newKey := qualifiedKey(rs.Relation.Schemaname, rs.Newname)
		c.s.tables[newKey] = c.s.table(key)
		delete(c.s.tables, key)
		for idx, table := range c.s.indexes {
			if table == key {
				c.s.indexes[idx] = newKey
			}
		}
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
	schemaName, name := nameList(ae.TypeName)
	created := c.enums[qualifiedKey(schemaName, name)]
	if ae.OldVal != "" { // RENAME VALUE
		if c.f.up && !created {
			c.f.report(at, ruleRename, "ALTER TYPE %s RENAME VALUE '%s' TO '%s': the release still running writes '%s' and fails from the moment this commits; ADD VALUE '%s', deploy code that writes it, update the rows, and stop using '%s' in a later release", displayName(schemaName, name), ae.OldVal, ae.NewVal, ae.OldVal, ae.NewVal, ae.OldVal)
		}
		return
	}
	if ae.NewVal == "" {
		return
	}
	c.idempotent(at, ae.SkipIfNewValExists, "ALTER TYPE ... ADD VALUE", "IF NOT EXISTS")
	if c.f.noTx || created { // outside a transaction, or created in this one: usable at once
		return
	}
	c.f.report(at, ruleEnumAddValueInTx, "ALTER TYPE %s ADD VALUE '%s' runs in this file's transaction: the new value cannot be used until the migration commits (and PostgreSQL before 12 refuses it); use the value in a later migration, or mark this file %s", displayName(schemaName, name), ae.NewVal, noTxMarker)
}

func (c *checker) transaction(ts *pg_query.TransactionStmt, at int) {
	if c.f.noTx {
		return // the tool opens no transaction here: the file's own control is the author's to make
	}
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
			c.idempotent(pos, cmd.MissingOk, "ADD COLUMN", "IF NOT EXISTS")
			if existing {
				c.addColumn(name, cd, pos)
			}
			c.columnType(name, cd, hasConstraint(cd, pg_query.ConstrType_CONSTR_PRIMARY), pos)
			col := t.column(cd.Colname)
			col.typ, col.notNull = cd.TypeName, isNotNull(cd)
		case pg_query.AlterTableType_AT_AddConstraint:
			con := cmd.Def.GetConstraint()
			if con == nil {
				continue
			}
			if existing {
				c.addConstraint(name, con, pos)
				if con.SkipValidation && con.Conname != "" {
					c.notValid[key+"\x00"+con.Conname] = true
				}
			}
			c.recordCheck(stmt.Relation.Relname, t, con)
		case pg_query.AlterTableType_AT_ValidateConstraint:
			if !c.f.noTx && c.notValid[key+"\x00"+cmd.Name] {
				c.f.report(pos, ruleValidateInSameTx, "VALIDATE CONSTRAINT %s in the transaction that added it NOT VALID: the ADD's lock on %s is held until COMMIT, so through the whole validation scan, and NOT VALID gained nothing; validate it in a later migration", cmd.Name, name)
			}
			if chk, ok := t.checks[cmd.Name]; ok {
				t.checks[cmd.Name] = notNullCheck{column: chk.column, valid: true}
			}
		case pg_query.AlterTableType_AT_DropConstraint:
			delete(t.checks, cmd.Name)
		case pg_query.AlterTableType_AT_SetNotNull:
			col := t.column(cmd.Name)
			switch {
			case !existing || col.notNull:
			case c.f.target.before(12):
				c.f.report(pos, ruleSetNotNull, "ALTER COLUMN %s SET NOT NULL on existing table %s scans the whole table under an ACCESS EXCLUSIVE lock (no reads, no writes), and before PostgreSQL 12 (the target is %s) no CHECK lets it skip the scan; keep a CHECK (%s IS NOT NULL) constraint added NOT VALID and validated instead", cmd.Name, name, c.f.target, cmd.Name)
			case !t.provenNotNull(cmd.Name):
				also := ""
				if c.f.target.Major >= 18 {
					also = " (on PostgreSQL 18, ADD CONSTRAINT ... NOT NULL " + cmd.Name + " NOT VALID and VALIDATE CONSTRAINT do the same in one constraint)"
				}
				c.f.report(pos, ruleSetNotNull, "ALTER COLUMN %s SET NOT NULL on existing table %s scans the whole table under an ACCESS EXCLUSIVE lock (no reads, no writes); first ADD CONSTRAINT ... CHECK (%s IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT it (a lighter lock), then SET NOT NULL skips the scan%s", cmd.Name, name, cmd.Name, also)
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
			c.columnType(name, &pg_query.ColumnDef{Colname: cmd.Name, TypeName: cd.TypeName}, false, pos)
			if existing && !noRewrite(col.typ, cd.TypeName, cd.RawDefault) {
				from := ""
				if col.typ != nil {
					from = " from " + typeString(col.typ)
				}
				c.f.report(pos, ruleColumnTypeChange, "ALTER COLUMN %s TYPE %s%s on existing table %s rewrites the table and rebuilds its indexes under an ACCESS EXCLUSIVE lock; add a new column, backfill it in batches and switch over, or, if the change is binary-coercible, suppress with the reason", cmd.Name, typeString(cd.TypeName), from, name)
			}
			col.typ = cd.TypeName
		case pg_query.AlterTableType_AT_DropColumn:
			c.idempotent(pos, cmd.MissingOk, "DROP COLUMN", "IF EXISTS")
			if existing && c.f.up {
				c.f.report(pos, ruleDropInUp, "DROP COLUMN %s.%s in an up migration: its data is gone on deploy, and the release still running may read it; drop it in a later release, once no code uses it", name, cmd.Name)
			}
			delete(t.columns, cmd.Name)
		case pg_query.AlterTableType_AT_DetachPartition:
			pc := cmd.Def.GetPartitionCmd()
			switch {
			case pc == nil:
			case pc.Concurrent:
				c.concurrently(pos, "DETACH PARTITION CONCURRENTLY")
			case existing:
				c.f.report(pos, ruleNotConcurrently, "DETACH PARTITION %s without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on %s: no reads or writes of any partition until it is done; use DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+), alone in a file marked %s", relName(pc.Name), name, noTxMarker)
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
	case def != nil && !isNullConst(def) && c.f.target.before(11):
		c.f.report(at, ruleVolatileDefault, "ADD COLUMN %s to existing table %s with a default: before PostgreSQL 11 (the target is %s) every such default is written into every row, so the whole table is rewritten under an ACCESS EXCLUSIVE lock; add the column without it, SET DEFAULT, and backfill existing rows in batches", cd.Colname, table, c.f.target)
	case def != nil && !isNullConst(def):
		if fn, loc, known, ok := c.volatileCall(def); ok {
			if loc <= 0 {
				loc = at
			}
			if known {
				c.f.report(loc, ruleVolatileDefault, "ADD COLUMN %s to existing table %s with volatile default %s(): every row gets its own value, so the whole table is rewritten under an ACCESS EXCLUSIVE lock; add the column without it, SET DEFAULT, and backfill existing rows in batches (a constant or stable default such as now() is stored once and is fine)", cd.Colname, table, fn)
			} else {
				c.f.report(loc, ruleVolatileDefault, "ADD COLUMN %s to existing table %s with a default calling %s(), which is neither one of PostgreSQL's IMMUTABLE or STABLE functions nor created by an earlier migration: a function not declared IMMUTABLE or STABLE is VOLATILE, and a volatile default rewrites the whole table under an ACCESS EXCLUSIVE lock; if %s is immutable or stable (an extension's), suppress with that reason, else add the column without the default, SET DEFAULT, and backfill in batches", cd.Colname, table, fn, fn)
			}
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

// volatileCall finds the first call in expr to a function that is, or must be taken as, volatile:
// one a migration created without declaring it IMMUTABLE or STABLE, one of PostgreSQL's own
// volatile functions (known), or one that is neither created by a migration nor one of
// PostgreSQL's IMMUTABLE or STABLE functions (not known: PostgreSQL's default is VOLATILE).
func (c *checker) volatileCall(expr *pg_query.Node) (name string, location int, known, ok bool) {
	walk(expr.ProtoReflect(), func(m protoreflect.Message) bool {
		fc, isCall := m.Interface().(*pg_query.FuncCall)
		if !isCall {
			return true
		}
		schemaName, fn := nameList(fc.Funcname)
		builtinSchema := schemaName == "" || schemaName == "pg_catalog" || schemaName == "public"
		vol, declared := c.s.funcs[fn]
		switch {
		case declared:
			ok, known = vol == "volatile", true
		case builtinSchema && builtinVolatile[fn]:
			ok, known = true, true
		case builtinSchema && builtinNonVolatile[fn]:
		default:
			ok = true
		}
		if ok {
			name, location = displayName(schemaName, fn), int(fc.Location)
			return false
		}
		return true
	})
	return name, location, known, ok
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

// columnType reports the column types visionA prefers others to, in up files (a down restores
// what was there).
func (c *checker) columnType(table string, cd *pg_query.ColumnDef, primaryKey bool, at int) {
	if !c.f.up || cd.TypeName == nil {
		return
	}
	schemaName, typ := nameList(cd.TypeName.Names)
	if schemaName != "" && schemaName != "pg_catalog" {
		return
	}
	switch typ {
	case "json":
		c.f.report(at, rulePreferJSONB, "column %s.%s is json: stored as text and re-parsed by every operator, with no equality and no GIN index; use jsonb", table, cd.Colname)
	case "timestamp":
		c.f.report(at, rulePreferTimestamptz, "column %s.%s is timestamp without time zone: the same instant reads differently in other zones; use timestamptz", table, cd.Colname)
	case "bpchar":
		c.f.report(at, rulePreferText, "column %s.%s is %s: padded with spaces and no faster than text; use text, with a CHECK on its length if it matters", table, cd.Colname, typeString(cd.TypeName))
	}
	if !primaryKey {
		return
	}
	limit := "2^31"
	switch typ {
	case "int2", "serial2", "smallserial":
		limit = "32767"
	case "int4", "serial", "serial4":
	default:
		return
	}
	c.f.report(at, rulePreferBigintPK, "primary key %s.%s is %s: it runs out at %s rows inserted, and widening it later rewrites the table and every table referencing it; use bigint GENERATED ALWAYS AS IDENTITY (or uuid)", table, cd.Colname, typeString(cd.TypeName), limit)
}

// identifiers reports identifiers longer than PostgreSQL keeps (NAMEDATALEN-1 = 63 bytes), once
// each: they come from the scanner, so text in strings and function bodies does not count.
func (c *checker) identifiers() {
	seen := map[string]bool{}
	for _, t := range c.f.tokens {
		if t.Token != pg_query.Token_IDENT {
			continue
		}
		name := c.f.src[t.Start:t.End]
		if strings.HasPrefix(name, `"`) {
			name = strings.ReplaceAll(strings.Trim(name, `"`), `""`, `"`)
		} else {
			name = strings.ToLower(name)
		}
		if len(name) <= maxIdentifierBytes || seen[name] {
			continue
		}
		seen[name] = true
		c.f.report(int(t.Start), ruleIdentifierTooLong, "identifier %q is %d bytes; PostgreSQL silently truncates it to %d (%q), so the object is not named what this file says; shorten it", name, len(name), maxIdentifierBytes, truncateIdentifier(name))
	}
}

// maxIdentifierBytes is NAMEDATALEN - 1.
const maxIdentifierBytes = 63

// truncateIdentifier cuts at 63 bytes without splitting a character, as PostgreSQL does.
func truncateIdentifier(s string) string {
	n := maxIdentifierBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func hasConstraint(cd *pg_query.ColumnDef, kind pg_query.ConstrType) bool {
	for _, n := range cd.Constraints {
		if con := n.GetConstraint(); con != nil && con.Contype == kind {
			return true
		}
	}
	return false
}

// hasOption reports whether a statement's option list (VACUUM's) holds name, not set to false.
func hasOption(options []*pg_query.Node, name string) bool {
	for _, n := range options {
		d := n.GetDefElem()
		if d == nil || d.Defname != name {
			continue
		}
		if d.Arg == nil {
			return true
		}
		if b := d.Arg.GetBoolean(); b != nil {
			return b.Boolval
		}
		if s := d.Arg.GetString_(); s != nil {
			switch strings.ToLower(s.Sval) {
			case "false", "off", "no", "0":
				return false
			}
		}
		if i := d.Arg.GetInteger(); i != nil {
			return i.Ival != 0
		}
		return true
	}
	return false
}
