package schema

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Incremental snapshots, for RoundTrip.
//
// A full snapshot reads the whole schema, so a walk that takes one after each of N migrations
// costs O(N²). RoundTrip instead installs a DDL log: two event triggers that record every object
// a command creates, alters, comments on or drops (pg_event_trigger_ddl_commands at
// ddl_command_end, pg_event_trigger_dropped_objects at sql_drop) in a table of a schema of their
// own, which the walk's snapshots leave out. After each migration the tracker reads the entries
// the migration added, finds the units they touch (logUnitsSQL) and reads only those, with Take's
// queries narrowed to them (queries.go): one round trip when only relations were touched
// (walkStepSQL), the common case, and one more otherwise. The schema is kept as a map from unit
// name to the unit's objects, so the state after a step is the one before with the touched
// units replaced: a step costs what it changed, not the size of the schema.
//
// Event triggers fire for DDL run from functions, DO blocks and other event triggers, and ours
// are ENABLE ALWAYS so that session_replication_role cannot silence them. What they do not show,
// and how the tracker copes:
//
//   - Shared objects (roles, tablespaces) have no event triggers, yet a policy prints role names
//     and an index its tablespace: a step after which pg_authid or pg_tablespace changed takes a
//     full snapshot.
//   - ALTER SCHEMA (a rename changes the name of everything in the schema, and of what other
//     schemas' objects print), ALTER EXTENSION (members added or removed), DROP OWNED (which also
//     edits policies' role lists), a command on a relation with inheritance children or on one
//     of its triggers (changes propagate down trees of any depth), and ALTER TABLE on a
//     partitioned table (DETACH PARTITION is logged on the parent only, but changes the former
//     partition): full snapshot.
//   - No-transaction migrations (REINDEX, which event triggers report only from PostgreSQL 17,
//     is run CONCURRENTLY there): full snapshot.
//   - A migration that drops or disables the log's event triggers: full snapshots from then on.
//   - Catalog updates by hand (UPDATE pg_class ...), SET event_triggers = off (PostgreSQL 17):
//     nothing sees them as they happen. The next full snapshot does: RoundTrip takes one at the
//     end of each walk, compares it with the incremental state, and walks again with full
//     snapshots if they differ. A step the log cannot be trusted for also takes a full snapshot,
//     and such a change found there counts as that step's; and a unit read again for another
//     reason shows it from then on. Either can blame a migration for what an earlier one did
//     without DDL, or, if a later migration undoes it the same way, miss it altogether: the
//     proof is exact for migrations that change the schema with DDL.

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

// unitID is a unit as the catalogs know it: its code (see queries.go) and OID. OIDs change when
// an object is dropped and created again, so states are compared by unit name, not by unitID.
type unitID struct {
	code byte
	oid  uint32
}

// change is a unit before and after a step; nil is absent (a unit that exists has at least the
// object it is named after).
type change struct {
	before, after []Object
}

// delta is what one step changed, by unit name: only units whose objects differ.
type delta map[string]change

// state is a schema by unit.
type state struct {
	units map[string][]Object // unit name ("<code> <qualified name>") to its objects, sorted
	names map[unitID]string   // the units in units, by ID
	// index maps an index's OID to its table's unit, for a DROP INDEX, which the log reports
	// without its table. Entries are never removed: a stale one only makes a step read a unit
	// it did not need to.
	index map[uint32]unitID
	// identity maps a table's unit name to its identity sequences: the sequence's unit and the
	// column it is the identity of. ALTER TABLE ... DROP IDENTITY drops the sequence without a
	// sql_drop event, so the log never names it; the tracker finds it gone from its column
	// (dropLostIdentities). Entries are checked when used, never removed otherwise.
	identity map[string][]identitySeq
}

// identitySeq is an identity sequence of a table.
type identitySeq struct {
	id     unitID
	name   string // the sequence's unit name
	column string // the column's object name
}

func newState() *state {
	return &state{units: map[string][]Object{}, names: map[unitID]string{}, index: map[uint32]unitID{}, identity: map[string][]identitySeq{}}
}

// snapshot is the state as a Snapshot.
func (s *state) snapshot() *Snapshot {
	n := 0
	for _, objs := range s.units {
		n += len(objs)
	}
	out := &Snapshot{Objects: make([]Object, 0, n)}
	for _, objs := range s.units {
		out.Objects = append(out.Objects, objs...)
	}
	out.sort()
	return out
}

