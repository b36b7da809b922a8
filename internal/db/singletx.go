package db

import (
	"errors"
	"fmt"
	"strings"

	"github.com/golang-migrate/migrate/v4"
)

// Single-transaction mode (WithSingleTransaction): every migration of the run in one
// transaction, opened at the first migration and ended at Unlock.

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

// target is where the run should leave the database, counted from the version found under the
// lock (Version sets before): single-transaction mode commits only there.
func (d *driver) target() int {
	if d.plan == nil {
		return d.current
	}
	return d.plan.target(d.before)
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

// endSingle ends the single transaction: committed when every migration in it succeeded and the
// run reached its target, rolled back as a whole otherwise (an interrupted run too, rather than
// keep what it got to). A failed COMMIT is kept in commitErr, for the Migrator to report.
func (d *driver) endSingle() error {
	var err error
	d.inTx = false
	if !d.failed && d.ctx.Err() == nil && d.current != d.target() {
		// golang-migrate stopped early with an error of its own: all or nothing.
		d.failed = true
		err = errors.Join(err, fmt.Errorf("the run stopped at %s, short of %s: the single transaction was rolled back", versionText(d.current), versionText(d.target())))
	}
	// All or nothing: an interrupted run rolls back too, rather than keep what it got to.
	if d.failed || d.ctx.Err() != nil {
		d.current = d.before
		err = errors.Join(err, d.exec(d.stmtCtx(), "ROLLBACK"))
	} else if commitErr := d.exec(d.stmtCtx(), d.bookkeeping(d.current, false)+d.txHistorySQL()+" COMMIT"); commitErr != nil {
		// A deferred constraint, say, fails at COMMIT: nothing of the run was applied.
		dir := Up
		if d.current < d.before {
			dir = Down
		}
		d.failed, d.current = true, d.before
		d.commitErr = sqlError(commitErr, dir, "(the single transaction's COMMIT)", nil, 0, d.before)
		if d.commitErr.SQLState == "" || sessionEnded(d.commitErr.SQLState) {
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
	return err
}
