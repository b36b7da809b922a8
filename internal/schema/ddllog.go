package schema

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

// The DDL log: its SQL, and what its rows say. See incremental.go for how the tracker uses it.

// The DDL log's schema and event triggers. RoundTrip refuses a database that has the schema
// already, and removes all of them when it ends.
const (
	logSchema   = "visiona_roundtrip_log"
	ddlTrigger  = "visiona_roundtrip_ddl"
	dropTrigger = "visiona_roundtrip_drop"
)

// installLogSQL creates the log. The table is unlogged: the entries are read by the same server
// run, and a migration's commit should not pay for writing them to the WAL. The columns allow
// NULL so that no command can fail because of what the log records about it. Everything the
// functions call is schema-qualified: they run under the migrating session's search_path.
const installLogSQL = `CREATE SCHEMA ` + logSchema + `;
CREATE UNLOGGED TABLE ` + logSchema + `.ddl (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dropped boolean,
	classid oid,
	objid oid,
	objsubid integer,
	object_type text,
	object_identity text,
	address_names text[],
	command_tag text
);
CREATE FUNCTION ` + logSchema + `.log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ` + logSchema + `.ddl (dropped, classid, objid, objsubid, object_type, object_identity, command_tag)
	SELECT false, c.classid, c.objid, c.objsubid, c.object_type, c.object_identity, c.command_tag
	FROM pg_catalog.pg_event_trigger_ddl_commands() c;
END
$$;
CREATE FUNCTION ` + logSchema + `.log_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ` + logSchema + `.ddl (dropped, classid, objid, objsubid, object_type, object_identity, address_names, command_tag)
	SELECT true, d.classid, d.objid, d.objsubid, d.object_type, d.object_identity, d.address_names, TG_TAG
	FROM pg_catalog.pg_event_trigger_dropped_objects() d;
END
$$;
CREATE EVENT TRIGGER ` + ddlTrigger + ` ON ddl_command_end EXECUTE FUNCTION ` + logSchema + `.log_ddl();
CREATE EVENT TRIGGER ` + dropTrigger + ` ON sql_drop EXECUTE FUNCTION ` + logSchema + `.log_drop();
ALTER EVENT TRIGGER ` + ddlTrigger + ` ENABLE ALWAYS;
ALTER EVENT TRIGGER ` + dropTrigger + ` ENABLE ALWAYS`

const removeLogSQL = `DROP EVENT TRIGGER IF EXISTS ` + ddlTrigger + `;
DROP EVENT TRIGGER IF EXISTS ` + dropTrigger + `;
DROP SCHEMA IF EXISTS ` + logSchema + ` CASCADE`

