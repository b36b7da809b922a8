package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Beginner starts a transaction: *pgxpool.Pool, *pgx.Conn, and pgx.Tx (a savepoint) all do.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// rollbackTimeout bounds a rollback that runs after ctx is done: a cancelled ctx would make pgx
// close the connection instead of rolling back, costing the pool a connection.
const rollbackTimeout = 5 * time.Second

// WithTx runs fn in a transaction and commits it if fn returns nil. If fn returns an error the
// transaction is rolled back and fn's error returned as is (a failed rollback is joined to it).
// If fn panics (or calls runtime.Goexit, as t.FailNow does) the transaction is rolled back and
// the panic goes on: the deferred rollback does not recover it, so the panic keeps its value and
// its original stack trace. Errors of begin and commit are mapped by MapError.
func WithTx(ctx context.Context, db Beginner, fn func(pgx.Tx) error) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", MapError(err))
	}
	done := false
	defer func() {
		if !done { // fn panicked or exited the goroutine
			rollback(ctx, tx)
		}
	}()
	fnErr := fn(tx)
	done = true
	if fnErr != nil {
		if rbErr := rollback(ctx, tx); rbErr != nil {
			return errors.Join(fnErr, fmt.Errorf("roll back transaction: %w", MapError(rbErr)))
		}
		return fnErr
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit transaction: %w", MapError(err))
	}
	return nil
}

// rollback rolls tx back with a bounded context of its own. A transaction fn already ended
// (pgx.ErrTxClosed) is not an error.
func rollback(ctx context.Context, tx pgx.Tx) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	err := tx.Rollback(ctx)
	if err == nil || errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return err
}