// readUnit is one unit's rows.
type readUnit struct {
	name    string
	objs    []Object
	indexes []uint32
}

// The walk's statements, built once: pgx caches prepared statements by their text.
var (
	walkFullSQL   = catalogSQL(modeWalk, 0)
	walkStepSQL   = catalogSQL(modeStep, 0)
	walkScopedSQL = func() map[byte]string {
		m := map[byte]string{}
		for _, code := range []byte(unitCodes) {
			m[code] = catalogSQL(modeScoped, code)
		}
		return m
	}()
	// unitsSQL is the log's rows alone, (tag, code, oid, info), for a full snapshot.
	unitsSQL = "WITH " + strings.ReplaceAll(logUnitsSQL, "{{last}}", "$1") + "\n" + logRowsSQL
)

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

// tracker keeps the schema of one database up to date, incrementally when it can.
type tracker struct {
	conn      *pgx.Conn
	excluded  []string
	installed bool   // the DDL log is in the database: remove it at the end
	logging   bool   // the DDL log is in use: installed, and its event triggers in place
	lastID    int64  // the last log entry read
	shared    string // the shared catalogs' fingerprint at the last snapshot
	st        *state

	// Set by each step, for reports and tests: whether it read the whole schema, and why.
	lastFull   bool
	lastReason string
}

// newTracker prepares conn, which must be dedicated to the tracker: its session settings are
// changed for good. With log set it installs the DDL log, if the role may create event triggers
// (superuser); otherwise every step is a full snapshot.
func newTracker(ctx context.Context, conn *pgx.Conn, opts []Option, log bool) (*tracker, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	t := &tracker{conn: conn, excluded: o.excluded, st: newState()}
	if _, err := conn.Exec(ctx, sessionSettingsSQL); err != nil {
		return nil, fmt.Errorf("apply snapshot settings: %w", err)
	}
	if !log {
		return t, nil
	}
	var super bool
	if err := conn.QueryRow(ctx, "SELECT current_setting('is_superuser') = 'on'").Scan(&super); err != nil {
		return nil, fmt.Errorf("check for superuser: %w", err)
	}
	if !super {
		return t, nil
	}
	if _, err := conn.Exec(ctx, installLogSQL); err != nil {
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P06" { // duplicate_schema
			return nil, fmt.Errorf("%w: the database already has a schema %s: a round trip on it was interrupted? Use a fresh database", ErrAlreadyMigrated, logSchema)
		}
		return nil, fmt.Errorf("install the DDL log: %w", err)
	}
	t.installed, t.logging = true, true
	return t, nil
}

// stopLogging removes the DDL log; later steps are full snapshots. Safe to call more than once
// and after a failure: it does not depend on what the walk or a migration left of the log.
func (t *tracker) stopLogging(ctx context.Context) error {
	t.logging = false
	if !t.installed {
		return nil
	}
	t.installed = false
	if _, err := t.conn.Exec(ctx, removeLogSQL); err != nil {
		return fmt.Errorf("remove the DDL log: %w", err)
	}
	return nil
}

