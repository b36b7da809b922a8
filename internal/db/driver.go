package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/logger"
	"visiona-backend/internal/migfile"
)

// VersionTable is golang-migrate's bookkeeping table; we keep its name and layout so the stock
// migrate CLI and this tool read and write the same state.
const VersionTable = "schema_migrations"

// driver implements golang-migrate's database.Driver on one pgx connection. golang-migrate calls,
// per migration, SetVersion(v, dirty=true), Run(body), SetVersion(v, dirty=false), and its stock
// drivers commit each of the three on their own; here the first two only remember, and the third
// queues the SQL with its version and history rows in one transaction (see queue): one commit, and
// a failure or a kill leaves the previous version. Queued migrations go to the server several to a
// query (see flush); a no-transaction file, the end of the run, or a full batch sends them.
type driver struct {
	ctx         context.Context
	conn        *pgconn.PgConn
	src         *migfile.Source
	table       string // quoted schema.table
	history     string // quoted schema.history table
	lockKey     int64
	lockTimeout time.Duration // how long Lock waits for another migrator
	timeouts    string        // SET LOCAL lock_timeout/statement_timeout for each migration
	// The same settings as set_config calls for the select that opens each migration (see queue):
	// statements are what a fast migration's time goes on, beside its own.
	settings   string
	singleTx   bool // every migration of the run in one transaction (fresh databases)
	syncCommit bool // every migration's COMMIT waits for the WAL flush
	preflight  Preflight
	inTx       bool            // the single transaction is open
	failed     bool            // a migration failed: the single transaction must roll back
	commitErr  *MigrationError // the single transaction's COMMIT failed
	committed  bool            // the single transaction's COMMIT succeeded
	unflushed  bool            // a migration committed without waiting for the WAL flush
	durable    durability      // how far the commits are known to be on disk (see durable.go)
	// The single transaction's history rows, written at its COMMIT.
	txHistoryUp   []string
	txHistoryDown []uint
	log           *slog.Logger
	onApplied     func(Result)
	observer      *Observer

	// pooled: the connection goes through a pooler (see newDriver); the run then takes no
	// session-level lock and refuses no-transaction files.
	pooled     bool
	runDir     Direction // the run's direction, from where it started and its target
	skipped    int       // steps found applied by another migrator
	migLock    time.Duration
	retries    int           // lock_timeout failures retried, per migration
	retryDelay time.Duration // before the first retry; doubled at each
	watch      blockerWatch

	current    int             // the version the database is at, -1 for none
	before     int             // the version at the start of the run
	plan       *plan           // where the run leads; nil for force
	pending    *pendingMigrate // the migration golang-migrate is in the middle of
	batch      batch           // transactional migrations waiting to be sent (see queue)
	batchLimit int             // how many the next batch may hold
	batchMax   int             // and at most
	results    []Result        // what this session applied, in order
}

type pendingMigrate struct {
	target  int
	from    int  // the version the step starts from
	skip    bool // another migrator already made this step
	label   migfile.Migration
	dir     Direction
	file    string
	noTx    bool
	body    []byte
	started time.Time
}

var _ database.Driver = (*driver)(nil)

// driverOptions are the Migrator's settings the driver needs.
type driverOptions struct {
	lockWait          time.Duration // for the advisory lock
	lockTimeout       time.Duration // PostgreSQL lock_timeout inside each migration; 0: none
	statementTimeout  time.Duration // PostgreSQL statement_timeout inside each migration; 0: none
	singleTransaction bool
	syncCommit        bool // see config.DB.MigrationSyncCommit
	stepwise          bool // one migration per query (see WithStepwise)
	preflight         Preflight
	log               *slog.Logger
	onApplied         func(Result)
	observer          *Observer
	retries           int
	retryDelay        time.Duration
	// connect opens a second connection, to see who blocks a migration; nil: none is opened.
	connect func(context.Context) (*pgx.Conn, error)
}

