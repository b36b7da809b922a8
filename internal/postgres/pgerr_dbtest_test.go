//go:build dbtest

package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"visiona-backend/internal/config"
	"visiona-backend/internal/postgres"
	"visiona-backend/internal/testenv"
)

// dbtestConfig is a fresh database cloned from the migrated template (see testenv).
func dbtestConfig(t *testing.T) config.DB {
	t.Helper()
	cfg := testenv.DBTestDB(t)
	cfg.AppName = "visiona-db-dbtest"
	return cfg
}

func dbtestPool(t *testing.T, cfg config.DB) *pgxpool.Pool {
	t.Helper()
	pool, err := postgres.NewPool(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// checkMapped asserts MapError(err) is kind, carries sqlState, and shows none of leaks.
func checkMapped(t *testing.T, err error, kind error, sqlState string, leaks ...string) *postgres.Error {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	mapped := postgres.MapError(err)
	if !errors.Is(mapped, kind) {
		t.Fatalf("MapError(%v) = %v, want %v", err, mapped, kind)
	}
	var e *postgres.Error
	if !errors.As(mapped, &e) {
		t.Fatalf("MapError(%v) is not a *postgres.Error", err)
	}
	if sqlState != "" && e.SQLState != sqlState {
		t.Fatalf("SQLState = %q, want %q (error %v)", e.SQLState, sqlState, err)
	}
	for _, s := range leaks {
		if strings.Contains(mapped.Error(), s) {
			t.Fatalf("message %q shows %q", mapped.Error(), s)
		}
	}
	return e
}

// TestMapErrorProvoked provokes each SQLSTATE MapError maps on a real server. 57P02 (a crashed
// backend), 57P03 (a server starting up) and 08xxx cannot be caused without breaking the shared
// server; pgerr_test.go covers them with synthetic errors.
func TestMapErrorProvoked(t *testing.T) {
	cfg := dbtestConfig(t)
	pool := dbtestPool(t, cfg)
	ctx := t.Context()
	var userID string
	if err := pool.QueryRow(ctx, `insert into users (email, password_hash) values ('Alice@Example.com', 'h') returning id`).Scan(&userID); err != nil {
		t.Fatal(err)
	}

	t.Run("no rows", func(t *testing.T) {
		var n int
		err := pool.QueryRow(ctx, `select 1 where false`).Scan(&n)
		if e := checkMapped(t, err, postgres.ErrNotFound, ""); e.Error() != "not found" {
			t.Fatalf("text %q", e.Error())
		}
	})
	t.Run("23505 unique violation", func(t *testing.T) {
		_, err := pool.Exec(ctx, `insert into users (email, password_hash) values ('alice@EXAMPLE.com', 'h')`)
		e := checkMapped(t, err, postgres.ErrConflict, "23505", "users_email_lower_key", "alice", "insert")
		if e.Constraint != "users_email_lower_key" || e.Table != "users" || e.Error() != "conflict (unique violation)" {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("23503 foreign key violation", func(t *testing.T) {
		_, err := pool.Exec(ctx, `insert into models (owner_id, name, target_chip, source, faa_object_key)
values (gen_random_uuid(), 'm', 'c', 'upload', 'k')`)
		if e := checkMapped(t, err, postgres.ErrForeignKey, "23503", "models_owner_id_fkey", "models"); e.Constraint != "models_owner_id_fkey" {
			t.Fatalf("%+v", e)
		}
		// The other direction: deleting a row still referenced.
		if _, err := pool.Exec(ctx, `insert into devices (owner_id, serial) values ($1, 'SN-1')`, userID); err != nil {
			t.Fatal(err)
		}
		_, err = pool.Exec(ctx, `delete from users where id = $1`, userID)
		checkMapped(t, err, postgres.ErrForeignKey, "23503", "devices_owner_id_fkey")
	})
	t.Run("23514 check violation", func(t *testing.T) {
		_, err := pool.Exec(ctx, `insert into models (owner_id, name, target_chip, source, faa_object_key)
values ($1, 'm', 'c', 'torrent', 'k')`, userID)
		if e := checkMapped(t, err, postgres.ErrCheck, "23514", "models_source_check", "torrent"); e.Constraint != "models_source_check" {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("23502 not-null violation", func(t *testing.T) {
		_, err := pool.Exec(ctx, `insert into users (email, password_hash) values ('bob@example.com', null)`)
		if e := checkMapped(t, err, postgres.ErrCheck, "23502", "password_hash", "bob"); e.Column != "password_hash" || e.Error() != "invalid value (not-null violation)" {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("40001 serialization failure", func(t *testing.T) {
		a, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Rollback(ctx)
		var name string
		if err := a.QueryRow(ctx, `select display_name from users where id = $1`, userID).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `update users set display_name = 'changed by b' where id = $1`, userID); err != nil {
			t.Fatal(err)
		}
		_, err = a.Exec(ctx, `update users set display_name = 'changed by a' where id = $1`, userID)
		checkMapped(t, err, postgres.ErrRetryable, "40001")
	})
	t.Run("40P01 deadlock", func(t *testing.T) {
		if _, err := pool.Exec(ctx, `insert into devices (owner_id, serial) values ($1, 'SN-A'), ($1, 'SN-B')`, userID); err != nil {
			t.Fatal(err)
		}
		// Two transactions lock the rows in opposite orders; PostgreSQL aborts one with 40P01.
		var (
			wg      sync.WaitGroup
			locked  sync.WaitGroup
			results [2]error
		)
		locked.Add(2)
		for i, order := range [2][2]string{{"SN-A", "SN-B"}, {"SN-B", "SN-A"}} {
			wg.Go(func() {
				var once sync.Once
				holding := func() { once.Do(locked.Done) }
				defer holding() // also on an early failure, so the other one does not wait forever
				results[i] = postgres.WithTx(ctx, pool, func(tx pgx.Tx) error {
					// Detect the deadlock in 100ms instead of the default 1s (a superuser setting;
					// the test database's URL is the superuser's).
					if _, err := tx.Exec(ctx, `set local deadlock_timeout = '100ms'`); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `update devices set name = 'x' where serial = $1`, order[0]); err != nil {
						return err
					}
					holding()
					locked.Wait()
					_, err := tx.Exec(ctx, `update devices set name = 'y' where serial = $1`, order[1])
					return err
				})
			})
		}
		wg.Wait()
		failed := 0
		for _, err := range results {
			if err != nil {
				checkMapped(t, err, postgres.ErrRetryable, "40P01")
				failed++
			}
		}
		if failed != 1 {
			t.Fatalf("%d transactions failed, want exactly one deadlock victim: %v", failed, results)
		}
	})
	t.Run("57P01 admin shutdown", func(t *testing.T) {
		connCfg, err := postgres.ConnConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.ConnectConfig(ctx, connCfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		var pid uint32
		if err := conn.QueryRow(ctx, `select pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `select pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		// The backend sends FATAL 57P01 before closing; the next statement reads it.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err = conn.Exec(ctx, `select 1`)
			if err != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		checkMapped(t, err, postgres.ErrUnavailable, "57P01")
		// Afterwards the connection is closed: that too is unavailable.
		_, err = conn.Exec(ctx, `select 1`)
		checkMapped(t, err, postgres.ErrUnavailable, "")
	})
	t.Run("closed pool", func(t *testing.T) {
		p, err := postgres.NewPool(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		_, err = p.Exec(ctx, `select 1`)
		if e := checkMapped(t, err, postgres.ErrUnavailable, ""); e.Error() != "database unavailable (connection lost)" {
			t.Fatalf("text %q", e.Error())
		}
	})
	t.Run("cancelled query is not unavailable", func(t *testing.T) {
		qctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := pool.Exec(qctx, `select pg_sleep(5)`)
		mapped := postgres.MapError(err)
		if errors.Is(mapped, postgres.ErrUnavailable) || !(errors.Is(mapped, context.DeadlineExceeded) || errors.Is(mapped, context.Canceled)) {
			t.Fatalf("MapError(%v) = %v; want a context error, not ErrUnavailable", err, mapped)
		}
	})
}

// TestNewPoolProvokedFailures: connecting fails for real, classified like postgres.Connect, and
// MapError makes every such failure ErrUnavailable without showing the connection details.
func TestNewPoolProvokedFailures(t *testing.T) {
	cfg := dbtestConfig(t)
	wrongPassword := cfg
	wrongPassword.Password = "not-the-password"
	noDatabase := cfg.WithName("no_such_database_here")
	cases := []struct {
		name   string
		cfg    config.DB
		reason string
		state  string
	}{
		{"wrong password", wrongPassword, "password authentication failed", "28P01"},
		{"unknown database", noDatabase, `database "no_such_database_here" does not exist`, "3D000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pool, err := postgres.NewPool(t.Context(), c.cfg)
			if pool != nil {
				pool.Close()
				t.Fatal("NewPool succeeded")
			}
			var ce *postgres.ConnectError
			if !errors.As(err, &ce) || !strings.Contains(ce.Reason, c.reason) {
				t.Fatalf("NewPool = %v; want a *ConnectError saying %q", err, c.reason)
			}
			if strings.Contains(err.Error(), c.cfg.Password) {
				t.Fatal("the error shows the password")
			}
			e := checkMapped(t, err, postgres.ErrUnavailable, c.state, c.cfg.Password, c.cfg.Host, c.cfg.User, c.cfg.Name)
			if e.Error() != "database unavailable (cannot connect)" {
				t.Fatalf("text %q", e.Error())
			}
		})
	}
}

// TestNewPoolSettings: pool sizes and application_name come from config.DB.
func TestNewPoolSettings(t *testing.T) {
	cfg := dbtestConfig(t)
	cfg.MaxConns, cfg.MinConns, cfg.AppName = 7, 2, "visiona-pool-test"
	pool := dbtestPool(t, cfg)
	if got := pool.Config(); got.MaxConns != 7 || got.MinConns != 2 {
		t.Fatalf("pool sizes %d/%d, want 7/2", got.MaxConns, got.MinConns)
	}
	var app string
	if err := pool.QueryRow(t.Context(), `select application_name from pg_stat_activity where pid = pg_backend_pid()`).Scan(&app); err != nil {
		t.Fatal(err)
	}
	if app != "visiona-pool-test" {
		t.Fatalf("application_name = %q", app)
	}
}