// step brings the state up to date after a migration and returns what changed. It reads only
// the units the log names, unless full is set or the log cannot be trusted for this step.
//
// One statement (walkStepSQL) reads the log, finds the touched units and reads those that are
// relations, the common case; the units of the other families, and the table of a dropped index
// that nothing else touched, take a second round trip with the statements of just those
// families. For a few units, starting a statement's executor costs about as much as running it,
// so a step does not pay for the queries of families it did not touch.
func (t *tracker) step(ctx context.Context, full bool) (delta, error) {
	if full || !t.logging {
		reason := "forced"
		if !t.logging {
			reason = "no DDL log"
		}
		return t.full(ctx, reason)
	}
	read := map[unitID]*readUnit{}
	lr := &logRead{}
	rows, err := t.conn.Query(ctx, walkStepSQL, t.excluded, t.lastID)
	if err == nil {
		err = readRows(rows, read, lr)
	}
	if err != nil {
		return nil, fmt.Errorf("read catalogs: %w", err)
	}
	if ok, why := lr.trusted(t.shared); !ok {
		if lr.triggers != 2 {
			// A migration dropped or disabled our event triggers: nothing it or any later
			// migration does can be trusted to be logged.
			t.logging = false
		}
		return t.full(ctx, why)
	}
	if lr.lastID > 0 {
		t.lastID = lr.lastID
	}

	touched := map[unitID]bool{}
	more := map[byte][]uint32{}
	for _, id := range lr.units {
		touched[id] = true
		if id.code != 'r' {
			more[id.code] = append(more[id.code], id.oid)
		}
	}
	var indexes []uint32
	for _, d := range lr.dropped {
		if _, ok := t.st.names[d]; ok {
			touched[d] = true
		} else if d.code == 'r' {
			indexes = append(indexes, d.oid)
		}
	}
	for _, oid := range indexes {
		if u, ok := t.st.index[oid]; ok && !touched[u] {
			// A dropped index whose table nothing else touched: read the table again.
			touched[u] = true
			more['r'] = append(more['r'], u.oid)
		}
	}
	if len(more) > 0 {
		b := &pgx.Batch{}
		n := 0
		for _, code := range []byte(unitCodes) {
			switch {
			case len(more[code]) == 0:
				continue
			case usesExcluded(code):
				b.Queue(walkScopedSQL[code], t.excluded, more[code])
			default:
				b.Queue(walkScopedSQL[code], more[code])
			}
			n++
		}
		err := t.sendBatch(ctx, b, func(br pgx.BatchResults) error {
			for range n {
				rows, err := br.Query()
				if err == nil {
					err = readRows(rows, read, nil)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	d, ok := t.st.apply(touched, read)
	if !ok {
		// Two units claim one name: the log missed a rename or a drop.
		return t.full(ctx, "the log missed a change (two units with one name)")
	}
	t.st.dropLostIdentities(d)
	t.lastFull, t.lastReason = false, ""
	return d, nil
}

// full reads the whole schema, replaces the state with it and returns what changed.
func (t *tracker) full(ctx context.Context, reason string) (delta, error) {
	b := &pgx.Batch{}
	if t.logging {
		b.Queue(unitsSQL, t.lastID)
	}
	b.Queue(walkFullSQL, t.excluded)
	read := map[unitID]*readUnit{}
	lr := &logRead{}
	err := t.sendBatch(ctx, b, func(br pgx.BatchResults) error {
		if t.logging {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			var tag string
			var code, info pgtype.Text
			var oid pgtype.Uint32
			_, err = pgx.ForEachRow(rows, []any{&tag, &code, &oid, &info}, func() error { return lr.add(tag, code, oid, info) })
			if err != nil {
				return err
			}
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return readRows(rows, read, nil)
	})
	if err != nil {
		return nil, err
	}
	if t.logging {
		if lr.lastID > 0 {
			t.lastID = lr.lastID
		}
		t.shared = lr.shared
		if lr.triggers != 2 {
			t.logging = false
		}
	}
	st := newState()
	for id, u := range read {
		if _, taken := st.units[u.name]; taken {
			return nil, fmt.Errorf("%w: two units are both named %s", ErrInvalidSnapshot, u.name)
		}
		st.put(id, u)
	}
	if err := st.snapshot().checkUnique(); err != nil {
		return nil, err
	}
	d := delta{}
	for name, objs := range t.st.units {
		if after := st.units[name]; !slices.Equal(objs, after) {
			d[name] = change{before: objs, after: after}
		}
	}
	for name, objs := range st.units {
		if _, ok := t.st.units[name]; !ok {
			d[name] = change{after: objs}
		}
	}
	t.st = st
	t.lastFull, t.lastReason = true, reason
	return d, nil
}

// sendBatch runs b and lets read consume its results.
func (t *tracker) sendBatch(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) (err error) {
	br := t.conn.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := read(br); err != nil {
		return fmt.Errorf("read catalogs: %w", err)
	}
	return nil
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

// readRows reads a walk statement's rows into units, and walkStepSQL's log rows (kind '#tag')
// into lr.
func readRows(rows pgx.Rows, units map[unitID]*readUnit, lr *logRead) error {
	var kind, name string
	var def, ucode, uqname pgtype.Text
	var uoid, xoid pgtype.Uint32
	var added []*readUnit
	_, err := pgx.ForEachRow(rows, []any{&kind, &name, &def, &ucode, &uoid, &uqname, &xoid}, func() error {
		if tag, ok := strings.CutPrefix(kind, "#"); ok {
			if lr == nil {
				return fmt.Errorf("unexpected %s row", kind)
			}
			return lr.add(tag, ucode, uoid, pgtype.Text{String: name, Valid: name != ""})
		}
		if len(ucode.String) != 1 || !uoid.Valid {
			return fmt.Errorf("%s %s: unit %q %v", kind, name, ucode.String, uoid)
		}
		o, err := newObject(kind, name, def)
		if err != nil {
			return err
		}
		id := unitID{ucode.String[0], uoid.Uint32}
		u := units[id]
		if u == nil {
			u = &readUnit{name: ucode.String + " " + uqname.String}
			units[id] = u
			added = append(added, u)
		}
		u.objs = append(u.objs, o)
		if xoid.Valid {
			u.indexes = append(u.indexes, xoid.Uint32)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, u := range added {
		slices.SortFunc(u.objs, compareObjects)
	}
	return nil
}

func (s *state) put(id unitID, u *readUnit) {
	s.units[u.name] = u.objs
	s.names[id] = u.name
	for _, ix := range u.indexes {
		s.index[ix] = id
	}
	for _, o := range u.objs {
		if o.Kind != KindSequence {
			continue
		}
		if _, col, ok := strings.Cut(o.Def, " IDENTITY OF "); ok {
			if table, ok := columnTable(col); ok {
				s.identity["r "+table] = append(s.identity["r "+table], identitySeq{id: id, name: u.name, column: col})
			}
		}
	}
}

// dropLostIdentities removes from the state, and adds to d, the identity sequences of the tables
// d changed whose column is no longer an identity column: DROP IDENTITY dropped them unlogged.
func (s *state) dropLostIdentities(d delta) {
	for table, c := range d {
		seqs := s.identity[table]
		if len(seqs) == 0 || c.after == nil {
			continue // no identity, or the table is gone: its sequences' drop was logged
		}
		var keep []identitySeq
		for _, seq := range seqs {
			objs, ok := s.units[seq.name]
			if !ok || s.names[seq.id] != seq.name || !slices.ContainsFunc(objs, func(o Object) bool {
				return o.Kind == KindSequence && strings.HasSuffix(o.Def, " IDENTITY OF "+seq.column)
			}) {
				continue // a stale entry
			}
			if slices.ContainsFunc(c.after, func(o Object) bool {
				return o.Kind == KindColumn && o.Name == seq.column && strings.Contains(o.Def, " AS IDENTITY")
			}) {
				keep = append(keep, seq)
				continue
			}
			prev, seen := d[seq.name]
			if !seen {
				prev.before = objs
			}
			d[seq.name] = change{before: prev.before}
			delete(s.units, seq.name)
			delete(s.names, seq.id)
		}
		s.identity[table] = keep
	}
}

// apply replaces the touched units with what was read of them (nothing, for a unit that is gone
// or now out of scope) and returns what changed. It changes nothing and returns false when a
// unit read would take the name of a unit that was not touched: the state and the database
// disagree.
func (s *state) apply(touched map[unitID]bool, read map[unitID]*readUnit) (delta, bool) {
	gone := map[string]bool{}
	for id := range touched {
		if name, ok := s.names[id]; ok {
			gone[name] = true
		}
	}
	names := map[string]bool{}
	for _, u := range read {
		if _, taken := s.units[u.name]; (taken && !gone[u.name]) || names[u.name] {
			return nil, false
		}
		names[u.name] = true
	}
	before := map[string][]Object{}
	for id := range touched {
		if name, ok := s.names[id]; ok {
			before[name] = s.units[name]
			delete(s.units, name)
			delete(s.names, id)
		}
	}
	for id, u := range read {
		if _, ok := before[u.name]; !ok {
			before[u.name] = nil
		}
		s.put(id, u)
	}
	d := delta{}
	for name, objs := range before {
		if after := s.units[name]; !slices.Equal(objs, after) {
			d[name] = change{before: objs, after: after}
		}
	}
	return d, true
}

// columnTable is the table part of a column's object name (schema.table.column, each part as
// quote_ident prints it): everything before the last dot outside double quotes.
func columnTable(col string) (string, bool) {
	quoted, last := false, -1
	for i := 0; i < len(col); i++ {
		switch col[i] {
		case '"':
			quoted = !quoted // a doubled quote inside a quoted name toggles twice
		case '.':
			if !quoted {
				last = i
			}
		}
	}
	return col[:max(last, 0)], last > 0
}