// newDriver reads the names the lock id is derived from. It creates nothing: the version table is
// created under the lock, so read-only commands never write.
func newDriver(ctx context.Context, conn *pgx.Conn, src *migfile.Source, o driverOptions) (*driver, error) {
	if o.log == nil {
		o.log = logger.Discard()
	}
	// The simple protocol: one round trip where a prepared statement would take two, and this is
	// on the path of every command, `version` included.
	rs, err := conn.PgConn().Exec(ctx, "SELECT current_database(), coalesce(current_schema(), ''), pg_backend_pid()").ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read current database and schema: %w", err)
	}
	dbName, schema := string(rs[0].Rows[0][0]), string(rs[0].Rows[0][1])
	if schema == "" {
		return nil, fmt.Errorf("%w: the connection has no current schema (check the user's search_path)", ErrInvalidArgument)
	}
	key, err := LockKey(dbName, schema)
	if err != nil {
		return nil, err
	}
	d := &driver{
		ctx:         ctx,
		conn:        conn.PgConn(),
		src:         src,
		table:       pgx.Identifier{schema, VersionTable}.Sanitize(),
		history:     pgx.Identifier{schema, HistoryTable}.Sanitize(),
		lockKey:     key,
		lockTimeout: o.lockWait,
		timeouts:    timeoutSettings(o.lockTimeout, o.statementTimeout),
		settings:    timeoutConfigs(o.lockTimeout, o.statementTimeout),
		singleTx:    o.singleTransaction,
		syncCommit:  o.syncCommit,
		preflight:   o.preflight,
		log:         o.log,
		onApplied:   o.onApplied,
		observer:    o.observer,
		current:     database.NilVersion,
		before:      database.NilVersion,
		batchLimit:  1,
		batchMax:    batchMax,
		migLock:     o.lockTimeout,
		retries:     o.retries,
		retryDelay:  o.retryDelay,
		watch:       blockerWatch{connect: o.connect},
	}
	// A pooler answers the startup with cancel keys of its own (it has to route a cancel request
	// to whichever server connection the client has at the time), so the process id in them is
	// not the backend's. A direct connection's is, always: one comparison, no extra round trip.
	// Any proxy that makes up its own keys counts as a pooler, session pooling included: the run
	// then takes the transaction-level locks only, which hold everywhere.
	d.pooled = strconv.FormatUint(uint64(conn.PgConn().PID()), 10) != string(rs[0].Rows[0][2])
	if o.stepwise {
		d.batchMax = 1
	}
	return d, nil
}

// stmtCtx is the context statements run under: a cancelled run still finishes the migration in
// flight, so an interrupt stops between migrations and never in the middle of one.
func (d *driver) stmtCtx() context.Context { return context.WithoutCancel(d.ctx) }

func (d *driver) exec(ctx context.Context, sql string) error {
	_, err := d.conn.Exec(ctx, sql).ReadAll()
	return err
}

// Open is golang-migrate's URL constructor; this driver is only built from a live connection.
func (d *driver) Open(string) (database.Driver, error) {
	return nil, errors.New("the visiona driver is built by internal/db, not from a URL")
}

// outcome is what the run left, for the Migrator once golang-migrate's engine returns: the
// migrations applied, in order (none when the single transaction rolled back), and the single
// transaction's failed COMMIT.
func (d *driver) outcome() ([]Result, error) {
	results := d.results
	if d.singleTx && !d.committed {
		results = nil // rolled back with the transaction
	}
	if d.commitErr != nil {
		return results, d.commitErr
	}
	return results, nil
}

// arrived reports whether the database is where the run was to leave it.
func (d *driver) arrived() bool { return d.current == d.target() }

// Close leaves the connection to its owner, the Migrator.
func (d *driver) Close() error { return nil }

// Unlock ends the single transaction first, if one is open: committed when every migration in it
// succeeded, rolled back as a whole otherwise. Then it makes what the run committed durable before
// letting go of the lock, whatever the outcome.
func (d *driver) Unlock() error {
	var txErr error
	// An interrupted run stops where the batches sent so far left it: what is still queued was
	// never sent.
	if d.ctx.Err() == nil && !(d.inTx && d.failed) {
		txErr = d.flush()
	}
	d.batch = batch{}
	if d.inTx {
		if err := d.endSingle(); err != nil {
			txErr = errors.Join(txErr, err)
		}
	}
	if d.conn.IsClosed() {
		// The server ended the session (a restart, a failover): the lock went with it.
		return txErr
	}
	d.flushWAL()
	if d.pooled {
		return txErr // the run held the lock inside each transaction only
	}
	return errors.Join(txErr, d.exec(d.stmtCtx(), fmt.Sprintf("SELECT pg_advisory_unlock(%d)", d.lockKey)))
}

