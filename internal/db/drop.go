package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// userSchema is the SQL predicate, on pg_namespace n, of schemas users can create: PostgreSQL
// reserves the pg_ prefix (pg_catalog, pg_toast, the temporary schemas), and information_schema
// comes with every database.
const userSchema = `n.nspname !~ '^pg_' and n.nspname <> 'information_schema'`

// independent is the SQL predicate, on an object (classid, objid), of objects that exist in their
// own right. One that depends automatically ('a', e.g. a serial's sequence, a partition) or
// internally ('i', e.g. a table's row type, an array type) on another object, or belongs to an
// extension ('e'), or is a partition's ('P', 'S'), is dropped with that other object: counting it
// too would report what nobody created. A partitioned table depends internally on its own key
// columns, which does not make it a part of anything else.
const independent = `not exists (
    select 1 from pg_depend d
     where d.classid = o.classid and d.objid = o.objid
       and d.deptype in ('a', 'i', 'e', 'P', 'S')
       and not (d.refclassid = o.classid and d.refobjid = o.objid))`

// objectsSQL lists the independent objects of every user schema, with the kind and the identity
// (schema-qualified, quoted, with argument types for functions) that a DROP statement takes.
// pg_identify_object names every type "type"; domains are told apart because they need DROP
// DOMAIN. Indexes, constraints, triggers, rules, policies and statistics are not listed: they
// belong to their table.
const objectsSQL = `with o (classid, objid, nsp, kind) as (
    select 'pg_class'::regclass, oid, relnamespace, null::text from pg_class where relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    union all select 'pg_proc'::regclass, oid, pronamespace, null from pg_proc
    union all select 'pg_type'::regclass, oid, typnamespace, case typtype when 'd' then 'domain' end from pg_type
    union all select 'pg_collation'::regclass, oid, collnamespace, null from pg_collation
    union all select 'pg_conversion'::regclass, oid, connamespace, null from pg_conversion
    union all select 'pg_operator'::regclass, oid, oprnamespace, null from pg_operator
    union all select 'pg_opfamily'::regclass, oid, opfnamespace, null from pg_opfamily
    union all select 'pg_opclass'::regclass, oid, opcnamespace, null from pg_opclass
    union all select 'pg_ts_config'::regclass, oid, cfgnamespace, null from pg_ts_config
    union all select 'pg_ts_dict'::regclass, oid, dictnamespace, null from pg_ts_dict
    union all select 'pg_ts_parser'::regclass, oid, prsnamespace, null from pg_ts_parser
    union all select 'pg_ts_template'::regclass, oid, tmplnamespace, null from pg_ts_template
)
select coalesce(o.kind, i.type), i.identity, n.nspname = 'public'
  from o
  join pg_namespace n on n.oid = o.nsp
 cross join lateral pg_identify_object(o.classid, o.objid, 0) i
 where ` + userSchema + ` and ` + independent

// schemasSQL lists the user schemas to drop: all but public, which keeps its owner and grants
// (PostgreSQL 15 gives it to pg_database_owner; 14 lets everyone create in it), so a reset
// database behaves like a new one. A schema an extension made goes with the extension.
const schemasSQL = `select 'schema', quote_ident(n.nspname), false
  from pg_namespace n, lateral (select 'pg_namespace'::regclass, n.oid) o (classid, objid)
 where ` + userSchema + ` and n.nspname <> 'public' and ` + independent

// extensionsSQL lists the extensions someone installed. 16384 is PostgreSQL's FirstNormalObjectId:
// objects below it were made by initdb (plpgsql, which every database has and the migrations'
// functions need); an extension at or above it came later, so a reset removes it.
const extensionsSQL = `select 'extension', quote_ident(e.extname), false
  from pg_extension e, lateral (select 'pg_extension'::regclass, e.oid) o (classid, objid)
 where e.oid >= 16384 and ` + independent

// dropped is one object to drop.
type dropped struct {
	kind, identity string
	public         bool // in schema public: dropped on its own; elsewhere, with its schema
}

