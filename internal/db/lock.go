package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	migratedb "github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Lock polling: start fast so a short-lived holder costs little, back off so a long one is cheap.
const (
	lockPollMin      = 10 * time.Millisecond
	lockPollMax      = 500 * time.Millisecond
	lockReportPeriod = 5 * time.Second
)

// The migration lock is golang-migrate's advisory lock id, so its CLI and this tool exclude each
// other. It is taken at two levels:
//
//   - in every migration's own transaction, at transaction level (pg_try_advisory_xact_lock),
//     followed by a statement that checks the database is still at the version the migration
//     starts from (see lockGuard). This is what makes each migration apply exactly once, whatever
//     is between the tool and PostgreSQL: a transaction-level lock ends with its transaction, so
//     it cannot stay behind on a pooled server connection;
//   - for the whole run, at session level (pg_try_advisory_lock), only on a direct connection: it
//     keeps one migrator at work at a time, and covers no-transaction files, which run outside any
//     transaction. Through a pooler a session lock would stay on a server connection the next
//     client inherits, so there the run takes none, and no-transaction files are refused.
//
// A session that already holds the session lock takes the transaction-level one at once, so on a
// direct connection the guard costs one statement per migration and never waits.

// LockKey is the migration lock's id for a schema of a database: the id golang-migrate's
// postgres and pgx drivers derive from the database, the schema and the version table, so their
// CLI and this tool exclude each other.
func LockKey(database, schema string) (int64, error) {
	id, err := migratedb.GenerateAdvisoryLockId(database, schema, VersionTable)
	if err != nil {
		return 0, fmt.Errorf("derive the advisory lock id: %w", err)
	}
	key, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("derive the advisory lock id: %w", err)
	}
	return key, nil
}

// AdvisoryLockKey is the lock migrators take on conn's database and current schema (see LockKey).
func AdvisoryLockKey(ctx context.Context, conn *pgx.Conn) (int64, error) {
	rs, err := conn.PgConn().Exec(ctx, "SELECT current_database(), coalesce(current_schema(), '')").ReadAll()
	if err != nil {
		return 0, fmt.Errorf("read current database and schema: %w", err)
	}
	dbName, schema := string(rs[0].Rows[0][0]), string(rs[0].Rows[0][1])
	if schema == "" {
		return 0, fmt.Errorf("%w: the connection has no current schema (check the user's search_path)", ErrInvalidArgument)
	}
	return LockKey(dbName, schema)
}

// Texts of the guard's failed casts; no file's own statement produces them.
const (
	guardBusy  = "visiona lock busy"
	guardMoved = "visiona moved "
)

// versionSQL reads the version row as text: "none", "N" or "N dirty". A row of 0, as the stock
// CLI's `force 0` writes, is none (see readVersion).
func (d *driver) versionSQL() string {
	return "coalesce((SELECT nullif(version, 0)::text || CASE WHEN dirty THEN ' dirty' ELSE '' END FROM " + d.table + " LIMIT 1), 'none')"
}

// lockGuard opens a migration's transaction (after BEGIN): the transaction-level lock, and a check
// that the database is at from. Two statements: the check must read a snapshot taken after the
// lock was granted, or it could miss the commit of the migrator that held it. The casts fail (and
// abort the transaction, and the rest of the batch) when the lock is busy or the database moved;
// the cast is of a CASE with a volatile branch, so the planner cannot evaluate it in advance.
func (d *driver) lockGuard(from int) string {
	want := "none"
	if from >= 0 {
		want = strconv.Itoa(from)
	}
	return fmt.Sprintf("SELECT (CASE WHEN pg_try_advisory_xact_lock(%d) THEN '1' ELSE '%s' END)::int; "+
		"SELECT (CASE WHEN %s = '%s' THEN '1' ELSE '%s' || %[3]s END)::int; ",
		d.lockKey, guardBusy, d.versionSQL(), want, guardMoved)
}

// guardFailure is a lock guard that stopped a transaction.
type guardFailure struct {
	busy    bool
	version int // moved: where the database is (NilVersion for none)
	dirty   bool
}