// logUnitsSQL is the CTEs that read the log entries after {{last}} and find the units they
// touch (units: code and OID).
//
// A change can show in other units than its object's, because definitions print the names of
// what they refer to: renaming a column changes the views and foreign keys that use it, renaming
// a sequence the defaults that call nextval on it, renaming a function the triggers that execute
// it, renaming a table the functions that take its row type. Only ALTER commands can do that:
// CREATE (OR REPLACE) and COMMENT change their own object, and DROP reports everything it drops.
// So for the objects of ALTER commands the touched objects also include
//
//	part  what is internally part of them, two levels down (a table's row type and that type's
//	      array type, a type's array type, a composite type's relation, a view's rule, an
//	      identity sequence)
//	dep   every object that depends on one of those (pg_depend): whatever prints their names
//
// and every touched object is mapped to its unit. Schemas and extensions are units but their
// dependents are not followed: everything in a schema depends on it, every member on its
// extension; the commands that change how those dependents print (ALTER SCHEMA, ALTER EXTENSION)
// distrust the log (logRowsSQL).
//
// Dropped objects are gone from the catalogs: a dropped constraint, trigger, policy, rule or
// default names its table in address_names; a dropped index names only itself, and the tracker
// finds its table from the index OIDs of the rows it read before.
//
// The log is read by id > {{last}} AND id <= {{last}} + 10^9 rather than id > {{last}} alone:
// the plan is made once, and a range whose bounds are parameters is estimated at a few rows,
// where a half-open one is a third of the table, which makes every join above it look costly.
const logUnitsSQL = `log AS MATERIALIZED (
	SELECT l.id, l.dropped, l.classid, l.objid, l.object_type, l.object_identity, l.address_names, l.command_tag
	FROM ` + logSchema + `.ddl l
	WHERE l.id > {{last}} AND l.id <= {{last}} + 1000000000
), seed AS MATERIALIZED (
	SELECT classid, objid FROM log
	WHERE command_tag LIKE 'ALTER %' AND classid NOT IN ('pg_namespace'::regclass, 'pg_extension'::regclass)
), part AS MATERIALIZED (
	SELECT classid, objid FROM seed
	UNION
	SELECT d.classid, d.objid FROM seed s JOIN pg_depend d ON d.refclassid = s.classid AND d.refobjid = s.objid AND d.deptype = 'i'
	UNION
	SELECT d2.classid, d2.objid
	FROM seed s
		JOIN pg_depend d ON d.refclassid = s.classid AND d.refobjid = s.objid AND d.deptype = 'i'
		JOIN pg_depend d2 ON d2.refclassid = d.classid AND d2.refobjid = d.objid AND d2.deptype = 'i'
), cand AS MATERIALIZED (
	SELECT classid, objid FROM log
	UNION
	SELECT classid, objid FROM part
	UNION
	SELECT d.classid, d.objid FROM part p JOIN pg_depend d ON d.refclassid = p.classid AND d.refobjid = p.objid AND d.deptype <> 'e'
), units AS MATERIALIZED (
	SELECT DISTINCT ucode, uoid FROM (
		SELECT CASE WHEN c.relkind = 'c' THEN 't' ELSE 'r' END AS ucode,
			CASE WHEN c.relkind = 'c' THEN c.reltype ELSE coalesce(i.indrelid, c.oid) END AS uoid
		FROM cand x JOIN pg_class c ON c.oid = x.objid LEFT JOIN pg_index i ON i.indexrelid = c.oid
		WHERE x.classid = 'pg_class'::regclass
		UNION ALL
		SELECT CASE WHEN k.conrelid <> 0 THEN 'r' ELSE 't' END, CASE WHEN k.conrelid <> 0 THEN k.conrelid ELSE k.contypid END
		FROM cand x JOIN pg_constraint k ON k.oid = x.objid WHERE x.classid = 'pg_constraint'::regclass
		UNION ALL
		SELECT 'r', t.tgrelid FROM cand x JOIN pg_trigger t ON t.oid = x.objid WHERE x.classid = 'pg_trigger'::regclass
		UNION ALL
		SELECT 'r', p.polrelid FROM cand x JOIN pg_policy p ON p.oid = x.objid WHERE x.classid = 'pg_policy'::regclass
		UNION ALL
		SELECT 'r', w.ev_class FROM cand x JOIN pg_rewrite w ON w.oid = x.objid WHERE x.classid = 'pg_rewrite'::regclass
		UNION ALL
		SELECT 'r', a.adrelid FROM cand x JOIN pg_attrdef a ON a.oid = x.objid WHERE x.classid = 'pg_attrdef'::regclass
		UNION ALL
		SELECT 'r', s.stxrelid FROM cand x JOIN pg_statistic_ext s ON s.oid = x.objid WHERE x.classid = 'pg_statistic_ext'::regclass
		UNION ALL
		SELECT CASE x.classid WHEN 'pg_proc'::regclass THEN 'f' WHEN 'pg_namespace'::regclass THEN 'n' ELSE 'e' END, x.objid
		FROM cand x WHERE x.classid IN ('pg_proc'::regclass, 'pg_namespace'::regclass, 'pg_extension'::regclass)
		UNION ALL
		-- An array type or a multirange stands for its element or range type; a table's row
		-- type for the table, a composite type's for the type.
		SELECT CASE WHEN c.relkind IS NULL OR c.relkind = 'c' THEN 't' ELSE 'r' END, CASE WHEN c.relkind IS NULL OR c.relkind = 'c' THEN b.oid ELSE c.oid END
		FROM cand x
			JOIN pg_type t ON t.oid = x.objid
			LEFT JOIN pg_range mr ON mr.rngmultitypid = t.oid
			JOIN pg_type b ON b.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE coalesce(mr.rngtypid, t.oid) END
			LEFT JOIN pg_class c ON c.oid = b.typrelid
		WHERE x.classid = 'pg_type'::regclass
		UNION ALL
		SELECT 'r', to_regclass(quote_ident(l.address_names[1]) || '.' || quote_ident(l.address_names[2]))::oid
		FROM log l WHERE l.dropped AND l.object_type IN ('table constraint', 'trigger', 'policy', 'rule', 'default value')
	) u WHERE uoid IS NOT NULL AND uoid <> 0
)`

