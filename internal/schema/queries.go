package schema

import "strings"

// The catalog queries. Take reads the whole schema with one statement: MATERIALIZED CTEs compute
// what is in scope (ns, hidden, rel, fn, typ) once, and one UNION ALL branch per kind of object
// reads from them; sorting is done in Go, bytewise, so no ORDER BY depends on the database's
// collation. One statement rather than a batch of one query per kind: the scope CTEs were
// recomputed by every query of the batch, which was most of an empty database's snapshot time.
//
// Names are built with quote_ident, never with regclass or OIDs, and definitions come from the
// pg_get_* functions under settingsSQL, so they are the same on every run and every database.
//
// RoundTrip reads the schema by units (incremental.go): a relation (code 'r': a table, view,
// materialized view or sequence, with its columns, constraints, indexes, triggers, policies,
// rules and the comments on them), a type ('t': a standalone composite type with the comments on
// its attributes, or an enum, domain or range, with its constraints' comments), a function
// ('f'), a schema ('n') or an extension ('e'). Each branch reads the objects of one family of
// units, and every statement returns each object's unit with it (code, OID and qualified name:
// ucode, uoid, uqname) and, for an index, the index's OID (xoid), so that a DROP INDEX, which the
// DDL log reports without its table, can be traced to it.
//
// One template gives every statement (sqlMode): Take's, RoundTrip's full snapshot (which also
// leaves out RoundTrip's DDL log schema), one per family that reads only the units of that family
// it is given, and RoundTrip's step, which finds the units from the log and reads the relations
// among them. A scoped statement starts its scope CTEs from the units instead of whole catalogs;
// whether a relation is hidden is a property of that relation alone, so computing it only for the
// relations a scoped statement returns gives the same rows: a scoped read of a set of units is
// exactly the full read's rows for them (TestIncrementalMatchesFull checks it against Take).

// settingsSQL fixes every setting that changes how definitions print, for the current
// transaction only (set_config's third argument): with search_path = pg_catalog every user
// object is printed schema-qualified, and constants in defaults print the same whatever the
// session's DateStyle or TimeZone. plan_cache_mode: the statement is prepared once per
// connection and its plan does not depend on the parameter values, so planning it again on the
// first executions (custom plans) is wasted time. jit: the statement's estimated cost can pass
// jit_above_cost, and compiling it takes longer than running it.
const settingsSQL = `SELECT set_config('search_path', 'pg_catalog', true),
	set_config('DateStyle', 'ISO, YMD', true),
	set_config('IntervalStyle', 'postgres', true),
	set_config('TimeZone', 'UTC', true),
	set_config('extra_float_digits', '1', true),
	set_config('bytea_output', 'hex', true),
	set_config('plan_cache_mode', 'force_generic_plan', true),
	set_config('jit', 'off', true)`

// sessionSettingsSQL is settingsSQL for RoundTrip's own connection, set once for the session.
// synchronous_commit: nothing that connection commits needs to wait for the disk (it only reads,
// and installs and removes the DDL log). The planner settings are for the scoped statements,
// which read a handful of rows by OID from each catalog, which index lookups in nested loops do
// best; their plans are made once, when the catalogs may still be nearly empty (where scanning a
// whole catalog looks cheapest) and with row estimates the CTEs make up, and are then kept while
// the catalogs grow. The full statement gets the same kind of plan, which is fine for it too:
// a few milliseconds for a schema of a hundred tables.
const sessionSettingsSQL = `SELECT set_config('search_path', 'pg_catalog', false),
	set_config('DateStyle', 'ISO, YMD', false),
	set_config('IntervalStyle', 'postgres', false),
	set_config('TimeZone', 'UTC', false),
	set_config('extra_float_digits', '1', false),
	set_config('bytea_output', 'hex', false),
	set_config('plan_cache_mode', 'force_generic_plan', false),
	set_config('jit', 'off', false),
	set_config('synchronous_commit', 'off', false),
	set_config('enable_seqscan', 'off', false),
	set_config('enable_hashjoin', 'off', false),
	set_config('enable_mergejoin', 'off', false),
	set_config('enable_material', 'off', false)`

