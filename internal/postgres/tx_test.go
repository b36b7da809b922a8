package postgres_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/postgres"
)

// fakeTx records how a transaction ended; the real thing is proven in tx_dbtest_test.go.
type fakeTx struct {
	pgx.Tx // nil: calling anything else panics
	mu     sync.Mutex
	ended  string // "commit", "rollback"
	ctxErr error  // ctx.Err() seen by Rollback
	commit error
}

func (f *fakeTx) Commit(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = "commit"
	return f.commit
}

func (f *fakeTx) Rollback(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended != "" {
		return pgx.ErrTxClosed
	}
	f.ended, f.ctxErr = "rollback", ctx.Err()
	return nil
}

type fakeBeginner struct {
	tx  *fakeTx
	err error
}

func (b *fakeBeginner) Begin(ctx context.Context) (pgx.Tx, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.tx, nil
}

func TestWithTxEndings(t *testing.T) {
	fnErr := errors.New("fn failed")
	cases := []struct {
		name  string
		fn    func(pgx.Tx) error
		ended string
		err   error
	}{
		{"commit", func(pgx.Tx) error { return nil }, "commit", nil},
		{"rollback on error", func(pgx.Tx) error { return fnErr }, "rollback", fnErr},
		{"fn rolled back itself", func(tx pgx.Tx) error { _ = tx.Rollback(context.Background()); return fnErr }, "rollback", fnErr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &fakeBeginner{tx: &fakeTx{}}
			err := postgres.WithTx(t.Context(), b, c.fn)
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) || (c.err != nil && err.Error() != c.err.Error()) {
				t.Fatalf("WithTx = %v, want %v unchanged", err, c.err)
			}
			if b.tx.ended != c.ended {
				t.Fatalf("transaction ended with %q, want %q", b.tx.ended, c.ended)
			}
		})
	}
}

func TestWithTxRollsBackOnPanicAndRepanics(t *testing.T) {
	b := &fakeBeginner{tx: &fakeTx{}}
	type boom struct{ n int }
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = postgres.WithTx(t.Context(), b, func(pgx.Tx) error { panic(boom{42}) })
	}()
	if recovered != (boom{42}) {
		t.Fatalf("recovered %v, want the original panic value", recovered)
	}
	if b.tx.ended != "rollback" {
		t.Fatalf("transaction ended with %q, want rollback", b.tx.ended)
	}
}

func TestWithTxRollsBackOnGoexit(t *testing.T) {
	b := &fakeBeginner{tx: &fakeTx{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = postgres.WithTx(t.Context(), b, func(pgx.Tx) error { runtime.Goexit(); return nil })
	}()
	<-done
	if b.tx.ended != "rollback" {
		t.Fatalf("transaction ended with %q, want rollback", b.tx.ended)
	}
}

// A cancelled context must not stop the rollback: pgx would close the connection instead.
func TestWithTxRollsBackWithCancelledContext(t *testing.T) {
	b := &fakeBeginner{tx: &fakeTx{}}
	ctx, cancel := context.WithCancel(t.Context())
	_ = postgres.WithTx(ctx, b, func(pgx.Tx) error { cancel(); return ctx.Err() })
	if b.tx.ended != "rollback" || b.tx.ctxErr != nil {
		t.Fatalf("ended %q with ctx error %v; want a rollback under a live context", b.tx.ended, b.tx.ctxErr)
	}
}

func TestWithTxBeginAndCommitErrorsAreMapped(t *testing.T) {
	err := postgres.WithTx(t.Context(), &fakeBeginner{err: errors.New("closed pool")}, func(pgx.Tx) error { return nil })
	if !errors.Is(err, postgres.ErrUnavailable) || err.Error() != "begin transaction: database unavailable (connection lost)" {
		t.Fatalf("begin failure = %v", err)
	}
	b := &fakeBeginner{tx: &fakeTx{commit: pgx.ErrTxCommitRollback}}
	err = postgres.WithTx(t.Context(), b, func(pgx.Tx) error { return nil })
	if !errors.Is(err, pgx.ErrTxCommitRollback) || err.Error() != "commit transaction: database error (commit resulted in rollback)" {
		t.Fatalf("commit failure = %v", err)
	}
}