// flushWAL waits until every migration committed with synchronous_commit off is on disk (and on
// synchronous standbys): a transaction that writes WAL and commits with synchronous commit on waits
// for the WAL up to its commit record, which is past all of theirs. One wait per run instead of one
// per migration: the whole gain of asynchronous commits, none of their loss once we return.
//
// The write is a transactional logical-decoding message (any role may send one, since 9.6): a
// transaction that only takes an xid writes no WAL, so PostgreSQL would not wait for its commit.
// If the server refuses it, the WAL writer still flushes within wal_writer_delay: a warning, not
// a failed run.
func (d *driver) flushWAL() {
	if !d.unflushed {
		return
	}
	d.unflushed = false
	if err := d.exec(d.stmtCtx(), "SELECT pg_logical_emit_message(true, 'visiona-migrate', 'flush')"); err == nil {
		d.durable.reset(d.current)
	} else {
		d.log.Warn("could not wait for the migrations' commits to reach disk; PostgreSQL writes them within wal_writer_delay", "error", err)
	}
}

// ensureTable creates the version table in golang-migrate's layout. It runs under the lock, so two
// migrators never race on CREATE TABLE IF NOT EXISTS.
func (d *driver) ensureTable() error {
	err := d.exec(d.stmtCtx(), "CREATE TABLE IF NOT EXISTS "+d.table+" (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); "+d.historyTableSQL())
	if err != nil {
		return fmt.Errorf("create %s and %s: %w", d.table, d.history, err)
	}
	return d.reconcileHistory()
}

// queryRow runs a one-row, one-column query over the simple protocol (one round trip, no prepare).
func (d *driver) queryRow(ctx context.Context, sql string, scan func([]byte)) error {
	rs, err := d.conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return err
	}
	if len(rs) > 0 && len(rs[0].Rows) > 0 {
		scan(rs[0].Rows[0][0])
	}
	return nil
}

// Version reads the bookkeeping row. Under golang-migrate it runs right after Lock, so this is also
// where a database ahead of the files is caught, before golang-migrate looks for a file it lacks.
func (d *driver) Version() (int, bool, error) {
	v, dirty, err := readVersion(d.stmtCtx(), d.conn, d.table)
	if err != nil {
		return 0, false, err
	}
	d.current, d.before = v, v
	d.durable.reset(v)
	if v > 0 && !dirty {
		if _, ok := d.src.Find(uint(v)); !ok {
			return 0, false, &AheadError{DatabaseVersion: uint(v), LatestFile: d.src.Latest()}
		}
	}
	if d.plan != nil && !dirty {
		d.runDir = d.plan.direction(v)
		if f := d.plan.noTxFile(v); d.pooled && f != "" {
			return 0, false, poolerNoTxError(f)
		}
	}
	return v, dirty, nil
}

func readVersion(ctx context.Context, conn *pgconn.PgConn, table string) (version int, dirty bool, err error) {
	rs, err := conn.Exec(ctx, versionSelect(table)).ReadAll()
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table: never migrated
		return database.NilVersion, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("read %s: %w", table, err)
	case len(rs) == 0:
		return database.NilVersion, false, nil
	}
	return versionRow(table, rs[0].Rows)
}

func versionSelect(table string) string { return "SELECT version, dirty FROM " + table + " LIMIT 1" }

// versionRow reads versionSelect's rows.
func versionRow(table string, rows [][][]byte) (version int, dirty bool, err error) {
	if len(rows) == 0 {
		return database.NilVersion, false, nil
	}
	row := rows[0]
	version, err = strconv.Atoi(string(row[0]))
	if err != nil {
		return 0, false, fmt.Errorf("read %s: version %q: %w", table, row[0], err)
	}
	// No file has version 0 (discovery refuses it): a 0 row, as the stock CLI's `force 0` writes,
	// means nothing is applied.
	if version == 0 {
		version = database.NilVersion
	}
	return version, string(row[1]) == "t", nil
}

