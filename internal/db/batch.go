package db

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-migrate/migrate/v4"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/migfile"
)

// Batching: transactional migrations are queued with their version and history rows and sent
// to the server several to a query (see queue and flush); a failure in a batch is mapped back to
// the migration it belongs to, retried after a lock_timeout, or resumed after a lock guard.

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
			head.WriteString("set_config('synchronous_commit', 'off', true), " + walColumns)
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
		tail.WriteString(d.observerSQL())
	}
	tail.WriteString("\n")
	d.batch.add(queued{p: p, version: version, seg: head.String() + string(p.body) + tail.String(),
		bodyOffset: utf8.RuneCountInString(head.String()), bodyRunes: utf8.RuneCount(p.body)}, !d.inTx)
	if len(d.batch.items) >= d.batchLimit || d.batch.sql.Len() >= batchMaxBytes {
		return d.flush()
	}
	return nil
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
	b := d.send()
	guard := parseGuardFailure(b.err) // nil when the batch went through
	done := b.committed(guard != nil && !d.inTx)
	if !d.inTx && !d.syncCommit {
		d.noteDurability(b, done)
	}
	for i, q := range b.items[:done] {
		duration := b.duration(i)
		if i < len(b.startIdx) {
			own := b.results[b.startIdx[i]:]
			if i+1 < len(b.startIdx) {
				own = b.results[b.startIdx[i]:b.startIdx[i+1]]
			}
			d.observed(Result{Version: q.p.label.Version, Name: q.p.label.Name, Direction: q.p.dir, Duration: duration}, own)
		}
		d.applied(q.p, q.version, duration)
	}
	if b.err == nil {
		if b.elapsed < batchFast {
			d.batchLimit = min(2*d.batchLimit, d.batchMax)
		} else {
			d.batchLimit = max(d.batchLimit/2, 1)
		}
		return nil
	}
	d.batchLimit = 1
	if guard != nil && !d.inTx {
		return d.resume(b.items[done:], guard)
	}
	return d.batchFailure(b, done)
}

// noteDurability reads the WAL positions in the start markers of a batch sent with asynchronous
// commits, and notes which of its migrations committed (see durable.go).
func (d *driver) noteDurability(b sentBatch, done int) {
	for k, i := range b.startIdx {
		r := b.results[i]
		fields := make([]string, len(r.FieldDescriptions))
		for j, f := range r.FieldDescriptions {
			fields[j] = f.Name
		}
		d.durable.startedRow(fields, r.Rows[0])
		if k < done {
			d.durable.committed(b.items[k].version)
		}
	}
}

// sentBatch is a batch's query and what the server answered.
type sentBatch struct {
	items    []queued
	results  []*pgconn.Result
	err      error
	elapsed  time.Duration
	blockers string    // who blocked it, if it ran long enough to look (see blockerWatch)
	starts   []float64 // the server's clock at each migration that started
	startIdx []int     // and the index of that migration's start marker in results
	finished float64   // the server's clock at the end of the batch, if it got there
}

// send sends the batch and reads the markers of its results.
func (d *driver) send() sentBatch {
	// The clock is read inside the last migration's transaction, so it costs no transaction of its own.
	d.batch.write("SELECT extract(epoch FROM clock_timestamp()) AS " + finishedColumn + ";")
	d.batch.closeTransaction()
	sql, items := d.batch.sql.String(), d.batch.items
	d.batch = batch{}
	sent := time.Now()
	stopWatch := d.watch.start(d.ctx, d.migLock, d.lockKey)
	results, err := d.conn.Exec(d.stmtCtx(), sql).ReadAll()
	b := sentBatch{items: items, results: results, err: err, elapsed: time.Since(sent), blockers: stopWatch()}
	for i, r := range results {
		if len(r.Rows) != 1 || len(r.FieldDescriptions) == 0 {
			continue
		}
		switch last := len(r.FieldDescriptions) - 1; r.FieldDescriptions[last].Name {
		case startedColumn:
			t, _ := strconv.ParseFloat(string(r.Rows[0][last]), 64)
			b.starts, b.startIdx = append(b.starts, t), append(b.startIdx, i)
		case finishedColumn:
			b.finished, _ = strconv.ParseFloat(string(r.Rows[0][0]), 64)
		}
	}
	return b
}

