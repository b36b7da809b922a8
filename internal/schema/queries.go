package schema

// The catalog queries Take sends in one batch. Each returns (kind, name, def) rows; sorting is
// done in Go, bytewise, so no ORDER BY depends on the database's collation. Every query starts
// with prefixSQL, whose CTEs PostgreSQL inlines only where a query uses them.
//
// Names are built with quote_ident, never with regclass or OIDs, and definitions come from the
// pg_get_* functions under settingsSQL, so they are the same on every run and every database.

// settingsSQL fixes every setting that changes how definitions print, for the current
// transaction only (set_config's third argument): with search_path = pg_catalog every user
// object is printed schema-qualified, and constants in defaults print the same whatever the
// session's DateStyle or TimeZone.
const settingsSQL = `SELECT set_config('search_path', 'pg_catalog', true),
	set_config('DateStyle', 'ISO, YMD', true),
	set_config('IntervalStyle', 'postgres', true),
	set_config('TimeZone', 'UTC', true),
	set_config('extra_float_digits', '1', true),
	set_config('bytea_output', 'hex', true),
	set_config('plan_cache_mode', 'force_generic_plan', true)`

// prefixSQL defines what is in scope. $1 is the excluded table names (text[]).
//
//	ns      user schemas, not created by an extension
//	hidden  excluded tables, and relations that belong to an extension
//	rel     relations in scope: not hidden, not an index of a hidden table, not a sequence owned
//	        by one; qname is schema.relation
//	fn      functions in scope; qname carries the argument types, as COMMENT ON FUNCTION does
//	typ     enum, composite (standalone), domain and range types in scope
const prefixSQL = `WITH ns AS (
	SELECT n.oid, n.nspname
	FROM pg_namespace n
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
		AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
), hidden AS (
	SELECT c.oid
	FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p', 'f') AND (c.relname = ANY ($1::text[]) OR ns.nspname || '.' || c.relname = ANY ($1::text[]))
	UNION
	SELECT d.objid FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
), rel AS (
	SELECT c.oid, c.relkind, quote_ident(ns.nspname) || '.' || quote_ident(c.relname) AS qname
	FROM pg_class c
		JOIN ns ON ns.oid = c.relnamespace
		LEFT JOIN pg_index i ON i.indexrelid = c.oid
	WHERE c.oid NOT IN (SELECT oid FROM hidden)
		AND (i.indrelid IS NULL OR i.indrelid NOT IN (SELECT oid FROM hidden))
		AND NOT (c.relkind = 'S' AND EXISTS (
			SELECT FROM pg_depend d
			WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
				AND d.deptype IN ('a', 'i') AND d.refobjid IN (SELECT oid FROM hidden)))
), fn AS (
	SELECT p.oid, quote_ident(ns.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS qname
	FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
	WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
), typ AS (
	SELECT t.oid, quote_ident(ns.nspname) || '.' || quote_ident(t.typname) AS qname
	FROM pg_type t
		JOIN ns ON ns.oid = t.typnamespace
		LEFT JOIN pg_class c ON c.oid = t.typrelid
	WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND c.relkind = 'c'))
		AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
)
`

// catalogQuery is one query of the batch; what names it in errors.
type catalogQuery struct {
	what string
	sql  string // after prefixSQL
}

