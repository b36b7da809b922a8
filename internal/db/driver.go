package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/logger"
)

// VersionTable is golang-migrate's bookkeeping table; we keep its name and layout so the stock
// migrate CLI and this tool read and write the same state.
const VersionTable = "schema_migrations"

// Lock polling: start fast so a short-lived holder costs little, back off so a long one is cheap.
const (
	lockPollMin      = 10 * time.Millisecond
	lockPollMax      = 500 * time.Millisecond
	lockReportPeriod = 5 * time.Second
)

// driver implements golang-migrate's database.Driver on one pgx connection. golang-migrate calls,
// per migration, SetVersion(v, dirty=true), Run(body), SetVersion(v, dirty=false), and its stock
// drivers commit each of the three on their own; here the first two only remember, and the third
// queues the SQL with its version and history rows in one transaction (see queue): one commit, and
// a failure or a kill leaves the previous version. Queued migrations go to the server several to a
// query (see flush); a no-transaction file, the end of the run, or a full batch sends them.
type driver struct {
	ctx         context.Context
	conn        *pgconn.PgConn
	src         *Source
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
	// The single transaction's history rows, written at its COMMIT.
	txHistoryUp   []string
	txHistoryDown []uint
	log           *slog.Logger
	onApplied     func(Result)

	// pooled: the connection goes through a pooler (see newDriver); the run then takes no
	// session-level lock and refuses no-transaction files.
	pooled     bool
	runDir     Direction // the run's direction, from where it started and its target
	skipped    int       // steps found applied by another migrator
	migLock    time.Duration
	retries    int           // lock_timeout failures retried, per migration
	retryDelay time.Duration // before the first retry; doubled at each
	watch      blockerWatch

	current    int                 // the version the database is at, -1 for none
	before     int                 // the version at the start of the run
	targetOf   func(start int) int // where the operation should leave the database, from where it started (see target)
	pending    *pendingMigrate     // the migration golang-migrate is in the middle of
	batch      batch               // transactional migrations waiting to be sent (see queue)
	batchLimit int                 // how many the next batch may hold
	batchMax   int                 // and at most
	results    []Result            // what this session applied, in order
}

type pendingMigrate struct {
	target  int
	from    int  // the version the step starts from
	skip    bool // another migrator already made this step
	label   Migration
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
	retries           int
	retryDelay        time.Duration
	// connect opens a second connection, to see who blocks a migration; nil: none is opened.
	connect func(context.Context) (*pgx.Conn, error)
}

// newDriver reads the names the lock id is derived from. It creates nothing: the version table is
// created under the lock, so read-only commands never write.
func newDriver(ctx context.Context, conn *pgx.Conn, src *Source, o driverOptions) (*driver, error) {
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
	// The same id golang-migrate's postgres and pgx drivers use, so their CLI and we exclude each other.
	id, err := database.GenerateAdvisoryLockId(dbName, schema, VersionTable)
	if err != nil {
		return nil, fmt.Errorf("derive the advisory lock id: %w", err)
	}
	key, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("derive the advisory lock id: %w", err)
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
		d.inTx = false
		if !d.failed && d.ctx.Err() == nil && d.current != d.target() {
			// golang-migrate stopped early with an error of its own: all or nothing.
			d.failed = true
			txErr = errors.Join(txErr, fmt.Errorf("the run stopped at %s, short of %s: the single transaction was rolled back", versionText(d.current), versionText(d.target())))
		}
		// All or nothing: an interrupted run rolls back too, rather than keep what it got to.
		if d.failed || d.ctx.Err() != nil {
			d.current = d.before
			txErr = errors.Join(txErr, d.exec(d.stmtCtx(), "ROLLBACK"))
		} else if err := d.exec(d.stmtCtx(), d.bookkeeping(d.current, false)+d.txHistorySQL()+" COMMIT"); err != nil {
			// A deferred constraint, say, fails at COMMIT: nothing of the run was applied.
			dir := Up
			if d.current < d.before {
				dir = Down
			}
			d.failed, d.current = true, d.before
			d.commitErr = sqlError(err, dir, "(the single transaction's COMMIT)", nil, 0, d.before)
			if d.commitErr.SQLState == "" {
				// A connection that broke during COMMIT leaves the outcome to the server.
				d.commitErr.Unknown = true
			} else {
				d.commitErr.Detail = strings.TrimPrefix(d.commitErr.Detail+"; the whole single transaction was rolled back", "; ")
			}
			if d.conn.TxStatus() != 'I' {
				// The bookkeeping before COMMIT failed: the transaction is still open, aborted.
				_ = d.exec(d.stmtCtx(), "ROLLBACK")
			}
		} else {
			d.committed = true
		}
		d.txHistoryUp, d.txHistoryDown = nil, nil
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
	if err := d.exec(d.stmtCtx(), "SELECT pg_logical_emit_message(true, 'visiona-migrate', 'flush')"); err != nil {
		d.log.Warn("could not wait for the migrations' commits to reach disk; PostgreSQL writes them within wal_writer_delay", "error", err)
	}
}