// committed is how many of the batch's migrations are applied: all when it went through, else all
// but the last that started. guardStopped: a lock guard failed, which happens when a migration's
// transaction opens, before its start marker, so every migration that started committed.
func (b *sentBatch) committed(guardStopped bool) int {
	switch {
	case b.err == nil:
		return len(b.items)
	case guardStopped:
		return len(b.starts)
	}
	return max(len(b.starts)-1, 0)
}

// duration is migration i's time on the server, from its start to the next one's (or the end of
// the batch); the batch's time shared out when the markers are missing.
func (b *sentBatch) duration(i int) time.Duration {
	if len(b.starts) != len(b.items) && i+1 >= len(b.starts) {
		return b.elapsed / time.Duration(len(b.items))
	}
	end := b.finished
	if i+1 < len(b.starts) {
		end = b.starts[i+1]
	}
	return time.Duration((end - b.starts[i]) * float64(time.Second))
}

// bodyResults are the results of migration i's body: between its start marker and its end marker.
func (b *sentBatch) bodyResults(i int) []*pgconn.Result {
	if i >= len(b.startIdx) {
		return nil
	}
	res := b.results[b.startIdx[i]+1:]
	for j, r := range res {
		if len(r.FieldDescriptions) == 1 && r.FieldDescriptions[0].Name == bodyEndColumn {
			return res[:j]
		}
	}
	return res
}

// batchFailure handles a batch that failed in migration done (other than on a lock guard): a
// lock_timeout is retried, a syntax error that stopped the whole batch is found in its file, and
// anything else is reported as the failure of that migration.
func (d *driver) batchFailure(b sentBatch, done int) error {
	items := b.items
	var pgErr *pgconn.PgError
	if errors.As(b.err, &pgErr) && pgErr.Code == "55P03" && !d.inTx && len(b.starts) > done && items[done].attempt < d.retries {
		return d.retry(items[done:], b.blockers)
	}
	if len(b.starts) == 0 && len(items) > 1 && errors.As(b.err, &pgErr) {
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
	me := d.failure(items[done], b.bodyResults(done), b.err)
	if b.blockers != "" && errors.As(b.err, &pgErr) && pgErr.Code == "55P03" {
		var mErr *MigrationError
		if errors.As(me, &mErr) {
			mErr.Detail = strings.TrimPrefix(mErr.Detail+"; blocked by "+b.blockers, "; ")
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
		me = &MigrationError{Direction: p.dir, SQLFailure: migfile.SQLFailure{File: p.file,
			Message: "the file ends the transaction the tool runs it in (ROLLBACK or ABORT in it), or resets the tool's settings (RESET ALL)",
			Hint:    "remove that statement: each file already runs in one transaction with its version row (the lint rule transaction-control reports it)"},
			Version: knownVersion(d.current)}
	default:
		me = sqlError(err, p.dir, p.file, p.body, q.bodyStart, d.current)
		// A broken connection may have cut the batch off after the server ran more of it.
		me.Unknown = me.SQLState == "" || sessionEnded(me.SQLState)
		if me.Unknown && !d.syncCommit {
			// An acknowledged asynchronous commit may not have survived the server.
			me.Version = knownVersion(d.durable.version)
		}
	}
	if d.inTx {
		me.Version, me.Unknown = knownVersion(d.before), false
		me.Detail = strings.TrimPrefix(me.Detail+"; the whole single transaction was rolled back", "; ")
	}
	return me
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
	me := &MigrationError{Direction: p.dir, SQLFailure: migfile.SQLFailure{File: p.file,
		Message: "the file ends the transaction the tool runs it in (COMMIT, END or PREPARE TRANSACTION in it): statements before that point may be committed while the version was not recorded",
		Hint:    "remove the transaction control: each file already runs in one transaction with its version row (the lint rule transaction-control reports it)"},
		Version: knownVersion(version), Dirty: true,
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