// logRowsSQL returns, from logUnitsSQL's CTEs, (tag, code, oid, info) rows: the units touched
// ('unit'), what was dropped ('dropped': the unit a dropped relation, type, function, schema or
// extension was, or a dropped index), and the log's status: the last entry's id ('last'), the
// commands after which the log cannot be trusted ('distrust', see the top of this file), how
// many of our event triggers are in place and enabled ('triggers'), and a fingerprint of the
// shared catalogs whose names snapshots print ('shared': the number of rows and the sum of their
// xmin, which any insert, update or delete changes; a list of the rows would be exact against
// changes that cancel out in the sum, and cost a tenth of the step more).
const logRowsSQL = `SELECT 'unit' AS tag, ucode AS code, uoid AS oid, NULL AS info FROM units
UNION ALL
SELECT 'dropped', CASE l.classid WHEN 'pg_class'::regclass THEN 'r' WHEN 'pg_statistic_ext'::regclass THEN 'r' WHEN 'pg_type'::regclass THEN 't'
		WHEN 'pg_proc'::regclass THEN 'f' WHEN 'pg_namespace'::regclass THEN 'n' ELSE 'e' END, l.objid, NULL
FROM log l
WHERE l.dropped AND l.classid IN ('pg_class'::regclass, 'pg_statistic_ext'::regclass, 'pg_type'::regclass, 'pg_proc'::regclass, 'pg_namespace'::regclass, 'pg_extension'::regclass)
UNION ALL
SELECT 'last', NULL, NULL, max(l.id)::text FROM log l
UNION ALL
SELECT 'distrust', NULL, NULL, string_agg(DISTINCT l.command_tag || ' ' || coalesce(l.object_identity, ''), ', ')
FROM log l LEFT JOIN pg_class c ON l.classid = 'pg_class'::regclass AND c.oid = l.objid
WHERE l.command_tag IN ('ALTER SCHEMA', 'ALTER EXTENSION', 'DROP OWNED')
	OR (l.command_tag = 'ALTER TABLE' AND c.relkind = 'p')
	OR (l.classid = 'pg_class'::regclass AND EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = l.objid))
	OR (l.classid = 'pg_trigger'::regclass AND EXISTS (
		SELECT FROM pg_trigger t JOIN pg_inherits i ON i.inhparent = t.tgrelid WHERE t.oid = l.objid))
UNION ALL
SELECT 'triggers', NULL, NULL, count(*)::text
FROM pg_event_trigger e WHERE e.evtname IN ('` + ddlTrigger + `', '` + dropTrigger + `') AND e.evtenabled = 'A'
UNION ALL
SELECT 'shared', NULL, NULL, (SELECT count(*) || ' ' || sum(a.xmin::text::bigint) FROM pg_authid a)
	|| ' ' || (SELECT count(*) || ' ' || sum(s.xmin::text::bigint) FROM pg_tablespace s)`

// logRead is what the log's rows said.
type logRead struct {
	units    []unitID // touched
	dropped  []unitID // dropped relations (or indexes), types, functions, schemas, extensions
	lastID   int64    // 0: no entry after the one asked for
	distrust string   // the commands that make the log untrustworthy for this step
	triggers int
	shared   string
}

// trusted reports whether the log can be trusted for the entries read, given the shared
// catalogs' fingerprint at the last snapshot.
func (lr *logRead) trusted(shared string) (bool, string) {
	switch {
	case lr.triggers != 2:
		return false, "the DDL log's event triggers were dropped or disabled"
	case lr.distrust != "":
		return false, "the log cannot be trusted after " + lr.distrust
	case lr.shared != shared:
		return false, "roles or tablespaces changed"
	}
	return true, ""
}

// add is one of the log's rows.
func (lr *logRead) add(tag string, code pgtype.Text, oid pgtype.Uint32, info pgtype.Text) error {
	switch tag {
	case "unit", "dropped":
		if len(code.String) != 1 || !oid.Valid {
			return fmt.Errorf("DDL log: %s %q %v", tag, code.String, oid)
		}
		id := unitID{code.String[0], oid.Uint32}
		if tag == "unit" {
			lr.units = append(lr.units, id)
		} else {
			lr.dropped = append(lr.dropped, id)
		}
	case "last":
		if info.Valid {
			if _, err := fmt.Sscan(info.String, &lr.lastID); err != nil {
				return fmt.Errorf("DDL log: last entry %q: %w", info.String, err)
			}
		}
	case "distrust":
		lr.distrust = info.String
	case "triggers":
		if _, err := fmt.Sscan(info.String, &lr.triggers); err != nil {
			return fmt.Errorf("DDL log: event triggers %q: %w", info.String, err)
		}
	case "shared":
		lr.shared = info.String
	default:
		return fmt.Errorf("DDL log: unknown row %q", tag)
	}
	return nil
}
