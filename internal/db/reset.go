package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/config"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/postgres"
)

// Errors of Reset. They live here rather than in errors.go because only Reset returns them.
var (
	// ErrRemoteReset: Reset refused a database that is not on this machine; see *RemoteResetError.
	ErrRemoteReset = errors.New("refusing to reset a remote database")
	// ErrSeedFailed: a seed file failed to load; see *SeedError (Reset).
	ErrSeedFailed = errors.New("seed failed")
)

// RemoteResetError is Reset refusing a host that is neither loopback nor a unix socket. It is
// returned before any connection is attempted.
type RemoteResetError struct {
	Target string // SafeTarget: never a password
}

func (e *RemoteResetError) Error() string {
	return fmt.Sprintf("refusing to reset %s: the host is not loopback or a unix socket, and a reset drops everything in the database; set VISIONA_DB_ALLOW_REMOTE_RESET=true to reset it anyway", e.Target)
}

func (e *RemoteResetError) Unwrap() error { return ErrRemoteReset }

// SeedError is a seed file that failed to load. The whole seed was rolled back: the database is
// at the latest version with no seed rows, and running the reset again is safe.
type SeedError struct {
	migfile.SQLFailure       // File is the name inside the seed FS
	Err                error // the driver's error, for errors.As; nil when the file broke a rule of ours
}

func (e *SeedError) Error() string {
	return e.Describe("seed "+e.File) + "; the seed was rolled back: the database is migrated and holds no seed rows"
}

func (e *SeedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrSeedFailed}
	}
	return []error{ErrSeedFailed, e.Err}
}

// ResetReport is what Reset did, for the caller to print.
type ResetReport struct {
	Target string `json:"target"` // SafeTarget
	// Dropped counts the objects dropped by kind, named as PostgreSQL's pg_identify_object names
	// them ("table", "view", "materialized view", "sequence", "function", "procedure", "type",
	// ...) plus "domain", "schema" and "extension". Objects that belong to another one (an index,
	// a serial column's sequence, a table's row type, an extension's functions, a partition) go
	// with it and are not counted.
	Dropped   map[string]int `json:"dropped"`
	Applied   []Result       `json:"applied"`
	Version   uint           `json:"version"`    // where the migrations left the database
	SeedFiles []string       `json:"seed_files"` // loaded, in order
	SeedRows  int64          `json:"seed_rows"`  // rows inserted by the seed's INSERT statements

	DropDuration    time.Duration `json:"drop_duration_ns"`
	MigrateDuration time.Duration `json:"migrate_duration_ns"`
	SeedDuration    time.Duration `json:"seed_duration_ns"`
}

// DroppedTotal is the number of objects dropped, all kinds together.
func (r *ResetReport) DroppedTotal() int {
	n := 0
	for _, c := range r.Dropped {
		n += c
	}
	return n
}

// Reset empties the configured database, migrates it to the latest version and loads the seed:
// the `dbReset` of a developer's machine.
//
// It refuses, before connecting, a host that is neither loopback nor a unix socket unless
// cfg.AllowRemoteReset (VISIONA_DB_ALLOW_REMOTE_RESET=true) is set: see *RemoteResetError.
//
// The database itself is kept, and so are its owner, settings and grants; what goes is every
// object in it, in one transaction: the extensions installed after initdb, every schema other
// than public with its contents, and everything in public, whose own owner and grants are left
// alone. Objects outside any schema (event triggers, publications, foreign servers, casts,
// default privileges) stay unless they depend on a dropped object. The drop holds the migration
// lock, so it never runs under a migrator.
//
// Then it migrates up with a Migrator built from migrations and opts (WithLogger, WithLockTimeout
// and WithProgress apply; the logger and the lock timeout also serve the drop), and loads every
// *.sql file at the top of seed, in name order, in one transaction. seed may be nil for no seed
// data. Seed files must not contain transaction control (BEGIN, COMMIT, ROLLBACK).
//
// The migrations and the seed are read and validated before the connection. Once connected, the
// report describes the steps that completed even when an error is returned.
func Reset(ctx context.Context, cfg config.DB, migrations fs.FS, seed fs.FS, opts ...Option) (*ResetReport, error) {
	if err := cfg.Require(); err != nil {
		return nil, err
	}
	if !cfg.IsLocal() && !cfg.AllowRemoteReset {
		return nil, &RemoteResetError{Target: cfg.SafeTarget()}
	}
	m, err := New(cfg, migrations, opts...)
	if err != nil {
		return nil, err
	}
	seeds, err := readSeed(seed)
	if err != nil {
		return nil, err
	}
	if !cfg.IsLocal() {
		m.log.Warn("resetting a database that is not on this machine (VISIONA_DB_ALLOW_REMOTE_RESET=true)")
	}

	conn, err := postgres.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rep := &ResetReport{Target: cfg.SafeTarget()}

	start := time.Now()
	rep.Dropped, err = dropAll(ctx, conn, m.lockTimeout, m.log)
	rep.DropDuration = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("%w while dropping objects; nothing was dropped", ErrInterrupted)
		}
		return rep, err
	}
	m.log.Debug("dropped every object", "objects", rep.DroppedTotal(), "duration", rep.DropDuration)

	start = time.Now()
	rep.Applied, err = m.Up(ctx)
	rep.MigrateDuration = time.Since(start)
	if err != nil {
		// The Migrator's errors say where the database stands; they are the same as `migrate up`'s.
		return rep, err
	}
	rep.Version = m.src.Latest()

	start = time.Now()
	rep.SeedRows, err = loadSeed(ctx, conn, seeds)
	rep.SeedDuration = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("%w while loading the seed; it was rolled back, the database is migrated and holds no seed rows", ErrInterrupted)
		}
		return rep, err
	}
	for _, s := range seeds {
		rep.SeedFiles = append(rep.SeedFiles, s.name)
	}
	if len(seeds) > 0 {
		m.log.Debug("seeded", "files", len(seeds), "rows", rep.SeedRows, "duration", rep.SeedDuration)
	}
	return rep, nil
}

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