// buildTakeSQL builds Take's statement. $1 is the excluded table names (text[]).
func buildTakeSQL() string {
	return "SELECT kind, name, def FROM (\n" + catalogSQL(modeTake, 0) + "\n) s"
}

type sqlMode int

const (
	modeTake   sqlMode = iota // every object, with its unit
	modeWalk                  // modeTake, RoundTrip's log schema left out
	modeScoped                // modeWalk for one family's units: $2 (oid[]), $1 if usesExcluded is false
	modeStep                  // the relation units the DDL log names after $2, then the log's rows
)

// unitCodes are the families of units, in the order their scoped statements are sent.
const unitCodes = "rtfne"

// usesExcluded reports whether the scoped statement of a family takes the excluded table names
// ($1, the units being $2), or only the units ($1).
func usesExcluded(family byte) bool { return family == 'r' || family == 't' }

// catalogSQL builds a statement; family is the unit code of a scoped statement. Each returns
// kind, name, def, ucode, uoid, uqname, xoid. $1 is the excluded table names (text[]).
func catalogSQL(mode sqlMode, family byte) string {
	if mode == modeStep {
		family = 'r'
	}
	scoped := mode == modeScoped || mode == modeStep
	in := func(code byte) bool { return !scoped || family == code }
	var ctes []string
	if mode == modeStep {
		ctes = append(ctes, strings.ReplaceAll(logUnitsSQL, "{{last}}", "$2"))
	}
	if family != 'e' {
		ctes = append(ctes, cte("ns", nsQuery))
	}
	switch {
	case !scoped:
		ctes = append(ctes, cte("hidden", hiddenQuery), cte("rel", relQuery), cte("fn", fnQuery), cte("typ", typQuery))
	case family == 'r':
		ctes = append(ctes, cte("rel", relUnitsQuery))
	case family == 't':
		ctes = append(ctes, cte("typ", typQuery), cte("relc", relcTypeQuery), cte("hcand", "SELECT oid FROM relc"),
			cte("hidden", hiddenQuery), cte("rel", relQuery))
	case family == 'f':
		ctes = append(ctes, cte("fn", fnQuery))
	}
	var branches []string
	for _, q := range catalogQueries() {
		if in(q.family) {
			branches = append(branches, q.sql)
		}
	}
	var parts []catalogQuery
	for _, c := range commentParts() {
		if in(c.family) {
			parts = append(parts, c)
		}
	}
	if len(parts) > 0 {
		branches = append(branches, commentsSQL(parts))
	}
	if mode == modeStep {
		// What the log says besides the relations: every unit touched (some have no rows any
		// more: a table now excluded, a function now in an extension) and dropped, and its
		// status, as rows whose kind starts with #.
		branches = append(branches, `SELECT '#' || tag, coalesce(info, ''), '', code, oid, NULL, NULL::oid FROM (`+logRowsSQL+`) s`)
	}
	sql := strings.Join(branches, "\nUNION ALL\n")
	if len(ctes) > 0 {
		sql = "WITH " + strings.Join(ctes, ", ") + "\n" + sql
	}
	// A scoped statement starts from the units. The planner would rather scan a whole catalog
	// once than look each unit up: OFFSET 0 keeps the lateral subqueries from being flattened,
	// so each is one index lookup.
	units := "$2::oid[]"
	if scoped && !usesExcluded(family) {
		units = "$1::oid[]"
	}
	r := strings.NewReplacer(
		"{{scratch}}", pick(mode != modeTake, ", '"+logSchema+"'", ""),
		"{{relsrc}}", pick(scoped, "relc x CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = x.oid OFFSET 0) c", "pg_class c"),
		"{{hsrc}}", pick(scoped, "hcand x CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = x.oid OFFSET 0) c", "pg_class c"),
		"{{hdsrc}}", pick(scoped, "hcand x CROSS JOIN LATERAL (SELECT * FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = x.oid OFFSET 0) d", "pg_depend d"),
		"{{fnsrc}}", pick(scoped, "unnest({{units}}) x (oid) CROSS JOIN LATERAL (SELECT * FROM pg_proc p WHERE p.oid = x.oid OFFSET 0) p", "pg_proc p"),
		"{{typsrc}}", pick(scoped, "unnest({{units}}) x (oid) CROSS JOIN LATERAL (SELECT * FROM pg_type t WHERE t.oid = x.oid OFFSET 0) t", "pg_type t"),
		"{{nsscope}}", pick(scoped, " AND ns.oid = ANY ({{units}})", ""),
		"{{extscope}}", pick(scoped, " AND e.oid = ANY ({{units}})", ""),
		"{{rsrc}}", pick(mode == modeStep, "(SELECT uoid FROM units WHERE ucode = 'r') x (oid)", "unnest({{units}}) x (oid)"),
	)
	return strings.ReplaceAll(r.Replace(sql), "{{units}}", units)
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

func cte(name, query string) string { return name + " AS MATERIALIZED (\n" + query + "\n)" }

// commentsSQL is the branch of comments on the objects parts return.
func commentsSQL(parts []catalogQuery) string {
	var sqls []string
	for _, p := range parts {
		sqls = append(sqls, p.sql)
	}
	return `SELECT 'comment', o.kind || ' ' || o.qname, d.description, o.ucode, o.uoid, o.uqname, NULL::oid
FROM (
` + strings.Join(sqls, "\nUNION ALL\n") + `
) o (classoid, oid, subid, kind, qname, ucode, uoid, uqname)
JOIN pg_description d ON d.classoid = o.classoid AND d.objoid = o.oid AND d.objsubid = o.subid`
}

// The scope queries.
//
//	ns      user schemas, not created by an extension
//	hidden  excluded tables, and relations that belong to an extension
//	rel     relations in scope: not hidden, not an index of a hidden table, not a sequence owned
//	        by one; qname is schema.relation; the unit of an index is its table, the unit of a
//	        composite type's relation is the type
//	fn      functions in scope; qname carries the argument types, as COMMENT ON FUNCTION does
//	typ     enum, composite (standalone), domain and range types in scope
//
// The {{...src}} placeholders are whole catalogs in a full read, and the units' rows in a scoped
// one (see catalogSQL).
const (
	nsQuery = `SELECT n.oid, n.nspname
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'{{scratch}})
	AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
	AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')`
	hiddenQuery = `SELECT c.oid
FROM {{hsrc}} JOIN ns ON ns.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f') AND (c.relname = ANY ($1::text[]) OR ns.nspname || '.' || c.relname = ANY ($1::text[]))
UNION
SELECT d.objid FROM {{hdsrc}} WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'`
	relQuery = `SELECT c.oid, c.relkind, quote_ident(ns.nspname) || '.' || quote_ident(c.relname) AS qname,
	CASE WHEN c.relkind = 'c' THEN 't' ELSE 'r' END AS ucode,
	CASE WHEN c.relkind = 'c' THEN c.reltype ELSE coalesce(i.indrelid, c.oid) END AS uoid,
	quote_ident(ns.nspname) || '.' || quote_ident(coalesce(ic.relname, c.relname)) AS uqname
FROM {{relsrc}}
	JOIN ns ON ns.oid = c.relnamespace
	LEFT JOIN pg_index i ON i.indexrelid = c.oid
	LEFT JOIN pg_class ic ON ic.oid = i.indrelid
WHERE c.oid NOT IN (SELECT oid FROM hidden)
	AND (i.indrelid IS NULL OR i.indrelid NOT IN (SELECT oid FROM hidden))
	AND NOT (c.relkind = 'S' AND EXISTS (
		SELECT FROM pg_depend d
		WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
			AND d.deptype IN ('a', 'i') AND d.refobjid IN (SELECT oid FROM hidden)))`
	fnQuery = `SELECT p.oid, quote_ident(ns.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS qname
FROM {{fnsrc}} JOIN ns ON ns.oid = p.pronamespace
WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')`
	// relUnitsQuery is rel for the relation units {{rsrc}}: each unit's relation u and its
	// indexes c, unless u is hidden (an excluded table, a relation in an extension, a sequence
	// owned by a hidden table: hiddenQuery's conditions, asked of u alone) or c, an index, is in
	// an extension. The same rows as relQuery's for those units, with fewer plan nodes to start
	// at every step.
	relUnitsQuery = `SELECT c.oid, c.relkind, quote_ident(ns.nspname) || '.' || quote_ident(c.relname) AS qname,
	'r' AS ucode, u.oid AS uoid, quote_ident(ns.nspname) || '.' || quote_ident(u.relname) AS uqname
FROM {{rsrc}}
	CROSS JOIN LATERAL (SELECT * FROM pg_class u WHERE u.oid = x.oid OFFSET 0) u
	JOIN ns ON ns.oid = u.relnamespace
	CROSS JOIN LATERAL (SELECT u.oid UNION ALL SELECT i.indexrelid FROM pg_index i WHERE i.indrelid = u.oid) m (oid)
	CROSS JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = m.oid OFFSET 0) c
WHERE u.relkind NOT IN ('i', 'I', 'c')
	AND NOT (u.relkind IN ('r', 'p', 'f') AND (u.relname = ANY ($1::text[]) OR ns.nspname || '.' || u.relname = ANY ($1::text[])))
	AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = u.oid AND d.deptype = 'e')
	AND (c.oid = u.oid OR NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'))
	AND NOT (u.relkind = 'S' AND EXISTS (
		SELECT FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN ns tn ON tn.oid = t.relnamespace
		WHERE d.classid = 'pg_class'::regclass AND d.objid = u.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
			AND ((t.relkind IN ('r', 'p', 'f') AND (t.relname = ANY ($1::text[]) OR tn.nspname || '.' || t.relname = ANY ($1::text[])))
				OR EXISTS (SELECT FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = t.oid AND e.deptype = 'e'))))`
	// relcTypeQuery: the relations of the composite type units.
	relcTypeQuery = `SELECT c.oid FROM typ y JOIN pg_type t ON t.oid = y.oid JOIN pg_class c ON c.oid = t.typrelid WHERE c.relkind = 'c'`
	typQuery      = `SELECT t.oid, quote_ident(ns.nspname) || '.' || quote_ident(t.typname) AS qname
FROM {{typsrc}}
	JOIN ns ON ns.oid = t.typnamespace
	LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND c.relkind = 'c'))
	AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')`
)

// catalogQuery is one branch of the statement: what names it, family is the code of the units
// its objects belong to.
type catalogQuery struct {
	what   string
	family byte
	sql    string
}

// catalogQueries are the statement's branches but comments. Each returns kind, name, def, then
// the unit columns ucode, uoid, uqname and xoid. A function, not a package variable, so nothing
// can change the queries between two snapshots.
func catalogQueries() []catalogQuery {
	return []catalogQuery{
		{"schemas", 'n', `SELECT 'schema'::text AS kind, quote_ident(nspname) AS name, 'CREATE SCHEMA ' || quote_ident(nspname) AS def,
	'n'::text AS ucode, ns.oid AS uoid, quote_ident(nspname) AS uqname, NULL::oid AS xoid
FROM ns WHERE nspname <> 'public'{{nsscope}}`},

		// Tables, partitioned tables and foreign tables.
		{"tables", 'r', `SELECT 'table', r.qname, concat_ws(' ',
	CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' ELSE 'permanent' END,
	CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' ELSE 'table' END,
	(SELECT 'SERVER ' || quote_ident(s.srvname) FROM pg_foreign_table ft JOIN pg_foreign_server s ON s.oid = ft.ftserver WHERE ft.ftrelid = c.oid),
	(SELECT 'PARTITION OF ' || quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) || ' ' || pg_get_expr(c.relpartbound, c.oid)
		FROM pg_inherits ih JOIN pg_class pc ON pc.oid = ih.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE ih.inhrelid = c.oid AND c.relispartition),
	CASE WHEN c.relkind = 'p' THEN 'PARTITION BY ' || pg_get_partkeydef(c.oid) END,
	CASE WHEN c.reloftype <> 0 THEN 'OF ' || format_type(c.reloftype, NULL) END,
	(SELECT 'INHERITS (' || string_agg(quote_ident(pn.nspname) || '.' || quote_ident(pc.relname), ', ' ORDER BY ih.inhseqno) || ')'
		FROM pg_inherits ih JOIN pg_class pc ON pc.oid = ih.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE ih.inhrelid = c.oid AND NOT c.relispartition),
	(SELECT 'USING ' || quote_ident(am.amname) FROM pg_am am WHERE am.oid = c.relam AND am.amname <> 'heap'),
	'WITH (' || array_to_string(c.reloptions, ', ') || ')',
	(SELECT 'TOAST WITH (' || array_to_string(tc.reloptions, ', ') || ')' FROM pg_class tc WHERE tc.oid = c.reltoastrelid),
	(SELECT 'TABLESPACE ' || quote_ident(ts.spcname) FROM pg_tablespace ts WHERE ts.oid = c.reltablespace),
	(SELECT 'OPTIONS (' || array_to_string(ft.ftoptions, ', ') || ')' FROM pg_foreign_table ft WHERE ft.ftrelid = c.oid),
	(SELECT 'CLUSTER ON ' || quote_ident(ic.relname) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisclustered),
	CASE WHEN c.relrowsecurity THEN 'ROW LEVEL SECURITY' END,
	CASE WHEN c.relforcerowsecurity THEN 'FORCE ROW LEVEL SECURITY' END,
	CASE c.relreplident
		WHEN 'f' THEN 'REPLICA IDENTITY FULL'
		WHEN 'n' THEN 'REPLICA IDENTITY NOTHING'
		WHEN 'i' THEN (SELECT 'REPLICA IDENTITY USING INDEX ' || quote_ident(ic.relname)
			FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisreplident)
	END), r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r JOIN pg_class c ON c.oid = r.oid
WHERE r.relkind IN ('r', 'p', 'f')`},

		// Columns of tables; a view's columns follow from its definition.
		{"columns", 'r', `SELECT 'column', r.qname || '.' || quote_ident(a.attname), concat_ws(' ',
	format_type(a.atttypid, a.atttypmod),
	CASE WHEN a.attcollation <> t.typcollation THEN 'COLLATE ' || a.attcollation::regcollation::text END,
	CASE WHEN a.attnotnull THEN 'NOT NULL' END,
	CASE a.attgenerated
		WHEN 's' THEN 'GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED'
		WHEN 'v' THEN 'GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') VIRTUAL'
		-- A default cannot refer to a column, so it needs no relation to print: with one,
		-- pg_get_expr opens the table, which right after DDL on it means building its
		-- relcache entry again, for every snapshot.
		ELSE 'DEFAULT ' || pg_get_expr(ad.adbin, 0)
	END,
	CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END,
	CASE WHEN a.attstorage <> t.typstorage THEN 'STORAGE ' || CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END END,
	CASE a.attcompression WHEN 'p' THEN 'COMPRESSION pglz' WHEN 'l' THEN 'COMPRESSION lz4' END,
	'STATISTICS ' || nullif(a.attstattarget, -1),
	'WITH (' || array_to_string(a.attoptions, ', ') || ')',
	'OPTIONS (' || array_to_string(a.attfdwoptions, ', ') || ')'),
	r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r
	JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	JOIN pg_type t ON t.oid = a.atttypid
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE r.relkind IN ('r', 'p', 'f')`},

		// A view's columns follow from its definition, but a view column can have a default of
		// its own (ALTER VIEW ... ALTER COLUMN ... SET DEFAULT), which INSERTs through the view
		// use: it is the view column's object.
		{"view column defaults", 'r', `SELECT 'column', r.qname || '.' || quote_ident(a.attname), 'DEFAULT ' || pg_get_expr(ad.adbin, 0),
	r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r
	JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE r.relkind = 'v'`},

		// Column order, its own object so that it is its own kind of finding (see ColumnOrder):
		// the names of a table's columns in their physical order, for tables of two or more.
		{"column order", 'r', `SELECT 'column_order', r.qname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
	r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE r.relkind IN ('r', 'p', 'f')
GROUP BY r.qname, r.ucode, r.uoid, r.uqname
HAVING count(*) > 1`},

		// Extended statistics (CREATE STATISTICS) belong to their table. xoid is the object's
		// OID: DROP STATISTICS is logged without its table, like DROP INDEX.
		{"statistics", 'r', `SELECT 'statistics', quote_ident(sn.nspname) || '.' || quote_ident(s.stxname),
	pg_get_statisticsobjdef(s.oid) || coalesce(' STATISTICS ' || nullif(s.stxstattarget, -1), ''),
	r.ucode, r.uoid, r.uqname, s.oid
FROM rel r JOIN pg_statistic_ext s ON s.stxrelid = r.oid JOIN pg_namespace sn ON sn.oid = s.stxnamespace
WHERE r.relkind IN ('r', 'p', 'f', 'm')`},

		// Table constraints but NOT NULL (a column property here) and constraint triggers (triggers).
		{"constraints", 'r', `SELECT 'constraint', r.qname || '.' || quote_ident(k.conname), pg_get_constraintdef(k.oid), r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r JOIN pg_constraint k ON k.conrelid = r.oid
WHERE k.contype NOT IN ('n', 't')`},

		// Indexes but those that implement a constraint: the constraint says it all, and under the
		// same name.
		{"indexes", 'r', `SELECT 'index', r.qname, concat_ws(' ', pg_get_indexdef(i.indexrelid),
	(SELECT 'TABLESPACE ' || quote_ident(ts.spcname) FROM pg_tablespace ts JOIN pg_class ic ON ic.reltablespace = ts.oid WHERE ic.oid = i.indexrelid),
	(SELECT 'STATISTICS (' || string_agg(a.attnum || ' ' || a.attstattarget, ', ' ORDER BY a.attnum) || ')'
		FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0),
	(SELECT 'ATTACHED TO ' || quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
		FROM pg_inherits ih JOIN pg_class pc ON pc.oid = ih.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE ih.inhrelid = i.indexrelid),
	CASE WHEN NOT i.indisvalid THEN '(invalid)' END),
	r.ucode, r.uoid, r.uqname, r.oid
FROM rel r JOIN pg_index i ON i.indexrelid = r.oid
WHERE NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))`},

		{"sequences", 'r', `SELECT 'sequence', r.qname, concat_ws(' ',
	CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED' END,
	'AS ' || format_type(s.seqtypid, NULL),
	'START ' || s.seqstart, 'INCREMENT ' || s.seqincrement, 'MINVALUE ' || s.seqmin, 'MAXVALUE ' || s.seqmax, 'CACHE ' || s.seqcache,
	CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END,
	(SELECT CASE d.deptype WHEN 'i' THEN 'IDENTITY OF ' ELSE 'OWNED BY ' END
			|| quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || '.' || quote_ident(a.attname)
		FROM pg_depend d
			JOIN pg_class tc ON tc.oid = d.refobjid
			JOIN pg_namespace tn ON tn.oid = tc.relnamespace
			JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = d.refobjsubid
		WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
			AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
		LIMIT 1)), r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r JOIN pg_class c ON c.oid = r.oid JOIN pg_sequence s ON s.seqrelid = c.oid`},

		{"views", 'r', `SELECT CASE r.relkind WHEN 'v' THEN 'view' ELSE 'materialized_view' END, r.qname,
	concat_ws(E'\n', 'WITH (' || array_to_string(c.reloptions, ', ') || ')', pg_get_viewdef(c.oid, true)), r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r JOIN pg_class c ON c.oid = r.oid
WHERE r.relkind IN ('v', 'm')`},

		// pg_get_functiondef refuses aggregates: they are described by their parts. The CASE
		// guarantees it is never called on one.
		{"functions", 'f', `SELECT 'function', f.qname, CASE WHEN p.prokind = 'a' THEN
	(SELECT concat_ws(', ', 'AGGREGATE (SFUNC = ' || a.aggtransfn::regproc::text,
			'STYPE = ' || format_type(a.aggtranstype, NULL),
			'SSPACE = ' || nullif(a.aggtransspace, 0),
			'FINALFUNC = ' || nullif(a.aggfinalfn, 0)::regproc::text,
			CASE WHEN a.aggfinalextra THEN 'FINALFUNC_EXTRA' END,
			'FINALFUNC_MODIFY = ' || nullif(a.aggfinalmodify, 'r')::text,
			'COMBINEFUNC = ' || nullif(a.aggcombinefn, 0)::regproc::text,
			'SERIALFUNC = ' || nullif(a.aggserialfn, 0)::regproc::text,
			'DESERIALFUNC = ' || nullif(a.aggdeserialfn, 0)::regproc::text,
			'INITCOND = ' || quote_literal(a.agginitval),
			'MSFUNC = ' || nullif(a.aggmtransfn, 0)::regproc::text,
			'MINVFUNC = ' || nullif(a.aggminvtransfn, 0)::regproc::text,
			'MSTYPE = ' || format_type(nullif(a.aggmtranstype, 0), NULL),
			'MSSPACE = ' || nullif(a.aggmtransspace, 0),
			'MFINALFUNC = ' || nullif(a.aggmfinalfn, 0)::regproc::text,
			CASE WHEN a.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END,
			'MFINALFUNC_MODIFY = ' || nullif(a.aggmfinalmodify, 'r')::text,
			'MINITCOND = ' || quote_literal(a.aggminitval),
			'SORTOP = ' || nullif(a.aggsortop, 0)::regoperator::text,
			'KIND = ' || nullif(a.aggkind, 'n')::text,
			'PARALLEL = ' || nullif(p.proparallel, 'u')::text,
			CASE WHEN p.proisstrict THEN 'STRICT' END) || ')'
		FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
	ELSE pg_get_functiondef(p.oid) END, 'f', f.oid, f.qname, NULL::oid
FROM fn f JOIN pg_proc p ON p.oid = f.oid`},

		// Internal triggers implement foreign keys: the constraint covers them.
		{"triggers", 'r', `SELECT 'trigger', r.qname || '.' || quote_ident(t.tgname),
	pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'D' THEN ' (disabled)' WHEN 'R' THEN ' (enabled replica)' WHEN 'A' THEN ' (enabled always)' ELSE '' END,
	r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid
WHERE NOT t.tgisinternal`},

		{"types", 't', `SELECT 'type', y.qname, CASE t.typtype
	WHEN 'e' THEN 'ENUM (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '') || ')'
	WHEN 'c' THEN 'COMPOSITE (' || coalesce((
		SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
				|| CASE WHEN a.attcollation <> at.typcollation THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END,
			', ' ORDER BY a.attnum)
		FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
		WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')'
	WHEN 'd' THEN concat_ws(' ', 'DOMAIN ' || format_type(t.typbasetype, t.typtypmod),
		CASE WHEN t.typcollation <> bt.typcollation THEN 'COLLATE ' || t.typcollation::regcollation::text END,
		CASE WHEN t.typnotnull THEN 'NOT NULL' END,
		'DEFAULT ' || pg_get_expr(t.typdefaultbin, 0),
		(SELECT string_agg('CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid), ' ' ORDER BY k.conname)
			FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype <> 'n'))
	WHEN 'r' THEN (SELECT concat_ws(', ', 'RANGE (SUBTYPE = ' || format_type(rg.rngsubtype, NULL),
			'SUBTYPE_OPCLASS = ' || quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname),
			'COLLATION = ' || nullif(rg.rngcollation, 0)::regcollation::text,
			'CANONICAL = ' || nullif(rg.rngcanonical, 0)::regproc::text,
			'SUBTYPE_DIFF = ' || nullif(rg.rngsubdiff, 0)::regproc::text,
			'MULTIRANGE_TYPE_NAME = ' || format_type(rg.rngmultitypid, NULL)) || ')'
		FROM pg_range rg JOIN pg_opclass opc ON opc.oid = rg.rngsubopc JOIN pg_namespace opn ON opn.oid = opc.opcnamespace
		WHERE rg.rngtypid = t.oid)
	END, 't', y.oid, y.qname, NULL::oid
FROM typ y JOIN pg_type t ON t.oid = y.oid LEFT JOIN pg_type bt ON bt.oid = t.typbasetype`},

		// plpgsql is in every database from the start, like pg_catalog.
		{"extensions", 'e', `SELECT 'extension', quote_ident(e.extname), 'SCHEMA ' || quote_ident(n.nspname), 'e', e.oid, quote_ident(e.extname), NULL::oid
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname <> 'plpgsql'{{extscope}}`},

		{"policies", 'r', `SELECT 'policy', r.qname || '.' || quote_ident(p.polname), concat_ws(' ',
	'AS ' || CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
	'FOR ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
	'TO ' || (SELECT string_agg(role, ', ' ORDER BY role)
		FROM (SELECT CASE WHEN ro = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(ro)) END AS role FROM unnest(p.polroles) ro) roles),
	'USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
	'WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')'), r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r JOIN pg_policy p ON p.polrelid = r.oid`},

		// A view's own rule is named _RETURN and is the view.
		{"rules", 'r', `SELECT 'rule', r.qname || '.' || quote_ident(w.rulename),
	pg_get_ruledef(w.oid, true) || CASE w.ev_enabled WHEN 'D' THEN ' (disabled)' WHEN 'R' THEN ' (enabled replica)' WHEN 'A' THEN ' (enabled always)' ELSE '' END,
	r.ucode, r.uoid, r.uqname, NULL::oid
FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid
WHERE w.rulename <> '_RETURN'`},
	}
}

// commentParts are the objects comments can be on, by family: each returns the object's
// (classoid, oid, subid) as pg_description keys it (subid 0 for the object itself), the kind and
// name that name the comment ("<kind> <name>", comment column public.users.email), and its unit.
func commentParts() []catalogQuery {
	return []catalogQuery{
		{"relations", 'r', `	SELECT 'pg_class'::regclass AS classoid, r.oid, 0 AS subid,
		CASE r.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view' WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE 'table' END AS kind,
		r.qname, r.ucode, r.uoid, r.uqname
	FROM rel r WHERE r.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I')`},
		{"columns", 'r', `	SELECT 'pg_class'::regclass, r.oid, a.attnum, 'column', r.qname || '.' || quote_ident(a.attname), r.ucode, r.uoid, r.uqname
	FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	WHERE r.relkind IN ('r', 'p', 'f', 'v', 'm')`},
		{"attributes", 't', `	SELECT 'pg_class'::regclass, r.oid, a.attnum, 'column', r.qname || '.' || quote_ident(a.attname), r.ucode, r.uoid, r.uqname
	FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	WHERE r.relkind = 'c'`},
		{"constraints", 'r', `	SELECT 'pg_constraint'::regclass, k.oid, 0, 'constraint', r.qname || '.' || quote_ident(k.conname), r.ucode, r.uoid, r.uqname
	FROM rel r JOIN pg_constraint k ON k.conrelid = r.oid`},
		{"domain constraints", 't', `	SELECT 'pg_constraint'::regclass, k.oid, 0, 'constraint', y.qname || '.' || quote_ident(k.conname), 't', y.oid, y.qname
	FROM typ y JOIN pg_constraint k ON k.contypid = y.oid`},
		{"statistics", 'r', `	SELECT 'pg_statistic_ext'::regclass, s.oid, 0, 'statistics', quote_ident(sn.nspname) || '.' || quote_ident(s.stxname), r.ucode, r.uoid, r.uqname
	FROM rel r JOIN pg_statistic_ext s ON s.stxrelid = r.oid JOIN pg_namespace sn ON sn.oid = s.stxnamespace
	WHERE r.relkind IN ('r', 'p', 'f', 'm')`},
		{"functions", 'f', `	SELECT 'pg_proc'::regclass, f.oid, 0, 'function', f.qname, 'f', f.oid, f.qname FROM fn f`},
		{"triggers", 'r', `	SELECT 'pg_trigger'::regclass, t.oid, 0, 'trigger', r.qname || '.' || quote_ident(t.tgname), r.ucode, r.uoid, r.uqname
	FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid WHERE NOT t.tgisinternal`},
		{"types", 't', `	SELECT 'pg_type'::regclass, y.oid, 0, 'type', y.qname, 't', y.oid, y.qname FROM typ y`},
		{"schemas", 'n', `	SELECT 'pg_namespace'::regclass, ns.oid, 0, 'schema', quote_ident(ns.nspname), 'n', ns.oid, quote_ident(ns.nspname)
	FROM ns WHERE ns.nspname <> 'public'{{nsscope}}`},
		{"policies", 'r', `	SELECT 'pg_policy'::regclass, p.oid, 0, 'policy', r.qname || '.' || quote_ident(p.polname), r.ucode, r.uoid, r.uqname
	FROM rel r JOIN pg_policy p ON p.polrelid = r.oid`},
		{"rules", 'r', `	SELECT 'pg_rewrite'::regclass, w.oid, 0, 'rule', r.qname || '.' || quote_ident(w.rulename), r.ucode, r.uoid, r.uqname
	FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid WHERE w.rulename <> '_RETURN'`},
	}
}
