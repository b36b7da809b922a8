package reliability

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/config"
)

// blockerSet: a table a, a table b, then an ALTER of a that a long reader of a blocks.
func blockerSet() map[string]string {
	return map[string]string{
		"000001_a.up.sql":       "CREATE TABLE a (id int PRIMARY KEY);\n",
		"000001_a.down.sql":     "DROP TABLE a;\n",
		"000002_b.up.sql":       "CREATE TABLE b (id int PRIMARY KEY);\n",
		"000002_b.down.sql":     "DROP TABLE b;\n",
		"000003_alter.up.sql":   "ALTER TABLE a ADD COLUMN name text;\n",
		"000003_alter.down.sql": "ALTER TABLE a DROP COLUMN name;\n",
	}
}

// longReader opens a transaction named long-report that reads table a and stays open: it blocks
// any ALTER of a until it ends.
func longReader(t testing.TB, cfg config.DB) pgx.Tx {
	t.Helper()
	cfg.AppName = "long-report"
	conn := connect(t, cfg)
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), "SELECT * FROM a"); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitLockWait waits until some session of cfg's database waits for a table lock (want true), or
// until none does (want false).
func waitLockWait(t testing.TB, cfg config.DB, want bool) {
	t.Helper()
	conn := adminConn(t)
	defer conn.Close(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting bool
		err := conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted AND locktype = 'relation'
			AND database = (SELECT oid FROM pg_database WHERE datname = $1))`, cfg.Name).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no change after 30 s: a session waiting for a table lock is %v", waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// onlyLogLinesBefore checks that every stderr line but the last is a log line.
func onlyLogLinesBefore(t testing.TB, name string, p proc) {
	t.Helper()
	last := lastLine(p.stderr)
	for l := range strings.Lines(strings.TrimSuffix(p.stderr, last+"\n")) {
		if !strings.Contains(l, "level=") {
			t.Errorf("%s: stderr line that is neither a log line nor the last: %q", name, l)
		}
	}
}

// TestMovedByAnotherMigrator makes a migrator find, under the lock, that another one moved the
// database off its path: through PgBouncer (transaction pooling, so no lock is held for the whole
// run) migrator A plans 2 -> 3, its ALTER waits behind a long reader until lock_timeout, and while
// A waits to retry, migrator B reverts 2. A's retry finds the database at 1: exit 17, one line
// that names the file, both versions and what to do, and the database exactly as B left it.
func TestMovedByAnotherMigrator(t *testing.T) {
	dir := writeSet(t, blockerSet())
	direct := newDB(t)
	if p := runMigrate(t, dir, processEnv(direct), "goto", "2"); p.code != 0 {
		t.Fatalf("goto 2: %s", p)
	}
	cfg := pooled(t, direct, "transaction")
	reader := longReader(t, direct)
	defer reader.Rollback(context.Background())
	a := startMigrate(t, dir, with(processEnv(cfg), "VISIONA_DB_APP_NAME", "corpus-moved-a",
		"VISIONA_DB_MIGRATION_LOCK_TIMEOUT", "500ms", "VISIONA_DB_MIGRATION_RETRIES", "1",
		"VISIONA_DB_MIGRATION_RETRY_DELAY", "10s"), "up")
	waitLockWait(t, direct, true)  // A's ALTER waits behind the reader
	waitLockWait(t, direct, false) // A gave up on lock_timeout: 5 to 10 s until its retry
	if p := runMigrate(t, dir, with(processEnv(cfg), "VISIONA_DB_APP_NAME", "corpus-moved-b"), "down", "1"); p.code != 0 {
		t.Fatalf("B's down 1 while A waits to retry: %s", p)
	}
	afterB := readState(t, direct)
	p := a.wait(t)
	want := "migrate: error: another migrator moved the database: 000003_alter.up.sql was to start from version 2, but another migrator has since moved the database to version 1; nothing of it was applied: check `migrate status` and run the command again"
	if p.code != cli.ExitMoved || lastLine(p.stderr) != want {
		t.Errorf("A after B's down: want exit %d and\n  %s\ngot %s", cli.ExitMoved, want, p)
	}
	onlyLogLinesBefore(t, "A", p)
	if d := afterB.diff(readState(t, direct)); d != "" {
		t.Errorf("A changed the database after B:\n%s", d)
	}
	if v, dirty, _ := versionRow(t, direct); v != 1 || dirty {
		t.Errorf("version %d dirty %v, want 1 clean", v, dirty)
	}
	if n := advisoryLocks(t); n != 0 {
		t.Errorf("%d advisory locks left", n)
	}
}

// TestLongTransactionBlocksAMigration: through PgBouncer, a migration behind a long transaction
// fails on lock_timeout and is retried whole. When the transaction ends after the first failure,
// the retry succeeds (exit 0, the retry's log line names the blocker); when it never ends, the run
// fails after its retries with one line naming the blocker, and the database is as it was.
func TestLongTransactionBlocksAMigration(t *testing.T) {
	dir := writeSet(t, blockerSet())
	for _, ends := range []bool{true, false} {
		name := "the blocker never ends"
		if ends {
			name = "the blocker ends after the first failure"
		}
		t.Run(name, func(t *testing.T) {
			direct := newDB(t)
			if p := runMigrate(t, dir, processEnv(direct), "goto", "2"); p.code != 0 {
				t.Fatalf("goto 2: %s", p)
			}
			before := readState(t, direct)
			reader := longReader(t, direct)
			defer reader.Rollback(context.Background())
			env := with(processEnv(pooled(t, direct, "transaction")), "VISIONA_DB_APP_NAME", "corpus-blocked",
				"VISIONA_DB_MIGRATION_LOCK_TIMEOUT", "500ms", "VISIONA_DB_MIGRATION_RETRIES", "2",
				"VISIONA_DB_MIGRATION_RETRY_DELAY", "2s")
			rp := startMigrate(t, dir, env, "up")
			if ends {
				waitLockWait(t, direct, true)
				waitLockWait(t, direct, false) // the first try failed: 1 to 2 s until the retry
				if err := reader.Rollback(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			p := rp.wait(t)
			retries := strings.Count(p.stderr, "retrying it whole")
			if !strings.Contains(p.stderr, "retrying it whole") || !strings.Contains(p.stderr, "long-report") {
				t.Errorf("no retry log line naming long-report:\n%s", p)
			}
			if ends {
				if p.code != 0 || retries != 1 || !strings.Contains(p.stdout, "000003") {
					t.Errorf("want exit 0 after one retry, got %d retries: %s", retries, p)
				}
				if v, dirty, _ := versionRow(t, direct); v != 3 || dirty {
					t.Errorf("version %d dirty %v, want 3 clean", v, dirty)
				}
				return
			}
			last := lastLine(p.stderr)
			if p.code != cli.ExitMigration || retries != 2 || !strings.Contains(last, "55P03") || !strings.Contains(last, "blocked by pid") ||
				!strings.Contains(last, "long-report") || !strings.Contains(last, "tried 3 times") || !strings.Contains(last, "still at version 2") {
				t.Errorf("want exit %d after 2 retries, one line naming long-report, got %d retries: %s", cli.ExitMigration, retries, p)
			}
			onlyLogLinesBefore(t, "blocked", p)
			if err := reader.Rollback(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := before.diff(readState(t, direct)); d != "" {
				t.Errorf("the failed run changed the database:\n%s", d)
			}
			if n := advisoryLocks(t); n != 0 {
				t.Errorf("%d advisory locks left", n)
			}
			t.Logf("%s", last)
		})
	}
}
