package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"visiona-backend/internal/db"
)

// A migration that fails on lock_timeout is retried whole, each retry naming who blocked it: it
// succeeds when the blocking transaction ends after the first retry, and fails naming the blocker
// when it never does.
func TestLockTimeoutRetries(t *testing.T) {
	ctx := context.Background()
	fsys := tables(1, map[string]string{
		"000002_alter.up.sql":   "ALTER TABLE t1 ADD COLUMN name text;\n",
		"000002_alter.down.sql": "ALTER TABLE t1 DROP COLUMN name;\n",
	})
	for _, ends := range []bool{true, false} {
		t.Run(fmt.Sprintf("blocker ends %v", ends), func(t *testing.T) {
			cfg := newDB(t)
			cfg.MigrationRetries, cfg.MigrationRetryDelay = 2, 200*time.Millisecond
			if _, err := newMigrator(t, cfg, fsys).Goto(ctx, 1); err != nil {
				t.Fatal(err)
			}
			readerCfg := cfg
			readerCfg.AppName = "long-report"
			tx := readT1(t, readerCfg)
			var logs bytes.Buffer
			m := newMigrator(t, cfg, fsys, db.WithMigrationTimeouts(time.Second, time.Minute),
				db.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if ends {
				// Ends during the first retry: 1 s of lock_timeout, then 100-200 ms of backoff.
				time.AfterFunc(1600*time.Millisecond, func() { tx.Rollback(context.Background()) })
			}
			results, err := m.Up(ctx)
			retries := strings.Count(logs.String(), "retrying it whole")
			if !strings.Contains(logs.String(), "long-report") {
				t.Errorf("the retry log does not name the blocker:\n%s", logs.String())
			}
			if ends {
				if err != nil || len(results) != 1 || retries < 1 {
					t.Fatalf("err = %v, %d results, %d retries; want success after a retry\n%s", err, len(results), retries, logs.String())
				}
				mustVersion(t, m, 2)
				return
			}
			var me *db.MigrationError
			if !errors.As(err, &me) || me.SQLState != "55P03" || !strings.Contains(err.Error(), "blocked by pid") ||
				!strings.Contains(err.Error(), "long-report") || !strings.Contains(err.Error(), "tried 3 times") || retries != 2 {
				t.Fatalf("err = %v, %d retries; want a 55P03 failure after 2 retries naming long-report\n%s", err, retries, logs.String())
			}
			mustVersion(t, m, 1)
		})
	}
}

// A lock left behind by a session idle outside any transaction is diagnosed as such, with the
// statement that clears it.
func TestLeakedLockDiagnosis(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	m := newMigrator(t, cfg, tables(1, nil), db.WithLockTimeout(500*time.Millisecond))
	conn := connect(t, cfg)
	holdLock(t, conn)
	var pid int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // idle for longer than the waiter's timeout
	_, err := m.Up(ctx)
	want := fmt.Sprintf("SELECT pg_terminate_backend(%d);", pid)
	if !errors.Is(err, db.ErrLockTimeout) || !strings.Contains(err.Error(), "left behind by a pooled or abandoned session") || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v; want a lock timeout that ends with %q", err, want)
	}
}

// A failed CREATE INDEX CONCURRENTLY leaves an INVALID index: the failure's recovery, version,
// status and the dirty error name it, and the statement they print removes it.
func TestInvalidIndexIsNamed(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	fsys := tables(0, map[string]string{
		"000001_t.up.sql":     "CREATE TABLE dup (v int);\nINSERT INTO dup VALUES (1), (1);\n",
		"000001_t.down.sql":   "DROP TABLE dup;\n",
		"000002_idx.up.sql":   "-- migrate:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY dup_v ON dup (v);\n",
		"000002_idx.down.sql": "-- migrate:no-transaction\nDROP INDEX CONCURRENTLY dup_v;\n",
	})
	m := newMigrator(t, cfg, fsys)
	_, err := m.Up(ctx)
	drop := "DROP INDEX CONCURRENTLY IF EXISTS public.dup_v;"
	if !errors.Is(err, db.ErrDirty) || !strings.Contains(err.Error(), "public.dup_v") || !strings.Contains(err.Error(), drop) {
		t.Fatalf("err = %v; want a dirty failure naming the invalid index and its drop", err)
	}
	info, err := m.Version(ctx)
	if err != nil || len(info.InvalidIndexes) != 1 || info.InvalidIndexes[0] != "public.dup_v" || !strings.Contains(info.Recover, drop) {
		t.Fatalf("version: %+v, %v", info, err)
	}
	st, err := m.Status(ctx)
	if err != nil || len(st.InvalidIndexes) != 1 || !strings.Contains(st.Recover, drop) {
		t.Fatalf("status: %+v, %v", st.VersionInfo, err)
	}
	if _, err := m.Up(ctx); !errors.Is(err, db.ErrDirty) || !strings.Contains(err.Error(), drop) {
		t.Fatalf("up on the dirty database: %v", err)
	}
	if _, err := connect(t, cfg).Exec(ctx, info.InvalidIndexDrop()); err != nil {
		t.Fatal(err)
	}
	if info, err := m.Version(ctx); err != nil || len(info.InvalidIndexes) != 0 {
		t.Fatalf("after the printed drop: %+v, %v", info, err)
	}
}