func parseGuardFailure(err error) *guardFailure {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "22P02" {
		return nil
	}
	if strings.Contains(pgErr.Message, `"`+guardBusy+`"`) {
		return &guardFailure{busy: true}
	}
	_, text, ok := strings.Cut(pgErr.Message, `"`+guardMoved)
	if !ok {
		return nil
	}
	g := &guardFailure{}
	g.version, g.dirty = parseVersionText(strings.TrimSuffix(text, `"`))
	return g
}

// parseVersionText reads versionSQL's text.
func parseVersionText(text string) (version int, dirty bool) {
	text, dirty = strings.CutSuffix(text, " dirty")
	v, err := strconv.Atoi(text)
	if err != nil || v == 0 { // "none", or the stock CLI's `force 0`
		return migratedb.NilVersion, dirty
	}
	return v, dirty
}

// Lock takes the migration lock for the run with a bounded wait: the session lock on a direct
// connection; through a pooler only a transaction that holds the transaction-level lock while it
// creates the bookkeeping tables. It polls the try variants instead of blocking in a statement, so
// neither a timeout nor Ctrl-C leaves a statement hanging, and so it can say who holds the lock.
func (d *driver) Lock() error {
	if !d.pooled {
		err := d.waitLock(func() (bool, error) {
			var got bool
			err := d.queryRow(d.ctx, fmt.Sprintf("SELECT pg_try_advisory_lock(%d)", d.lockKey), func(v []byte) { got = string(v) == "t" })
			return got, err
		})
		if err != nil {
			return err
		}
		return d.ensureTable()
	}
	err := d.waitLock(func() (bool, error) {
		rs, err := d.conn.Exec(d.ctx, fmt.Sprintf("BEGIN; SELECT pg_try_advisory_xact_lock(%d)", d.lockKey)).ReadAll()
		if err != nil {
			return false, poolerModeError(err)
		}
		if len(rs) < 2 || len(rs[1].Rows) == 0 || string(rs[1].Rows[0][0]) != "t" {
			return false, d.exec(d.stmtCtx(), "ROLLBACK")
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	// A run that would be refused (see Version) is refused before it creates anything.
	// The savepoint keeps the transaction (and the lock) when the version table does not exist yet.
	if err := d.exec(d.stmtCtx(), "SAVEPOINT visiona_version"); err != nil {
		return err
	}
	v, dirty, err := readVersion(d.stmtCtx(), d.conn, d.table)
	if d.conn.TxStatus() == 'E' {
		if err := d.exec(d.stmtCtx(), "ROLLBACK TO SAVEPOINT visiona_version"); err != nil {
			return err
		}
	}
	if err == nil && d.plan != nil && !dirty {
		if f := d.plan.noTxFile(v); f != "" {
			_ = d.exec(d.stmtCtx(), "ROLLBACK")
			return poolerNoTxError(f)
		}
	}
	if err := d.ensureTable(); err != nil {
		_ = d.exec(d.stmtCtx(), "ROLLBACK")
		return err
	}
	return d.exec(d.stmtCtx(), "COMMIT")
}

// poolerModeError recognises PgBouncer's refusal of a transaction in statement pooling mode.
func poolerModeError(err error) error {
	if err != nil && strings.Contains(err.Error(), "statement pooling") {
		return &PoolerError{Reason: "the connection goes through a pooler in statement pooling mode, which cannot keep a migration and its version row in one transaction: nothing was applied; migrate through pool_mode=transaction or session, or connect to PostgreSQL directly"}
	}
	return err
}

// waitLock calls try until it gets the lock, for at most the lock wait, saying every
// lockReportPeriod who holds it.
func (d *driver) waitLock(try func() (bool, error)) error {
	start := time.Now()
	deadline := start.Add(d.lockTimeout)
	poll := lockPollMin
	var lastReport time.Time
	lastTry := false
	for {
		got, err := try()
		if err != nil {
			if d.ctx.Err() != nil {
				return fmt.Errorf("%w while waiting for the migration lock", ErrInterrupted)
			}
			var pe *PoolerError
			if errors.As(err, &pe) {
				return err
			}
			return fmt.Errorf("take the migration lock: %w", err)
		}
		if got {
			if !lastReport.IsZero() {
				d.log.Info("took the migration lock", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			holder := d.lockHolder()
			if holder == nil && !lastTry {
				// Nobody holds it any more: it was let go since the try above. One more try
				// rather than a timeout that blames a holder nobody can see.
				lastTry = true
				continue
			}
			return &LockTimeoutError{Waited: now.Sub(start), Holder: holder}
		}
		if lastReport.IsZero() || now.Sub(lastReport) >= lockReportPeriod {
			holder := "a session this user cannot see"
			h := d.lockHolder()
			if h != nil {
				holder = h.String()
			}
			if h != nil && h.Leaked(d.lockTimeout) {
				d.log.Warn("waiting for the migration lock", "holder", holder, "timeout", d.lockTimeout, "leaked", h.leakAdvice())
			} else {
				d.log.Warn("waiting for the migration lock", "holder", holder, "timeout", d.lockTimeout)
			}
			lastReport = now
		}
		timer := time.NewTimer(min(poll, deadline.Sub(now)))
		select {
		case <-d.ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w while waiting for the migration lock", ErrInterrupted)
		case <-timer.C:
		}
		poll = min(2*poll, lockPollMax)
	}
}

// lockHolderSQL finds the session holding the advisory lock key, at session or transaction level.
// A bigint key is stored in pg_locks as classid (high 32 bits) and objid (low 32 bits) with
// objsubid 1.
func lockHolderSQL(key int64) string {
	return fmt.Sprintf(`SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), ''),
	  coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ''), coalesce(a.state, ''),
	  coalesce(to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ''),
	  coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '')
	FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	  AND l.classid::bigint = %d AND l.objid::bigint = %d AND l.objsubid = 1
	LIMIT 1`, key>>32, key&0xffffffff)
}

// lockHolder finds the session holding our advisory lock; nil when none can be seen.
func (d *driver) lockHolder() *LockHolder { return readLockHolder(d.stmtCtx(), d.conn, d.lockKey) }

// readLockHolder finds the session holding the advisory lock key; nil when none can be seen.
func readLockHolder(ctx context.Context, conn *pgconn.PgConn, key int64) *LockHolder {
	rs, err := conn.Exec(ctx, lockHolderSQL(key)).ReadAll()
	if err != nil || len(rs) == 0 || len(rs[0].Rows) == 0 {
		return nil
	}
	return activityRow(rs[0].Rows[0])
}

// activityRow reads pid, application_name, client_addr, backend_start, state, state_change and
// xact_start.
func activityRow(row [][]byte) *LockHolder {
	pid, _ := strconv.Atoi(string(row[0]))
	h := &LockHolder{PID: pid, ApplicationName: string(row[1]), ClientAddr: string(row[2]), State: string(row[4])}
	h.Since, _ = time.Parse(time.RFC3339Nano, string(row[3]))
	h.StateChange, _ = time.Parse(time.RFC3339Nano, string(row[5]))
	h.XactStart, _ = time.Parse(time.RFC3339Nano, string(row[6]))
	return h
}

// waitAndRead waits for the transaction-level lock and reads, under it, where the database is.
func (d *driver) waitAndRead() (version int, dirty bool, err error) {
	err = d.waitLock(func() (bool, error) {
		rs, err := d.conn.Exec(d.stmtCtx(), fmt.Sprintf("BEGIN; SELECT pg_try_advisory_xact_lock(%d); SELECT %s; COMMIT", d.lockKey, d.versionSQL())).ReadAll()
		if err != nil {
			if d.conn.TxStatus() != 'I' {
				_ = d.exec(d.stmtCtx(), "ROLLBACK")
			}
			return false, err
		}
		if string(rs[1].Rows[0][0]) != "t" {
			return false, nil
		}
		version, dirty = parseVersionText(string(rs[2].Rows[0][0]))
		return true, nil
	})
	return version, dirty, err
}

// settle is what to do with a step from one version to another now that the database is at actual:
// run it, skip it (another migrator applied it), or neither (the database left this run's path).
func settle(dir Direction, from, to, actual int) (run, skip bool) {
	switch {
	case actual == from:
		return true, false
	case dir == Up && actual >= to, dir == Down && actual <= to:
		return false, true
	}
	return false, false
}

// movedError reports a database that left the run's path under it.
func movedError(file string, from, actual int) error {
	return fmt.Errorf("%w: %s was to start from %s, but another migrator has since moved the database to %s; nothing of it was applied: check `migrate status` and run the command again",
		ErrMoved, file, versionText(from), versionText(actual))
}

// poolerNoTxError refuses a no-transaction file through a pooler.
func poolerNoTxError(file string) error {
	return &PoolerError{Reason: fmt.Sprintf("migrations/%s runs outside a transaction, and the connection goes through a connection pooler, where the migration lock only holds inside a transaction: nothing was applied; run this migration over a direct connection to PostgreSQL (VISIONA_DB_HOST and VISIONA_DB_PORT of the server, not the pooler)", file)}
}

// blockerWatch finds who blocks a migration that waits for a table lock: a migration that fails on
// lock_timeout no longer waits, so the blockers are only visible while it does. A batch still
// running at half of lock_timeout is looked at from a second connection, opened then
// and kept for the run; quick batches cost nothing.
type blockerWatch struct {
	connect func(context.Context) (*pgx.Conn, error)
	side    *pgx.Conn // only touched by one look at a time (see start)
}

// start watches one batch; the returned function stops the watch and says who blocked it ("" when
// nobody was seen).
func (w *blockerWatch) start(ctx context.Context, lockTimeout time.Duration, key int64) func() string {
	if w.connect == nil || lockTimeout <= 0 {
		return func() string { return "" }
	}
	var seen string
	done := make(chan struct{})
	timer := time.AfterFunc(lockTimeout/2, func() {
		defer close(done)
		seen = w.look(ctx, key)
	})
	return func() string {
		if timer.Stop() {
			return ""
		}
		<-done
		return seen
	}
}

// look lists the sessions that block the holder of the migration lock: the run's own backend.
func (w *blockerWatch) look(ctx context.Context, key int64) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if w.side == nil {
		conn, err := w.connect(ctx)
		if err != nil {
			return ""
		}
		w.side = conn
	}
	rs, err := w.side.PgConn().Exec(ctx, fmt.Sprintf(`SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), ''),
	  coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ''), coalesce(a.state, ''),
	  coalesce(to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ''),
	  coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '')
	FROM pg_stat_activity a
	WHERE a.pid = ANY(pg_blocking_pids((SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
	  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	  AND l.classid::bigint = %d AND l.objid::bigint = %d AND l.objsubid = 1 LIMIT 1)))
	ORDER BY a.xact_start`, key>>32, key&0xffffffff)).ReadAll()
	if err != nil || len(rs) == 0 {
		return ""
	}
	var who []string
	for _, row := range rs[0].Rows {
		who = append(who, activityRow(row).String())
	}
	return strings.Join(who, "; ")
}

// close ends the second connection, if one was opened.
func (w *blockerWatch) close(ctx context.Context) {
	if w.side != nil {
		_ = w.side.Close(ctx)
		w.side = nil
	}
}

// invalidIndexes lists the indexes marked INVALID in the connection's schemas (schema.name, quoted
// where needed): a failed CREATE INDEX CONCURRENTLY leaves one behind.
func invalidIndexes(ctx context.Context, conn *pgconn.PgConn) ([]string, error) {
	rs, err := conn.Exec(ctx, invalidIndexesSQL).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("look for invalid indexes: %w", err)
	}
	return firstColumn(rs[0].Rows), nil
}

const invalidIndexesSQL = `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
	ORDER BY 1`

func firstColumn(rows [][][]byte) []string {
	var out []string
	for _, row := range rows {
		out = append(out, string(row[0]))
	}
	return out
}

// dropIndexes is the statement that removes indexes; one statement per index, since DROP INDEX
// CONCURRENTLY takes one.
func dropIndexes(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "DROP INDEX CONCURRENTLY IF EXISTS %s;", n)
	}
	return b.String()
}
