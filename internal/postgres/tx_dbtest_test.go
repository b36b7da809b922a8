//go:build dbtest

package postgres_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"visiona-backend/internal/postgres"
)

// TestWithTxOnPostgres proves WithTx's endings on a real server: what fn wrote is there after a
// commit and gone after an error or a panic, the connection goes back to the pool either way,
// and a failing commit is mapped.
func TestWithTxOnPostgres(t *testing.T) {
	pool := dbtestPool(t, dbtestConfig(t))
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `create table tx_probe (id int primary key)`); err != nil {
		t.Fatal(err)
	}
	insert := func(id int) func(pgx.Tx) error {
		return func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into tx_probe (id) values ($1)`, id)
			return err
		}
	}
	exists := func(id int) bool {
		var ok bool
		if err := pool.QueryRow(ctx, `select exists (select 1 from tx_probe where id = $1)`, id).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	idle := func(t *testing.T) {
		t.Helper()
		if n := pool.Stat().AcquiredConns(); n != 0 {
			t.Fatalf("%d connections still acquired: the transaction's connection was not released", n)
		}
	}

	t.Run("commit", func(t *testing.T) {
		if err := postgres.WithTx(ctx, pool, insert(1)); err != nil {
			t.Fatal(err)
		}
		if !exists(1) {
			t.Fatal("committed row missing")
		}
		idle(t)
	})
	t.Run("rollback on error", func(t *testing.T) {
		fnErr := errors.New("fn failed")
		err := postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
			if err := insert(2)(tx); err != nil {
				return err
			}
			return fnErr
		})
		if err != fnErr {
			t.Fatalf("WithTx = %v, want fn's error as is", err)
		}
		if exists(2) {
			t.Fatal("row of a failed transaction was committed")
		}
		idle(t)
	})
	t.Run("rollback on panic", func(t *testing.T) {
		var recovered any
		func() {
			defer func() { recovered = recover() }()
			_ = postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
				if err := insert(3)(tx); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		if recovered != "boom" {
			t.Fatalf("recovered %v, want the panic to go on with its value", recovered)
		}
		if exists(3) {
			t.Fatal("row of a panicked transaction was committed")
		}
		idle(t)
	})
	t.Run("failed statement then nil", func(t *testing.T) {
		err := postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
			_ = insert(1)(tx) // duplicate: the transaction is aborted, and fn ignores it
			return nil
		})
		if !errors.Is(err, pgx.ErrTxCommitRollback) {
			t.Fatalf("WithTx = %v, want the commit to report the rollback", err)
		}
		idle(t)
	})
	t.Run("commit fails on a deferred constraint", func(t *testing.T) {
		if _, err := pool.Exec(ctx, `create table tx_deferred (id int, constraint tx_deferred_id_key unique (id) deferrable initially deferred)`); err != nil {
			t.Fatal(err)
		}
		err := postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `insert into tx_deferred (id) values (1), (1)`)
			return err
		})
		if !errors.Is(err, postgres.ErrConflict) || err.Error() != "commit transaction: conflict (unique violation)" {
			t.Fatalf("WithTx = %v, want the commit's unique violation, mapped", err)
		}
		idle(t)
	})
	t.Run("nested is a savepoint", func(t *testing.T) {
		err := postgres.WithTx(ctx, pool, func(outer pgx.Tx) error {
			if err := insert(4)(outer); err != nil {
				return err
			}
			inner := postgres.WithTx(ctx, outer, func(tx pgx.Tx) error {
				if err := insert(5)(tx); err != nil {
					return err
				}
				return errors.New("inner fails")
			})
			if inner == nil {
				t.Error("inner WithTx succeeded")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !exists(4) || exists(5) {
			t.Fatalf("outer row present %v (want true), inner row present %v (want false)", exists(4), exists(5))
		}
	})
	var _ postgres.Beginner = (*pgxpool.Pool)(nil)
}