// txHistorySQL writes the single transaction's history rows.
func (d *driver) txHistorySQL() string {
	sql := ""
	if len(d.txHistoryUp) > 0 {
		sql += d.historyUpRowsSQL(d.txHistoryUp...)
	}
	if len(d.txHistoryDown) > 0 {
		sql += d.historyDownSQL(d.txHistoryDown...)
	}
	return sql
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
	if v > 0 && !dirty {
		if _, ok := d.src.Find(uint(v)); !ok {
			return 0, false, &AheadError{DatabaseVersion: uint(v), LatestFile: d.src.Latest()}
		}
	}
	if d.targetOf != nil && !dirty {
		d.runDir = Up
		if t := d.target(); t < v {
			d.runDir = Down
		}
		if f := d.noTxOnPath(v, d.target()); d.pooled && f != "" {
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
		return &MigrationError{Direction: p.dir, SQLFailure: SQLFailure{File: p.file, Message: fmt.Sprintf("the migration ran but recording version %d failed: %v", version, err)}, Version: version, Dirty: true,
			Recover: fmt.Sprintf("its statements ran; run `migrate force %d`", max(version, 0)), Err: err}
	}
	d.applied(p, version, time.Since(p.started))
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

// batch is the query being built: transactional migrations not yet sent.
type batch struct {
	sql   strings.Builder
	runes int // characters so far: PostgreSQL's error positions count characters
	items []queued
	open  bool // the last migration's transaction awaits its COMMIT
}

// write appends parts to the query.
func (b *batch) write(parts ...string) {
	for _, part := range parts {
		b.sql.WriteString(part)
		b.runes += utf8.RuneCountInString(part)
	}
}

// closeTransaction commits the last migration's transaction, left open so the next statement can
// go in it.
func (b *batch) closeTransaction() {
	if b.open {
		b.write(" COMMIT;\n")
		b.open = false
	}
}

type queued struct {
	p          *pendingMigrate
	version    int    // the version once it is applied
	seg        string // its statements, but for the COMMIT that closes its transaction
	bodyOffset int    // characters of seg before the body
	bodyRunes  int    // characters of the body
	bodyStart  int    // characters of the batch's query before the body
	attempt    int    // retries so far after lock_timeout
}

// add appends q's statements; open: q's transaction stays open for the next statement.
func (b *batch) add(q queued, open bool) {
	b.closeTransaction()
	q.bodyStart = b.runes + q.bodyOffset
	b.write(q.seg)
	b.open = open
	b.items = append(b.items, q)
}

// Result columns that tell, after a batch, which migrations started and when; no file's own
// statements would name a column so.
const (
	startedColumn  = "visiona_started"
	bodyEndColumn  = "visiona_body_end"
	finishedColumn = "visiona_finished"
)

// queue adds a transactional migration to the batch, and sends the batch when it is full.
//
// Per migration, in one transaction: BEGIN (unless the whole run is one transaction), the timeouts,
// the start marker that the guard checks, the body on lines of its own (so errors keep the file's
// line numbers; the newline stops a trailing line comment from swallowing what follows), the body's
// end marker, the guard, the version row and the history row, COMMIT.
func (d *driver) queue(p *pendingMigrate, version int) error {
	var head, tail strings.Builder
	if !d.inTx {
		head.WriteString("BEGIN; " + d.lockGuard(p.from) + "SELECT " + d.settings)
		if !d.syncCommit {
			// The commit does not wait for the WAL flush; Unlock's flushWAL does, once for the
			// run. A server crash meanwhile loses a tail of whole migrations, each with its
			// version row, as if the run had stopped earlier; the client's own death loses
			// nothing.
			head.WriteString("set_config('synchronous_commit', 'off', true), ")
			d.unflushed = true
		}
	} else {
		head.WriteString("SELECT ") // the timeouts were set once, after the single BEGIN
	}
	fmt.Fprintf(&head, "set_config('visiona.migration', '%d', true), set_config('visiona.started', extract(epoch FROM clock_timestamp())::text, true) AS %s;\n", version, startedColumn)
	tail.WriteString("\n;\n")
	if d.inTx {
		// In single-transaction mode the version row and the history rows are written once, at
		// COMMIT (see Unlock).
		tail.WriteString(guardEnd(version))
	} else {
		// The version row's DELETE marks where the body's results end, and its INSERT is the
		// guard: a NULL version when the body ended the transaction (see isGuardError). Two
		// statements fewer per migration than a marker and a guard of their own.
		fmt.Fprintf(&tail, "DELETE FROM %s RETURNING version AS %s;", d.table, bodyEndColumn)
		if version >= 0 {
			fmt.Fprintf(&tail, " INSERT INTO %s (version, dirty) VALUES (CASE WHEN current_setting('visiona.migration', true) = '%d' THEN %d END, false);", d.table, version, version)
		} else {
			tail.WriteString(guardEnd(version)) // reverting the first migration: no row to insert
		}
		if p.dir == Up {
			tail.WriteString(d.historyUpSQL(p.label, serverDuration))
		} else {
			tail.WriteString(d.historyDownSQL(p.label.Version))
		}
	}
	tail.WriteString("\n")
	d.batch.add(queued{p: p, version: version, seg: head.String() + string(p.body) + tail.String(),
		bodyOffset: utf8.RuneCountInString(head.String()), bodyRunes: utf8.RuneCount(p.body)}, !d.inTx)
	if len(d.batch.items) >= d.batchLimit || d.batch.sql.Len() >= batchMaxBytes {
		return d.flush()
	}
	return nil
}

// target is where the operation should leave the database, counted from the version found under
// the lock (Version sets before): single-transaction mode commits only there.
func (d *driver) target() int {
	if d.targetOf == nil {
		return d.current
	}
	return d.targetOf(d.before)
}

// queuedVersion is the version the database will be at once the queue is sent.
func (d *driver) queuedVersion() int {
	if n := len(d.batch.items); n > 0 {
		return d.batch.items[n-1].version
	}
	return d.current
}

// flush sends the batch. Every migration before a failure is applied (committed, or part of the
// single transaction); the failure is the last one that started.
func (d *driver) flush() error {
	if len(d.batch.items) == 0 {
		return nil
	}
	// The clock is read inside the last migration's transaction, so it costs no transaction of its own.
	d.batch.write("SELECT extract(epoch FROM clock_timestamp()) AS " + finishedColumn + ";")
	d.batch.closeTransaction()
	sql, items := d.batch.sql.String(), d.batch.items
	d.batch = batch{}
	sent := time.Now()
	stopWatch := d.watch.start(d.ctx, d.migLock, d.lockKey)
	results, err := d.conn.Exec(d.stmtCtx(), sql).ReadAll()
	elapsed := time.Since(sent)
	blockers := stopWatch()

	var starts []float64 // server clock at each started migration
	var startIdx []int   // and the index of its marker in results
	finished := 0.0
	for i, r := range results {
		if len(r.Rows) != 1 || len(r.FieldDescriptions) == 0 {
			continue
		}
		switch last := len(r.FieldDescriptions) - 1; r.FieldDescriptions[last].Name {
		case startedColumn:
			t, _ := strconv.ParseFloat(string(r.Rows[0][last]), 64)
			starts, startIdx = append(starts, t), append(startIdx, i)
		case finishedColumn:
			finished, _ = strconv.ParseFloat(string(r.Rows[0][0]), 64)
		}
	}
	done := len(items)
	var guard *guardFailure
	if err != nil {
		done = max(len(starts)-1, 0)
		if guard = parseGuardFailure(err); guard != nil && !d.inTx {
			// The guard opens a migration's transaction, before its marker: the migrations
			// before it committed.
			done = len(starts)
		}
	}
	for i, q := range items[:done] {
		// Each migration's time on the server, from its start to the next one's.
		duration := elapsed / time.Duration(len(items))
		if len(starts) == len(items) || i+1 < len(starts) {
			end := finished
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			duration = time.Duration((end - starts[i]) * float64(time.Second))
		}
		d.applied(q.p, q.version, duration)
	}
	if err == nil {
		if elapsed < batchFast {
			d.batchLimit = min(2*d.batchLimit, d.batchMax)
		} else {
			d.batchLimit = max(d.batchLimit/2, 1)
		}
		return nil
	}
	d.batchLimit = 1
	if guard != nil && !d.inTx {
		return d.resume(items[done:], guard)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" && !d.inTx && len(starts) > done && items[done].attempt < d.retries {
		return d.retry(items[done:], blockers)
	}
	if len(starts) == 0 && len(items) > 1 && errors.As(err, &pgErr) {
		// PostgreSQL parses a whole query before it runs any of it, so a syntax error (or bytes
		// that are not UTF-8) anywhere in the batch ran nothing.
		if !d.inTx {
			// Send them one at a time: those before the faulty one are applied, and its error
			// is its own.
			for _, q := range items {
				d.batch.add(q, true)
				if err := d.flush(); err != nil {
					return err
				}
			}
			return nil
		}
		// The single transaction is aborted already: the error points into the faulty body, or
		// just past it when the body left a statement or a quote open.
		for i, q := range items {
			if int(pgErr.Position) > q.bodyStart {
				done = i
			}
		}
	}
	var bodyResults []*pgconn.Result
	if done < len(startIdx) {
		bodyResults = results[startIdx[done]+1:]
		for i, r := range bodyResults {
			if len(r.FieldDescriptions) == 1 && r.FieldDescriptions[0].Name == bodyEndColumn {
				bodyResults = bodyResults[:i]
				break
			}
		}
	}
	me := d.failure(items[done], bodyResults, err)
	if blockers != "" && errors.As(err, &pgErr) && pgErr.Code == "55P03" {
		var mErr *MigrationError
		if errors.As(me, &mErr) {
			mErr.Detail = strings.TrimPrefix(mErr.Detail+"; blocked by "+blockers, "; ")
			if n := items[done].attempt; n > 0 {
				mErr.Detail += fmt.Sprintf("; tried %d times", n+1)
			}
		}
	}
	return me
}

// resume goes on after a lock guard stopped the batch at rest[0]: it waits for the lock if
// another migrator held it, then skips the steps the database is already past, and sends the rest.
func (d *driver) resume(rest []queued, g *guardFailure) error {
	if d.conn.TxStatus() != 'I' {
		_ = d.exec(d.stmtCtx(), "ROLLBACK")
	}
	actual, dirty := g.version, g.dirty
	if g.busy {
		var err error
		if actual, dirty, err = d.waitAndRead(); err != nil {
			d.failed = true
			return err
		}
	}
	if dirty {
		d.failed = true
		return migrate.ErrDirty{Version: actual}
	}
	if !g.busy && actual == rest[0].p.from {
		// The guard and this reading disagree: sending again would fail the same way.
		d.failed = true
		return fmt.Errorf("the migration lock guard of %s failed with the database at %s, the version it starts from", rest[0].p.file, versionText(actual))
	}
	d.current = actual
	for i, q := range rest {
		run, skip := settle(q.p.dir, q.p.from, q.version, actual)
		switch {
		case skip:
			d.skip(q.p)
		case run:
			for _, q := range rest[i:] {
				d.batch.add(q, true)
			}
			return d.flush()
		default:
			d.failed = true
			return movedError(q.p.file, q.p.from, actual)
		}
	}
	return nil
}

// retry sends rest again after a lock_timeout failure of rest[0], once the backoff has passed.
func (d *driver) retry(rest []queued, blockers string) error {
	if d.conn.TxStatus() != 'I' {
		_ = d.exec(d.stmtCtx(), "ROLLBACK")
	}
	rest[0].attempt++
	q := rest[0]
	delay := backoff(d.retryDelay, q.attempt)
	if blockers == "" {
		blockers = "a transaction this user cannot see, or one that has ended"
	}
	d.log.Warn("migration waited longer than lock_timeout; retrying it whole", "file", q.p.file,
		"retry", fmt.Sprintf("%d of %d", q.attempt, d.retries), "in", delay.Round(time.Millisecond), "blocked_by", blockers)
	timer := time.NewTimer(delay)
	select {
	case <-d.ctx.Done():
		timer.Stop()
		d.failed = true
		return fmt.Errorf("%w while waiting to retry %s; the database is at %s", ErrInterrupted, q.p.file, versionText(d.current))
	case <-timer.C:
	}
	for _, q := range rest {
		d.batch.add(q, true)
	}
	return d.flush()
}

// backoff is the wait before retry n (1-based): base doubled at each retry, with jitter between
// half and all of it, so migrators behind the same blocker do not retry in step.
func backoff(base time.Duration, n int) time.Duration {
	d := base << min(n-1, 16)
	return d/2 + rand.N(d/2+1)
}

// skip records a step another migrator made while this run waited.
func (d *driver) skip(p *pendingMigrate) {
	d.skipped++
	d.log.Info("already applied by another migrator", "version", p.label.Version, "name", p.label.Name, "direction", p.dir)
}

// beginSingle opens the single transaction, holding the transaction-level lock, and reads the
// version again under it.
func (d *driver) beginSingle() error {
	var text string
	err := d.waitLock(func() (bool, error) {
		rs, err := d.conn.Exec(d.stmtCtx(), fmt.Sprintf("BEGIN; %s SELECT pg_try_advisory_xact_lock(%d); SELECT %s", d.timeouts, d.lockKey, d.versionSQL())).ReadAll()
		if err != nil {
			if d.conn.TxStatus() != 'I' {
				_ = d.exec(d.stmtCtx(), "ROLLBACK")
			}
			return false, poolerModeError(err)
		}
		n := len(rs)
		if string(rs[n-2].Rows[0][0]) != "t" {
			return false, d.exec(d.stmtCtx(), "ROLLBACK")
		}
		text = string(rs[n-1].Rows[0][0])
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("begin the single transaction: %w", err)
	}
	d.inTx = true
	actual, dirty := parseVersionText(text)
	if dirty {
		return migrate.ErrDirty{Version: actual}
	}
	if actual != d.current {
		d.current, d.before = actual, actual
	}
	return nil
}

// failure reports a failed transactional migration; bodyResults are its body's statements that
// completed.
func (d *driver) failure(q queued, bodyResults []*pgconn.Result, err error) error {
	p := q.p
	d.failed = true
	// The failed migration's transaction is left aborted behind the error (or, in single-
	// transaction mode, open when the body ended it and began another).
	if st := d.conn.TxStatus(); st == 'E' || (st == 'T' && !d.inTx) {
		_ = d.exec(d.stmtCtx(), "ROLLBACK")
	}
	if committedInBody(bodyResults) {
		return d.transactionControlError(p, q.version)
	}
	var me *MigrationError
	switch {
	case isGuardError(err):
		// A ROLLBACK or ABORT threw the migration's work away, and what followed it went with
		// the guard's error: nothing of the file is in the database.
		me = &MigrationError{Direction: p.dir, SQLFailure: SQLFailure{File: p.file,
			Message: "the file ends the transaction the tool runs it in (ROLLBACK or ABORT in it), or resets the tool's settings (RESET ALL)",
			Hint:    "remove that statement: each file already runs in one transaction with its version row (the lint rule transaction-control reports it)"},
			Version: d.current}
	default:
		me = sqlError(err, p.dir, p.file, p.body, q.bodyStart, d.current)
		// A broken connection may have cut the batch off after the server ran more of it.
		me.Unknown = me.SQLState == ""
	}
	if d.inTx {
		me.Version, me.Unknown = d.before, false
		me.Detail = strings.TrimPrefix(me.Detail+"; the whole single transaction was rolled back", "; ")
	}
	return me
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
	p.from = int(d.src.previous(uint(target)))
	if p.dir == Down {
		v = d.src.next(target)
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
		return d.refuse(p, &SQLFailure{File: p.file, Line: 1 + bytes.Count(body[:i], []byte("\n")),
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
func (d *driver) refuse(p *pendingMigrate, failure *SQLFailure) error {
	d.pending = nil
	if !d.inTx {
		if err := d.flush(); err != nil {
			return err
		}
	}
	d.failed = true
	me := &MigrationError{Direction: p.dir, SQLFailure: *failure, Version: d.current}
	if d.inTx {
		me.Version = d.before // the single transaction rolls back as a whole
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

// guardMessage identifies the guard's error: a failed cast of this text, which no file's own
// statement would produce.
const guardMessage = "visiona guard: the migration ended its own transaction"

// guardEnd follows a migration's body where no version row is inserted after it (in single-
// transaction mode, and reverting the first migration), and marks where the body's results end.
// queue sets a transaction-local setting before the body, and it must still be there after it: a
// COMMIT, ROLLBACK or END in the body ends the transaction the tool put the file in, resets the
// setting, and the guard then fails, so nothing after it runs or commits. The lint reports such
// statements before they run; this catches them wherever the lint was not run. A cast that fails
// rather than a DO block: one plain statement, no PL/pgSQL to compile per migration.
func guardEnd(version int) string {
	return fmt.Sprintf("SELECT (CASE WHEN current_setting('visiona.migration', true) = '%[1]d' THEN '%[1]d' ELSE '%[2]s' || coalesce(current_setting('visiona.migration', true), '') END)::int AS %[3]s;",
		version, guardMessage, bodyEndColumn)
}

// committedInBody reports whether a statement of the body committed (END is tagged COMMIT) or
// prepared the tool's transaction: then part of the file may be in the database while its version
// is not. A ROLLBACK or ABORT cannot leave anything behind (what follows it runs in an implicit
// transaction that the failure rolls back), and ROLLBACK TO SAVEPOINT is tagged ROLLBACK too.
func committedInBody(results []*pgconn.Result) bool {
	for _, r := range results {
		if tag := r.CommandTag.String(); tag == "COMMIT" || tag == "PREPARE TRANSACTION" {
			return true
		}
	}
	return false
}

func isGuardError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	// guardEnd's failed cast, or the NULL that queue's version INSERT writes when the setting is gone.
	return (pgErr.Code == "22P02" && strings.Contains(pgErr.Message, guardMessage)) ||
		(pgErr.Code == "23502" && pgErr.TableName == VersionTable && pgErr.ColumnName == "version")
}

// transactionControlError marks the database dirty: what the body ran before its COMMIT may be
// committed without its version row, and only a person can tell.
func (d *driver) transactionControlError(p *pendingMigrate, version int) error {
	me := &MigrationError{Direction: p.dir, SQLFailure: SQLFailure{File: p.file,
		Message: "the file ends the transaction the tool runs it in (COMMIT, END or PREPARE TRANSACTION in it): statements before that point may be committed while the version was not recorded",
		Hint:    "remove the transaction control: each file already runs in one transaction with its version row (the lint rule transaction-control reports it)"},
		Version: version, Dirty: true,
		Recover: fmt.Sprintf("check what of %s is in the database, undo it by hand, then run `migrate force %d`", p.file, max(d.current, 0))}
	if d.inTx {
		me.Detail = "in single-transaction mode that COMMIT also committed every migration of the run before this file, without their version rows (`migrate force` records them)"
	}
	// The mark goes in on its own: the body's COMMIT ended any transaction this run had open.
	if err := d.exec(d.stmtCtx(), d.bookkeeping(version, true)); err != nil {
		return errors.Join(me, fmt.Errorf("mark version %d dirty: %w", version, err))
	}
	return me
}

// timeoutSettings is the line that bounds each migration's waits: a migration stuck behind a long
// transaction's lock would otherwise queue every other query on that table behind it.
func timeoutSettings(lock, statement time.Duration) string {
	if s := formatTimeouts(lock, statement, "SET LOCAL %s = %d; "); s != "" {
		return s + "\n"
	}
	return ""
}

// timeoutConfigs is the same as set_config calls, each followed by a comma.
func timeoutConfigs(lock, statement time.Duration) string {
	return formatTimeouts(lock, statement, "set_config('%s', '%d', true), ")
}

// formatTimeouts writes format (a setting's name, its milliseconds) once per timeout that is set.
func formatTimeouts(lock, statement time.Duration, format string) string {
	var b strings.Builder
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"lock_timeout", lock}, {"statement_timeout", statement}} {
		if t.d > 0 {
			fmt.Fprintf(&b, format, t.name, t.d.Milliseconds())
		}
	}
	return b.String()
}

// bookkeeping replaces the version row: one row, or none for no version, as golang-migrate keeps
// it. DELETE rather than golang-migrate's TRUNCATE: TRUNCATE makes new files for the table and its
// index on every migration (measured in bench/: about a quarter of up's time and 40% of down's)
// and takes an exclusive lock that blocks anyone reading the version meanwhile.
func (d *driver) bookkeeping(version int, dirty bool) string {
	sql := "DELETE FROM " + d.table + ";"
	if version >= 0 || (version == database.NilVersion && dirty) {
		sql += fmt.Sprintf(" INSERT INTO %s (version, dirty) VALUES (%d, %t);", d.table, version, dirty)
	}
	return sql
}

// Drop is golang-migrate's "delete everything"; the tool resets databases its own way.
func (d *driver) Drop() error {
	return errors.New("drop is not offered through golang-migrate; use dbReset")
}

// AdvisoryLockKey is the lock migrators take on conn's database: golang-migrate's own id, so its
// CLI and this tool exclude each other.
func AdvisoryLockKey(ctx context.Context, conn *pgx.Conn) (int64, error) {
	d, err := newDriver(ctx, conn, &Source{}, driverOptions{})
	if err != nil {
		return 0, err
	}
	return d.lockKey, nil
}