// SetVersion is called three ways by golang-migrate: (v, true) before a migration's body, (v, false)
// after it, and (v, false) alone by Force.
func (d *driver) SetVersion(version int, dirty bool) error {
	if dirty {
		return d.begin(version)
	}
	p := d.pending
	if p == nil { // Force
		if err := d.exec(d.stmtCtx(), d.bookkeeping(version, false)+d.reconcileHistorySQL(version)); err != nil {
			return fmt.Errorf("set version %d: %w", version, err)
		}
		d.current = version
		return nil
	}
	d.pending = nil
	if p.skip {
		d.skip(p)
		return nil
	}
	if !p.noTx {
		return d.queue(p, version)
	}
	// A no-transaction body ran in earlier queries (see Run): record it. Only the client saw all
	// of it, so the duration is the client's.
	sql := d.bookkeeping(version, false)
	if p.dir == Up {
		sql += d.historyUpSQL(p.label, millis(time.Since(p.started)))
	} else {
		sql += d.historyDownSQL(p.label.Version)
	}
	if err := d.exec(d.stmtCtx(), sql); err != nil {
		return &MigrationError{Direction: p.dir, SQLFailure: migfile.SQLFailure{File: p.file, Message: fmt.Sprintf("the migration ran but recording version %d failed: %v", version, err)}, Version: knownVersion(version), Dirty: true,
			Recover: fmt.Sprintf("its statements ran; run `migrate force %d`", max(version, 0)), Err: err}
	}
	d.applied(p, version, time.Since(p.started))
	d.durable.reset(version) // a synchronous commit: every commit before it is on disk too
	return nil
}

// Transactional migrations go to the server several to a query: each in its own transaction with
// its version row, as one at a time would be, but without a round trip (and the client's turn)
// between them: about a tenth of a fast migration's time (the same SQL sent one migration per
// query and 25 per query, n=1000, medians of 8 runs: 1.58 s and 1.44 s).
// A batch grows while batches come back quickly, so a slow migration is soon sent nearly alone and
// progress lines never lag far behind the database.
const (
	batchMax      = 64
	batchMaxBytes = 1 << 20
	batchFast     = 100 * time.Millisecond // a batch quicker than this lets the next one double
)

// Result columns that tell, after a batch, which migrations started and when; no file's own
// statements would name a column so.
const (
	startedColumn  = "visiona_started"
	bodyEndColumn  = "visiona_body_end"
	finishedColumn = "visiona_finished"
)

// skip records a step another migrator made while this run waited.
func (d *driver) skip(p *pendingMigrate) {
	d.skipped++
	d.log.Info("already applied by another migrator", "version", p.label.Version, "name", p.label.Name, "direction", p.dir)
}

// applied records a migration that is in the database: in the results, the progress, and in
// single-transaction mode the history rows its COMMIT will write.
func (d *driver) applied(p *pendingMigrate, version int, duration time.Duration) {
	if d.inTx {
		if p.dir == Up {
			d.txHistoryUp = append(d.txHistoryUp, historyUpRow(p.label, millis(duration)))
		} else {
			d.txHistoryDown = append(d.txHistoryDown, p.label.Version)
		}
	}
	r := Result{Version: p.label.Version, Name: p.label.Name, Direction: p.dir, Duration: duration}
	d.results = append(d.results, r)
	d.current = version
	d.log.Debug("migrated", "version", r.Version, "name", r.Name, "direction", r.Direction, "duration", r.Duration)
	if d.onApplied != nil {
		d.onApplied(r)
	}
}

// begin notes which migration golang-migrate is about to run: the up file of the target version,
// or the down file of the current one.
func (d *driver) begin(target int) error {
	p := &pendingMigrate{target: target, started: time.Now(), dir: d.runDir}
	v := target
	p.from = int(d.src.Previous(uint(target)))
	if p.dir == Down {
		v = int(d.src.Next(uint(max(target, 0))))
		p.from = v
	}
	if p.from == 0 {
		p.from = database.NilVersion
	}
	m, ok := d.src.Find(uint(v))
	if !ok {
		d.failed = true
		return fmt.Errorf("%w: no migration file for version %d", ErrUnknownVersion, v)
	}
	p.label = m
	if p.dir == Up {
		p.file, p.noTx = m.UpFile, m.UpNoTx
	} else {
		p.file, p.noTx = m.DownFile, m.DownNoTx
	}
	if d.singleTx && p.noTx {
		d.failed = true
		return fmt.Errorf("%w: %s cannot run in a transaction, so it cannot run in single-transaction mode; migrate without it", ErrInvalidArgument, p.file)
	}
	if d.singleTx && !d.inTx {
		// Opened at the first migration, after golang-migrate has read the version, so the
		// bookkeeping reads happen outside it and an empty run opens nothing. It holds the
		// transaction-level lock to its end, and reads the version again under it.
		if err := d.beginSingle(); err != nil {
			d.failed = true
			return err
		}
	}
	d.pending = p
	run, skip := settle(p.dir, p.from, target, d.queuedVersion())
	switch {
	case skip:
		p.skip = true
	case !run:
		d.failed = true
		d.pending = nil
		return movedError(p.file, p.from, d.queuedVersion())
	case p.noTx && d.pooled:
		d.failed = true
		d.pending = nil
		return poolerNoTxError(p.file)
	}
	return nil
}