// dropRank orders the drops: extensions, then whole schemas, then public's objects, dependents
// before what they depend on as far as the kind tells. Every DROP is IF EXISTS ... CASCADE, so an
// object an earlier drop took along is no error, and a dependency the order misses (a table whose
// default calls a function) costs nothing. ok is false for a kind this code does not know how to
// drop.
func dropRank(kind string) (rank int, ok bool) {
	switch kind {
	case "extension":
		return 0, true
	case "schema":
		return 1, true
	case "materialized view":
		return 2, true
	case "view":
		return 3, true
	case "foreign table":
		return 4, true
	case "table":
		return 5, true
	case "sequence":
		return 6, true
	case "aggregate":
		return 7, true
	case "procedure":
		return 8, true
	case "function":
		return 9, true
	case "operator class":
		return 10, true
	case "operator family":
		return 11, true
	case "operator":
		return 12, true
	case "domain":
		return 13, true
	case "type":
		return 14, true
	case "collation":
		return 15, true
	case "conversion":
		return 16, true
	case "text search configuration":
		return 17, true
	case "text search dictionary":
		return 18, true
	case "text search template":
		return 19, true
	case "text search parser":
		return 20, true
	}
	return 0, false
}

// dropAll drops every object of the database in one transaction, under the migration lock, and
// counts them by kind. lockTimeout bounds every lock wait: the migration lock, and the table
// locks an application still connected to the database may hold.
func dropAll(ctx context.Context, conn *pgx.Conn, lockTimeout time.Duration, log *slog.Logger) (map[string]int, error) {
	// The same key, from the same current_schema(), as the Migrator's lock.
	d, err := newDriver(ctx, conn, &migfile.Source{}, driverOptions{lockWait: lockTimeout, log: log})
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
	if _, err := tx.Exec(ctx, "select pg_advisory_xact_lock($1)", d.lockKey); err != nil {
		if isLockTimeout(err) {
			// The holder query cannot run in the aborted transaction.
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return nil, &LockTimeoutError{Waited: time.Since(start), Holder: d.lockHolder()}
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
	for _, o := range objs {
		if _, ok := dropRank(o.kind); !ok {
			return nil, fmt.Errorf("drop %s: no rule to drop a %s; nothing was dropped", o.identity, o.kind)
		}
	}
	slices.SortStableFunc(objs, func(a, b dropped) int {
		ra, _ := dropRank(a.kind)
		rb, _ := dropRank(b.kind)
		return ra - rb
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

// seedFile is one seed file, read before connecting so a missing or unreadable file is reported
// before anything is dropped.
type seedFile struct {
	name string
	body []byte
}

// readSeed reads every *.sql file at the top of seed, in name order. Names starting with a dot
// are editors' lock and backup files, not seed.
func readSeed(seed fs.FS) ([]seedFile, error) {
	if seed == nil {
		return nil, nil
	}
	entries, err := fs.ReadDir(seed, ".")
	if err != nil {
		return nil, fmt.Errorf("read the seed directory: %w", err)
	}
	var files []seedFile
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() || path.Ext(e.Name()) != ".sql" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		body, err := fs.ReadFile(seed, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read seed %s: %w", e.Name(), err)
		}
		files = append(files, seedFile{name: e.Name(), body: body})
	}
	if len(files) == 0 {
		// A seed directory without SQL is a wrong path, not a wish for an empty database (that is
		// a nil seed).
		return nil, fmt.Errorf("%w: the seed directory has no *.sql file", ErrInvalidArgument)
	}
	return files, nil
}

// loadSeed runs the seed files in one transaction and returns the rows their INSERTs reported.
// Each file goes as one simple-protocol query, so PostgreSQL's error position is an offset into
// that file.
func loadSeed(ctx context.Context, conn *pgx.Conn, files []seedFile) (int64, error) {
	if len(files) == 0 {
		return 0, nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin the seed: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var rows int64
	for _, f := range files {
		results, err := conn.PgConn().Exec(ctx, string(f.body)).ReadAll()
		if err != nil {
			return 0, seedError(f, err)
		}
		// A COMMIT or ROLLBACK in the file ended our transaction: what ran before it may be
		// committed, which breaks the all-or-nothing promise, so say so rather than carry on.
		if conn.PgConn().TxStatus() != 'T' {
			return 0, &SeedError{SQLFailure: migfile.SQLFailure{File: f.name, Message: "the file ends the seed's transaction (COMMIT or ROLLBACK in it); remove the transaction control and reset again, as part of the seed may have been committed"}}
		}
		for _, r := range results {
			if r.CommandTag.Insert() {
				rows += r.CommandTag.RowsAffected()
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit the seed: %w", err)
	}
	return rows, nil
}

// seedError points a seed failure at its file, line and column, the way migration errors do.
func seedError(f seedFile, err error) *SeedError {
	me := sqlError(err, Up, f.name, f.body, 0, 0)
	se := &SeedError{SQLFailure: me.SQLFailure, Err: err}
	se.File = f.name
	if se.SQLState == "" {
		se.Message = "the connection to the database broke while loading the file"
	}
	return se
}