// catalogQueries are sent in this order; the order does not matter, the result is sorted. A
// function, not a package variable, so nothing can change the queries between two snapshots.
func catalogQueries() []catalogQuery {
	return []catalogQuery{
		{"schemas", `SELECT 'schema', quote_ident(nspname), 'CREATE SCHEMA ' || quote_ident(nspname)
FROM ns WHERE nspname <> 'public'`},

		// Tables, partitioned tables and foreign tables.
		{"tables", `SELECT 'table', r.qname, concat_ws(' ',
	CASE c.relpersistence WHEN 'u' THEN 'unlogged' WHEN 't' THEN 'temporary' ELSE 'permanent' END,
	CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' ELSE 'table' END,
	(SELECT 'SERVER ' || quote_ident(s.srvname) FROM pg_foreign_table ft JOIN pg_foreign_server s ON s.oid = ft.ftserver WHERE ft.ftrelid = c.oid),
	(SELECT 'PARTITION OF ' || quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) || ' ' || pg_get_expr(c.relpartbound, c.oid)
		FROM pg_inherits ih JOIN pg_class pc ON pc.oid = ih.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE ih.inhrelid = c.oid AND c.relispartition),
	CASE WHEN c.relkind = 'p' THEN 'PARTITION BY ' || pg_get_partkeydef(c.oid) END,
	(SELECT 'INHERITS (' || string_agg(quote_ident(pn.nspname) || '.' || quote_ident(pc.relname), ', ' ORDER BY ih.inhseqno) || ')'
		FROM pg_inherits ih JOIN pg_class pc ON pc.oid = ih.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
		WHERE ih.inhrelid = c.oid AND NOT c.relispartition),
	(SELECT 'USING ' || quote_ident(am.amname) FROM pg_am am WHERE am.oid = c.relam AND am.amname <> 'heap'),
	'WITH (' || array_to_string(c.reloptions, ', ') || ')',
	CASE WHEN c.relrowsecurity THEN 'ROW LEVEL SECURITY' END,
	CASE WHEN c.relforcerowsecurity THEN 'FORCE ROW LEVEL SECURITY' END,
	CASE c.relreplident
		WHEN 'f' THEN 'REPLICA IDENTITY FULL'
		WHEN 'n' THEN 'REPLICA IDENTITY NOTHING'
		WHEN 'i' THEN (SELECT 'REPLICA IDENTITY USING INDEX ' || quote_ident(ic.relname)
			FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisreplident)
	END)
FROM rel r JOIN pg_class c ON c.oid = r.oid
WHERE r.relkind IN ('r', 'p', 'f')`},

		// Columns of tables; a view's columns follow from its definition.
		{"columns", `SELECT 'column', r.qname || '.' || quote_ident(a.attname), concat_ws(' ',
	format_type(a.atttypid, a.atttypmod),
	CASE WHEN a.attcollation <> t.typcollation THEN 'COLLATE ' || a.attcollation::regcollation::text END,
	CASE WHEN a.attnotnull THEN 'NOT NULL' END,
	CASE a.attgenerated
		WHEN 's' THEN 'GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED'
		WHEN 'v' THEN 'GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') VIRTUAL'
		ELSE 'DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid)
	END,
	CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END)
FROM rel r
	JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	JOIN pg_type t ON t.oid = a.atttypid
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE r.relkind IN ('r', 'p', 'f')`},

		// Table constraints but NOT NULL (a column property here) and constraint triggers (triggers).
		{"constraints", `SELECT 'constraint', r.qname || '.' || quote_ident(k.conname), pg_get_constraintdef(k.oid)
FROM rel r JOIN pg_constraint k ON k.conrelid = r.oid
WHERE k.contype NOT IN ('n', 't')`},

		// Indexes but those that implement a constraint: the constraint says it all, and under the
		// same name.
		{"indexes", `SELECT 'index', r.qname, pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END
FROM rel r JOIN pg_index i ON i.indexrelid = r.oid
WHERE NOT EXISTS (SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))`},

		{"sequences", `SELECT 'sequence', r.qname, concat_ws(' ',
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
		LIMIT 1))
FROM rel r JOIN pg_class c ON c.oid = r.oid JOIN pg_sequence s ON s.seqrelid = c.oid`},

		{"views", `SELECT CASE r.relkind WHEN 'v' THEN 'view' ELSE 'materialized_view' END, r.qname,
	concat_ws(E'\n', 'WITH (' || array_to_string(c.reloptions, ', ') || ')', pg_get_viewdef(c.oid, true))
FROM rel r JOIN pg_class c ON c.oid = r.oid
WHERE r.relkind IN ('v', 'm')`},

		// pg_get_functiondef refuses aggregates: they are described by their parts. The CASE
		// guarantees it is never called on one.
		{"functions", `SELECT 'function', f.qname, CASE WHEN p.prokind = 'a' THEN
	(SELECT concat_ws(', ', 'AGGREGATE (SFUNC = ' || a.aggtransfn::regproc::text,
			'STYPE = ' || format_type(a.aggtranstype, NULL),
			'FINALFUNC = ' || nullif(a.aggfinalfn, 0)::regproc::text,
			'COMBINEFUNC = ' || nullif(a.aggcombinefn, 0)::regproc::text,
			'INITCOND = ' || quote_literal(a.agginitval)) || ')'
		FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
	ELSE pg_get_functiondef(p.oid) END
FROM fn f JOIN pg_proc p ON p.oid = f.oid`},

		// Internal triggers implement foreign keys: the constraint covers them.
		{"triggers", `SELECT 'trigger', r.qname || '.' || quote_ident(t.tgname),
	pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'D' THEN ' (disabled)' WHEN 'R' THEN ' (enabled replica)' WHEN 'A' THEN ' (enabled always)' ELSE '' END
FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid
WHERE NOT t.tgisinternal`},

		{"types", `SELECT 'type', y.qname, CASE t.typtype
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
			'SUBTYPE_DIFF = ' || nullif(rg.rngsubdiff, 0)::regproc::text) || ')'
		FROM pg_range rg JOIN pg_opclass opc ON opc.oid = rg.rngsubopc JOIN pg_namespace opn ON opn.oid = opc.opcnamespace
		WHERE rg.rngtypid = t.oid)
	END
FROM typ y JOIN pg_type t ON t.oid = y.oid LEFT JOIN pg_type bt ON bt.oid = t.typbasetype`},

		// plpgsql is in every database from the start, like pg_catalog.
		{"extensions", `SELECT 'extension', quote_ident(e.extname), 'SCHEMA ' || quote_ident(n.nspname)
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname <> 'plpgsql'`},

		{"policies", `SELECT 'policy', r.qname || '.' || quote_ident(p.polname), concat_ws(' ',
	'AS ' || CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
	'FOR ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
	'TO ' || (SELECT string_agg(role, ', ' ORDER BY role)
		FROM (SELECT CASE WHEN ro = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(ro)) END AS role FROM unnest(p.polroles) ro) roles),
	'USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
	'WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')')
FROM rel r JOIN pg_policy p ON p.polrelid = r.oid`},

		// A view's own rule is named _RETURN and is the view.
		{"rules", `SELECT 'rule', r.qname || '.' || quote_ident(w.rulename),
	pg_get_ruledef(w.oid, true) || CASE w.ev_enabled WHEN 'D' THEN ' (disabled)' WHEN 'R' THEN ' (enabled replica)' WHEN 'A' THEN ' (enabled always)' ELSE '' END
FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid
WHERE w.rulename <> '_RETURN'`},

		// Comments, named "<kind> <name>" after the object they are on. pg_description keys an
		// object by its catalog, OID and column number (0 for the object itself).
		{"comments", `SELECT 'comment', o.kind || ' ' || o.qname, d.description
FROM pg_description d JOIN (
	SELECT 'pg_class'::regclass AS classoid, r.oid, 0 AS subid,
		CASE r.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view' WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' ELSE 'table' END AS kind,
		r.qname
	FROM rel r WHERE r.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'i', 'I')
	UNION ALL
	SELECT 'pg_class'::regclass, r.oid, a.attnum, 'column', r.qname || '.' || quote_ident(a.attname)
	FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	WHERE r.relkind IN ('r', 'p', 'f', 'v', 'm', 'c')
	UNION ALL
	SELECT 'pg_constraint'::regclass, k.oid, 0, 'constraint', r.qname || '.' || quote_ident(k.conname)
	FROM rel r JOIN pg_constraint k ON k.conrelid = r.oid
	UNION ALL
	SELECT 'pg_constraint'::regclass, k.oid, 0, 'constraint', y.qname || '.' || quote_ident(k.conname)
	FROM typ y JOIN pg_constraint k ON k.contypid = y.oid
	UNION ALL
	SELECT 'pg_proc'::regclass, f.oid, 0, 'function', f.qname FROM fn f
	UNION ALL
	SELECT 'pg_trigger'::regclass, t.oid, 0, 'trigger', r.qname || '.' || quote_ident(t.tgname)
	FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid WHERE NOT t.tgisinternal
	UNION ALL
	SELECT 'pg_type'::regclass, y.oid, 0, 'type', y.qname FROM typ y
	UNION ALL
	SELECT 'pg_namespace'::regclass, ns.oid, 0, 'schema', quote_ident(ns.nspname) FROM ns WHERE ns.nspname <> 'public'
	UNION ALL
	SELECT 'pg_policy'::regclass, p.oid, 0, 'policy', r.qname || '.' || quote_ident(p.polname)
	FROM rel r JOIN pg_policy p ON p.polrelid = r.oid
	UNION ALL
	SELECT 'pg_rewrite'::regclass, w.oid, 0, 'rule', r.qname || '.' || quote_ident(w.rulename)
	FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid WHERE w.rulename <> '_RETURN'
) o ON o.classoid = d.classoid AND o.oid = d.objoid AND o.subid = d.objsubid`},
	}
}