// Run receives the body. A transactional body waits for SetVersion(v, false); a no-transaction body
// runs now, behind a dirty mark that tells the next run exactly what was in flight.
func (d *driver) Run(r io.Reader) error {
	p := d.pending
	if p == nil {
		return errors.New("run called without a version being set: golang-migrate protocol changed")
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", p.file, err)
	}
	if p.skip {
		return nil
	}
	p.body = body
	if i := invalidUTF8(body); i >= 0 {
		return d.refuse(p, &migfile.SQLFailure{File: p.file, Line: 1 + bytes.Count(body[:i], []byte("\n")),
			Message: "the file is not valid UTF-8", Hint: "save it as UTF-8: SQL goes to PostgreSQL as UTF-8"})
	}
	if !p.noTx {
		if d.preflight != nil {
			prepared, failure := d.preflight(p.file, body)
			if failure != nil {
				return d.refuse(p, failure)
			}
			p.body = prepared
		}
		return nil
	}
	if err := d.flush(); err != nil {
		d.pending = nil
		return err
	}
	if err := d.exec(d.stmtCtx(), d.bookkeeping(p.target, true)); err != nil {
		return fmt.Errorf("mark version %d dirty: %w", p.target, err)
	}
	// The body must run alone (PostgreSQL refuses CONCURRENTLY beside other statements), so the
	// timeouts are set for the session around it.
	if d.timeouts != "" {
		if err := d.exec(d.stmtCtx(), strings.ReplaceAll(d.timeouts, "SET LOCAL", "SET")); err != nil {
			return fmt.Errorf("set migration timeouts: %w", err)
		}
		defer d.exec(d.stmtCtx(), "RESET lock_timeout; RESET statement_timeout")
	}
	if err := d.exec(d.stmtCtx(), string(body)); err != nil {
		d.pending = nil
		me := sqlError(err, p.dir, p.file, body, 0, p.target)
		me.Dirty = true
		me.Recover = d.recoverCommand(p)
		return me
	}
	return nil
}

// refuse reports a file that must not run at all. The migrations queued before it are fine:
// they are applied first, unless the single transaction is to roll back anyway.
func (d *driver) refuse(p *pendingMigrate, failure *migfile.SQLFailure) error {
	d.pending = nil
	if !d.inTx {
		if err := d.flush(); err != nil {
			return err
		}
	}
	d.failed = true
	me := &MigrationError{Direction: p.dir, SQLFailure: *failure, Version: knownVersion(d.current)}
	if d.inTx {
		me.Version = knownVersion(d.before) // the single transaction rolls back as a whole
	}
	return me
}

// invalidUTF8 is the offset of the first byte of b that is not UTF-8, or -1.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// recoverCommand is the exact way out of a failed no-transaction file. It holds a single statement
// (PostgreSQL refuses CONCURRENTLY beside others), so a failure means that statement did not take
// effect, apart from an INVALID index a failed CREATE INDEX CONCURRENTLY leaves behind.
func (d *driver) recoverCommand(p *pendingMigrate) string {
	if idx, err := invalidIndexes(d.stmtCtx(), d.conn); err == nil && len(idx) > 0 {
		return fmt.Sprintf("%s did not take effect and left the INVALID index %s: drop it with `%s`, then run `migrate force %d` and fix the file before retrying",
			p.file, strings.Join(idx, ", "), dropIndexes(idx), max(d.current, 0))
	}
	return fmt.Sprintf("%s did not take effect (if it built an index CONCURRENTLY, drop the INVALID index it left: see `\\d` in psql); then run `migrate force %d` and fix the file before retrying", p.file, max(d.current, 0))
}

// sessionEnded says the server (57P01-57P03: a shutdown, a crash of another backend, a restart) or a pooler (class
// 08: its server connection broke) ended the session under a query: the run stops as on a broken
// connection, where only a rerun can tell how far the server got.
func sessionEnded(code string) bool {
	return code == "57P01" || code == "57P02" || code == "57P03" || strings.HasPrefix(code, "08")
}

// Drop is golang-migrate's "delete everything"; the tool resets databases its own way.
func (d *driver) Drop() error {
	return errors.New("drop is not offered through golang-migrate; use dbReset")
}