// dropOrder is the order of the drops, by kind: extensions, then whole schemas, then public's
// objects, dependents before what they depend on as far as the kind tells. Every DROP is IF EXISTS
// ... CASCADE, so an object an earlier drop took along is no error, and a dependency the order
// misses (a table whose default calls a function) costs nothing. A kind not listed is one this
// code does not know how to drop.
func dropOrder() []string {
	return []string{
		"extension",
		"schema",
		"materialized view",
		"view",
		"foreign table",
		"table",
		"sequence",
		"aggregate",
		"procedure",
		"function",
		"operator class",
		"operator family",
		"operator",
		"domain",
		"type",
		"collation",
		"conversion",
		"text search configuration",
		"text search dictionary",
		"text search template",
		"text search parser",
	}
}

// dropAll drops every object of the database in one transaction, under the migration lock, and
// counts them by kind. lockTimeout bounds every lock wait: the migration lock, and the table
// locks an application still connected to the database may hold.
func dropAll(ctx context.Context, conn *pgx.Conn, lockTimeout time.Duration, log *slog.Logger) (map[string]int, error) {
	// The same key, from the same current_schema(), as the Migrator's lock.
	key, err := AdvisoryLockKey(ctx, conn)
	if err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin the drop: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	// SET does not take parameters; the value is an integer we format ourselves.
	if _, err := tx.Exec(ctx, fmt.Sprintf("set local lock_timeout = %d", max(lockTimeout.Milliseconds(), 1))); err != nil {
		return nil, fmt.Errorf("set lock_timeout: %w", err)
	}
	// A transaction-level lock conflicts with the session-level one migrators take on the same
	// key, and goes at commit or rollback: no unlock to forget.
	start := time.Now()
	if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock($1)", key); err != nil {
		if isLockTimeout(err) {
			// The holder query cannot run in the aborted transaction.
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return nil, &LockTimeoutError{Waited: time.Since(start), Holder: readLockHolder(context.WithoutCancel(ctx), conn.PgConn(), key)}
		}
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}

	var objs []dropped
	for _, q := range []string{extensionsSQL, schemasSQL, objectsSQL} {
		rows, err := tx.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list objects to drop: %w", err)
		}
		for rows.Next() {
			var o dropped
			if err := rows.Scan(&o.kind, &o.identity, &o.public); err != nil {
				rows.Close()
				return nil, fmt.Errorf("list objects to drop: %w", err)
			}
			objs = append(objs, o)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list objects to drop: %w", err)
		}
	}
	order := dropOrder()
	for _, o := range objs {
		if !slices.Contains(order, o.kind) {
			return nil, fmt.Errorf("drop %s: no rule to drop a %s; nothing was dropped", o.identity, o.kind)
		}
	}
	slices.SortStableFunc(objs, func(a, b dropped) int {
		return slices.Index(order, a.kind) - slices.Index(order, b.kind)
	})

	counts := map[string]int{}
	for _, o := range objs {
		counts[o.kind]++
		// Objects of other schemas go with DROP SCHEMA ... CASCADE.
		if !o.public && o.kind != "schema" && o.kind != "extension" {
			continue
		}
		// identity comes from quote_ident and pg_identify_object, which quote every name.
		stmt := fmt.Sprintf("drop %s if exists %s cascade", o.kind, o.identity)
		if _, err := tx.Exec(ctx, stmt); err != nil {
			if isLockTimeout(err) {
				return nil, fmt.Errorf("drop %s %s: another session holds a lock on it for longer than %s (an application still connected to the database?); stop it and retry; nothing was dropped", o.kind, o.identity, lockTimeout)
			}
			return nil, fmt.Errorf("drop %s %s: %w; nothing was dropped", o.kind, o.identity, err)
		}
		log.Debug("dropped", "kind", o.kind, "name", o.identity)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit the drop: %w", err)
	}
	return counts, nil
}

func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03" // lock_not_available
}
