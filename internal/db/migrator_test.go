package db_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // the stock driver, to prove interoperation
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/lines"
	"visiona-backend/internal/lint"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

func TestSchemaUpDownGotoStatus(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	m := newMigrator(t, cfg, nil)
	latest := m.Source().Latest()

	results, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if uint(len(results)) != latest {
		t.Fatalf("up applied %d migrations, want %d", len(results), latest)
	}
	for i, r := range results {
		if r.Version != uint(i+1) || r.Direction != db.Up || r.Name == "" || r.Duration <= 0 {
			t.Errorf("result %d = %+v", i, r)
		}
	}
	if info := mustVersion(t, m, latest); info.Pending != 0 || info.Ahead {
		t.Errorf("version info %+v", info)
	}
	if again, err := m.Up(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second up: %d results, err %v; want no change", len(again), err)
	}

	down, err := m.Down(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(down) != 2 || down[0].Version != latest || down[1].Version != latest-1 || down[0].Direction != db.Down {
		t.Fatalf("down 2 = %+v", down)
	}
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 2 || !st.Migrations[latest-3].Applied || st.Migrations[latest-2].Applied || !st.Migrations[latest-3].Current {
		t.Errorf("status after down 2: %+v", st)
	}

	if _, err := m.Goto(ctx, 3); err != nil {
		t.Fatal(err)
	}
	mustVersion(t, m, 3)
	if _, err := m.Down(ctx, 4); !errors.Is(err, db.ErrInvalidArgument) {
		t.Errorf("down 4 at version 3: err = %v, want ErrInvalidArgument", err)
	}
	mustVersion(t, m, 3)
	if _, err := m.Goto(ctx, latest); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Goto(ctx, latest+1); !errors.Is(err, db.ErrUnknownVersion) {
		t.Errorf("goto %d: err = %v, want ErrUnknownVersion", latest+1, err)
	}
	all, err := m.DownAll(ctx)
	if err != nil || uint(len(all)) != latest {
		t.Fatalf("down all: %d results, err %v", len(all), err)
	}
	mustVersion(t, m, 0)
	conn := connect(t, cfg)
	var leftovers int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname NOT LIKE 'schema\_migrations%'`).Scan(&leftovers); err != nil {
		t.Fatal(err)
	}
	if leftovers != 0 {
		t.Errorf("%d relations left in public after down -all", leftovers)
	}
}

func TestFailedMigrationLeavesPreviousVersionClean(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	m := newMigrator(t, cfg, failsThird("CREATE TABLE t3 (id int);\nINSERT INTO t1 VALUES (1);\n\nSELECT * FROM no_such_table;\n", "DROP TABLE t3;\n"))
	t.Run("runtime error", func(t *testing.T) {
		results, err := m.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || !errors.Is(err, db.ErrMigrationFailed) {
			t.Fatalf("err = %v, want *MigrationError", err)
		}
		if len(results) != 2 {
			t.Errorf("%d migrations reported applied, want 2", len(results))
		}
		if me.File != "000003_bad.up.sql" || me.Line != 4 || me.SQLState != "42P01" || me.Dirty || me.Version != 2 {
			t.Errorf("error = %+v, want file 000003_bad.up.sql line 4 SQLSTATE 42P01 at clean version 2", me)
		}
		for _, want := range []string{"migrations/000003_bad.up.sql:4:", "42P01", "still at version 2"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
		mustVersion(t, m, 2)
		conn := connect(t, cfg)
		if tableExists(t, conn, "t3") {
			t.Error("t3 exists: the failed migration's first statement was kept")
		}
		var rows int
		conn.QueryRow(ctx, "SELECT count(*) FROM t1").Scan(&rows)
		if rows != 0 {
			t.Errorf("t1 has %d rows: the failed migration's insert was kept", rows)
		}
	})

	// A syntax error is reported with its line and column too.
	t.Run("syntax error", func(t *testing.T) {
		syntax := newMigrator(t, cfg, failsThird("-- a comment\nCREATE TABLE t3 (id int);\nCREAT TABLE t4 (id int);\n", "DROP TABLE t3;\n"))
		_, err := syntax.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || me.Line != 3 || me.Column != 1 || me.SQLState != "42601" {
			t.Errorf("syntax error = %v, want line 3 column 1 SQLSTATE 42601", err)
		}
		mustVersion(t, m, 2)
	})

	// Inside a DO block PostgreSQL gives no position in the file, but says where in the block.
	t.Run("error in a DO block", func(t *testing.T) {
		block := newMigrator(t, cfg, failsThird("DO $$\nBEGIN\n  PERFORM 1/0;\nEND $$;\n", "SELECT 1;\n"))
		_, err := block.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || me.SQLState != "22012" || !strings.Contains(err.Error(), "PL/pgSQL function inline_code_block line 3") {
			t.Errorf("error in a DO block = %v, want SQLSTATE 22012 and the block's line", err)
		}
	})
}

const helperEnv = "VISIONA_TEST_HELPER"

// runHelperProcess is the migrator run in a child process that the kill test kills. It reads the
// database from VISIONA_DB_* like the real CLI.
func runHelperProcess() int {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	m, err := db.New(cfg.DB, killFS())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := m.Up(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// killFS's second migration sleeps only for the process about to be killed, told apart by its
// application_name, so the rerun after the kill is quick.
func killFS() fstest.MapFS {
	return tables(1, map[string]string{
		"000002_slow.up.sql":   "CREATE TABLE killed (id int);\nSELECT pg_sleep(CASE WHEN current_setting('application_name') = 'kill-me' THEN 60 ELSE 0 END);\n",
		"000002_slow.down.sql": "DROP TABLE killed;\n",
	})
}

func TestKilledProcessLeavesNoDirtyState(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	conn := connect(t, cfg)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "VISIONA_DB_HOST="+cfg.Host, fmt.Sprintf("VISIONA_DB_PORT=%d", cfg.Port),
		"VISIONA_DB_USER="+cfg.User, "VISIONA_DB_PASSWORD="+cfg.Password, "VISIONA_DB_NAME="+cfg.Name,
		"VISIONA_DB_SSLMODE="+cfg.SSLMode, "VISIONA_DB_APP_NAME=kill-me")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for pid == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child never reached the slow migration")
		}
		time.Sleep(20 * time.Millisecond)
		conn.QueryRow(ctx, "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name = 'kill-me' AND query LIKE '%pg_sleep%' AND state = 'active'").Scan(&pid)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	cmd.Wait()

	// The server has not noticed yet (its backend sleeps on), and already nothing is dirty.
	m := newMigrator(t, cfg, killFS(), db.WithLockTimeout(200*time.Millisecond))
	mustVersion(t, m, 1)
	// Like an operator would, end the orphaned backend; its transaction rolls back.
	conn.Exec(ctx, "SELECT pg_terminate_backend($1)", pid)
	for i := 0; i < 100 && tableExists(t, conn, "killed"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if tableExists(t, conn, "killed") {
		t.Fatal("the killed migration's table exists")
	}
	mustVersion(t, m, 1)
	if _, err := newMigrator(t, cfg, killFS()).Up(ctx); err != nil {
		t.Fatalf("up after the kill: %v", err)
	}
	mustVersion(t, m, 2)
}

func TestConcurrentMigratorsApplyEachMigrationOnce(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	const n, workers = 20, 8
	fsys := testenv.GenerateSet(n, func(v int) testenv.Migration {
		if v == 1 {
			return testenv.Migration{Name: "log", Up: "CREATE TABLE applied_log (version int NOT NULL, pid int NOT NULL DEFAULT pg_backend_pid());\n", Down: "DROP TABLE applied_log;\n"}
		}
		return testenv.Migration{Name: "step",
			Up:   fmt.Sprintf("INSERT INTO applied_log (version) VALUES (%d);\nSELECT pg_sleep(0.01);\n", v),
			Down: fmt.Sprintf("DELETE FROM applied_log WHERE version = %d;\n", v)}
	})
	var wg sync.WaitGroup
	applied := make([]int, workers)
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			m, err := db.New(cfg, fsys, db.WithLockTimeout(time.Minute))
			if err != nil {
				errs[w] = err
				return
			}
			results, err := m.Up(ctx)
			applied[w], errs[w] = len(results), err
		})
	}
	wg.Wait()
	total := 0
	for w := range workers {
		if errs[w] != nil {
			t.Errorf("migrator %d: %v", w, errs[w])
		}
		total += applied[w]
	}
	if total != n {
		t.Errorf("migrators reported %d migrations applied in all, want %d", total, n)
	}
	conn := connect(t, cfg)
	var rows, distinct int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT version) FROM applied_log").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != n-1 || distinct != n-1 {
		t.Errorf("applied_log has %d rows for %d versions, want %d of each: a migration ran twice or not at all", rows, distinct, n-1)
	}
	mustVersion(t, newMigrator(t, cfg, fsys), n)
}

func TestLockTimeoutNamesTheHolder(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	holderCfg := cfg
	holderCfg.AppName = "lock-holder-test"
	holder := connect(t, holderCfg)
	// The same key golang-migrate's own drivers use, so this is what the stock CLI would hold.
	m := newMigrator(t, cfg, tables(1, nil), db.WithLockTimeout(300*time.Millisecond))
	var holderPID int
	if err := holder.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&holderPID); err != nil {
		t.Fatal(err)
	}
	key := holdLock(t, holder)
	start := time.Now()
	_, err := m.Up(ctx)
	var lte *db.LockTimeoutError
	if !errors.As(err, &lte) || !errors.Is(err, db.ErrLockTimeout) {
		t.Fatalf("err = %v, want *LockTimeoutError", err)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond || waited > 10*time.Second {
		t.Errorf("gave up after %s, want about 300ms", waited)
	}
	if lte.Holder == nil || lte.Holder.PID != holderPID || lte.Holder.ApplicationName != "lock-holder-test" {
		t.Errorf("holder = %+v, want pid %d application lock-holder-test", lte.Holder, holderPID)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d, lock-holder-test", holderPID)) {
		t.Errorf("message does not name the holder: %q", err)
	}
	conn := connect(t, cfg)
	if tableExists(t, conn, "t1") || tableExists(t, conn, "schema_migrations") {
		t.Error("the timed-out run changed the database")
	}
	holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", key)
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("up once the lock is free: %v", err)
	}
}

// stockURL is cfg as a URL for the stock golang-migrate pgx5 driver: testenv.ConnURL's, every part
// escaped (a password of an existing server may hold any of :@/?#%).
func stockURL(cfg config.DB) string {
	return "pgx5" + strings.TrimPrefix(testenv.ConnURL(cfg), "postgres")
}

func TestStockURLEscapesEveryPart(t *testing.T) {
	cfg := config.DB{User: "u@x", Password: "pw:@/?#x%", Host: "::1", Port: 5432, Name: "d b?", SSLMode: "disable"}
	u, err := url.Parse(stockURL(cfg))
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	if u.User.Username() != cfg.User || pw != cfg.Password || u.Hostname() != "::1" || u.Port() != "5432" || u.Path != "/d b?" || u.Query().Get("sslmode") != "disable" {
		t.Errorf("%s does not round-trip %+v", u.Redacted(), cfg)
	}
}

func TestStockGolangMigrateSharesTheVersionTable(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	ours := newMigrator(t, cfg, nil)
	if _, err := ours.Up(ctx); err != nil {
		t.Fatal(err)
	}
	latest := ours.Source().Latest()
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	stock, err := migrate.NewWithSourceInstance("iofs", src, stockURL(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer stock.Close()
	v, dirty, err := stock.Version()
	if err != nil || v != latest || dirty {
		t.Fatalf("stock golang-migrate reads version %d dirty=%v err=%v, want %d clean", v, dirty, err, latest)
	}
	if err := stock.Steps(-2); err != nil {
		t.Fatal(err)
	}
	mustVersion(t, ours, latest-2)
	if _, err := ours.Up(ctx); err != nil {
		t.Fatalf("our up after the stock tool's down: %v", err)
	}
	mustVersion(t, ours, latest)
}

func TestNoTransactionFile(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	good := tables(1, map[string]string{
		"000002_index.up.sql":   "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t1_id_idx ON t1 (id);\n",
		"000002_index.down.sql": "-- migrate:no-transaction\nDROP INDEX CONCURRENTLY t1_id_idx;\n",
	})
	t.Run("applied and reverted", func(t *testing.T) {
		m := newMigrator(t, cfg, good)
		if _, err := m.Up(ctx); err != nil {
			t.Fatalf("CONCURRENTLY in a no-transaction file: %v", err)
		}
		var ms float64
		if err := connect(t, cfg).QueryRow(ctx, "SELECT duration_ms FROM schema_migrations_history WHERE version = 2").Scan(&ms); err != nil || ms <= 0 {
			t.Errorf("the no-transaction file's recorded duration = %v ms (%v), want its real time", ms, err)
		}
		if _, err := m.Down(ctx, 1); err != nil {
			t.Fatalf("down of a no-transaction file: %v", err)
		}
	})

	bad := tables(1, map[string]string{
		"000002_index.up.sql":   "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t1_nope_idx ON t1 (nope);\n",
		"000002_index.down.sql": "DROP INDEX t1_nope_idx;\n",
	})
	t.Run("a failure leaves it dirty", func(t *testing.T) {
		mb := newMigrator(t, cfg, bad)
		_, err := mb.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || !me.Dirty || me.Version != 2 || me.SQLState != "42703" || !strings.Contains(me.Recover, "migrate force 1") {
			t.Fatalf("err = %v, want a dirty *MigrationError at 2 whose recovery is `migrate force 1`", err)
		}
		_, err = mb.Up(ctx)
		var de *db.DirtyError
		if !errors.As(err, &de) || de.Version != 2 || !strings.Contains(err.Error(), "migrate force 1") {
			t.Fatalf("up on the dirty database: err = %v, want *DirtyError naming `migrate force 1`", err)
		}
		st, err := mb.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Dirty || st.Pending != 1 || st.Migrations[1].Applied || !strings.Contains(st.Recover, "migrate force 1") {
			t.Errorf("status of the dirty database: %+v, want dirty, 000002 not applied and pending, recovery named", st)
		}
		if err := mb.Force(ctx, 1); err != nil {
			t.Fatal(err)
		}
		mustVersion(t, mb, 1)
	})
}

func TestDatabaseAheadOfFiles(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	if _, err := newMigrator(t, cfg, tables(3, nil)).Up(ctx); err != nil {
		t.Fatal(err)
	}
	older := newMigrator(t, cfg, tables(2, nil))
	_, err := older.Up(ctx)
	var ae *db.AheadError
	if !errors.As(err, &ae) || ae.DatabaseVersion != 3 || ae.LatestFile != 2 {
		t.Fatalf("err = %v, want *AheadError{3, 2}", err)
	}
	info, err := older.Version(ctx)
	if err != nil || !info.Ahead || info.Version != 3 {
		t.Fatalf("version = %+v, %v; want ahead at 3", info, err)
	}
}

func TestInterruptStopsBetweenMigrations(t *testing.T) {
	cfg := newDB(t)
	fsys := testenv.GenerateSet(5, func(v int) testenv.Migration {
		m := plainTable(v)
		m.Name, m.Up = "slow", m.Up+"SELECT pg_sleep(0.2);\n"
		return m
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := newMigrator(t, cfg, fsys, db.WithProgress(func(db.Result) { cancel() }))
	results, err := m.Up(ctx)
	if !errors.Is(err, db.ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if len(results) == 0 || len(results) >= 5 {
		t.Fatalf("%d migrations ran, want the first (and at most the one in flight)", len(results))
	}
	mustVersion(t, m, uint(len(results)))
	conn := connect(t, cfg)
	for i := 1; i <= 5; i++ {
		if got, want := tableExists(t, conn, fmt.Sprintf("t%d", i)), i <= len(results); got != want {
			t.Errorf("table t%d exists=%v, want %v", i, got, want)
		}
	}
}

func TestAutoMigrate(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	m := newMigrator(t, cfg, nil)

	t.Run("off", func(t *testing.T) {
		if err := db.AutoMigrate(ctx, cfg, migrations.FS, log); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "migrations pending") {
			t.Errorf("without VISIONA_DB_AUTO_MIGRATE: want a pending warning, got %q", logs.String())
		}
		mustVersion(t, m, 0)
	})

	t.Run("on", func(t *testing.T) {
		cfg.AutoMigrate = true
		logs.Reset()
		if err := db.AutoMigrate(ctx, cfg, migrations.FS, log); err != nil {
			t.Fatal(err)
		}
		info := mustVersion(t, m, m.Source().Latest())
		if got := strings.Count(logs.String(), "msg=migrated"); got != int(info.Latest) {
			t.Errorf("%d migrated log lines, want %d:\n%s", got, info.Latest, logs.String())
		}
	})
}

// A migration stuck behind another transaction's lock gives up after the migration lock timeout
// instead of queueing every query on the table behind it, and leaves the previous version.
func TestMigrationLockTimeout(t *testing.T) {
	ctx := context.Background()
	t.Run("lock timeout", func(t *testing.T) {
		cfg := newDB(t)
		fsys := tables(1, map[string]string{
			"000002_alter.up.sql":   "-- needs ACCESS EXCLUSIVE on t1\nALTER TABLE t1 ADD COLUMN name text;\n",
			"000002_alter.down.sql": "ALTER TABLE t1 DROP COLUMN name;\n",
		})
		if _, err := newMigrator(t, cfg, fsys).Goto(ctx, 1); err != nil {
			t.Fatal(err)
		}
		tx := readT1(t, cfg)
		m := newMigrator(t, cfg, fsys, db.WithMigrationTimeouts(300*time.Millisecond, time.Minute))
		start := time.Now()
		_, err := m.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || me.SQLState != "55P03" || !strings.Contains(err.Error(), "VISIONA_DB_MIGRATION_LOCK_TIMEOUT") {
			t.Fatalf("err = %v, want a lock_timeout *MigrationError naming the variable", err)
		}
		if waited := time.Since(start); waited > 10*time.Second {
			t.Errorf("gave up after %s", waited)
		}
		tx.Rollback(ctx)
		mustVersion(t, m, 1)
		if _, err := m.Up(ctx); err != nil {
			t.Fatalf("up once the reader is gone: %v", err)
		}
	})

	// A statement that runs too long is cut at the statement timeout, also in a no-transaction file.
	t.Run("statement timeout", func(t *testing.T) {
		slow := tables(1, map[string]string{
			"000002_slow.up.sql":   "-- migrate:no-transaction\nSELECT pg_sleep(5);\n",
			"000002_slow.down.sql": "SELECT 1;\n",
		})
		cfg := newDB(t)
		ms := newMigrator(t, cfg, slow, db.WithMigrationTimeouts(0, 200*time.Millisecond))
		var me *db.MigrationError
		if _, err := ms.Up(ctx); !errors.As(err, &me) || me.SQLState != "57014" || !me.Dirty {
			t.Fatalf("err = %v, want a statement_timeout on the no-transaction file", err)
		}
	})
}

// The history table: a database the stock golang-migrate CLI migrated is adopted on our first run,
// our own migrations are recorded with checksum and duration, and status tells when a file changed
// after it was applied or when the database has a migration no file describes.
func TestHistoryAdoptsRecordsAndDetectsChanges(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	src, err := iofs.New(tables(3, nil), ".")
	if err != nil {
		t.Fatal(err)
	}
	stock, err := migrate.NewWithSourceInstance("iofs", src, stockURL(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if err := stock.Up(); err != nil {
		t.Fatal(err)
	}
	stock.Close()

	m := newMigrator(t, cfg, tables(4, nil))
	t.Run("adopts and records", func(t *testing.T) {
		if results, err := m.Up(ctx); err != nil || len(results) != 1 {
			t.Fatalf("up over the stock tool's database: %d results, %v", len(results), err)
		}
		st, err := m.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ms := range st.Migrations {
			wantAdopted := ms.Version <= 3
			if !ms.Applied || ms.Adopted != wantAdopted || ms.Changed || ms.AppliedAt.IsZero() || ms.AppliedBy != cfg.User {
				t.Errorf("status %+v, want applied, adopted=%v, unchanged, with time and user", ms, wantAdopted)
			}
			if !wantAdopted && ms.Duration <= 0 {
				t.Errorf("000004 recorded no duration: %+v", ms)
			}
		}
	})

	t.Run("a file changed after it was applied", func(t *testing.T) {
		edited := tables(4, map[string]string{"000002_t2.up.sql": "CREATE TABLE t2 (id bigint);\n"})
		st, err := newMigrator(t, cfg, edited).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Migrations[1].Changed || st.Migrations[0].Changed {
			t.Errorf("after editing 000002: changed flags %v %v, want false true", st.Migrations[0].Changed, st.Migrations[1].Changed)
		}
	})

	t.Run("a migration no file describes", func(t *testing.T) {
		older := newMigrator(t, cfg, tables(3, nil))
		st, err := older.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Ahead || len(st.Unknown) != 1 || st.Unknown[0].Version != 4 || st.Unknown[0].Name != "t4" {
			t.Errorf("status with the files of 3 on a database at 4: ahead=%v unknown=%+v", st.Ahead, st.Unknown)
		}
	})

	t.Run("down and force remove history rows", func(t *testing.T) {
		if _, err := m.Down(ctx, 1); err != nil {
			t.Fatal(err)
		}
		conn := connect(t, cfg)
		var rows int
		conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations_history").Scan(&rows)
		if rows != 3 {
			t.Errorf("history has %d rows after down 1, want 3", rows)
		}
		if err := m.Force(ctx, 1); err != nil {
			t.Fatal(err)
		}
		conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations_history").Scan(&rows)
		if rows != 1 {
			t.Errorf("history has %d rows after force 1, want 1", rows)
		}
	})
}

// Transaction control inside a transactional file: the preflight (the doors use
// lint.PrepareFile) runs a whole-file BEGIN ... COMMIT wrapper inside the tool's transaction and
// refuses any other before it runs; without a preflight the guard refuses to record the version
// and marks the database dirty, naming the file and the way out.
func TestTransactionControlInAFile(t *testing.T) {
	ctx := context.Background()
	commitMidway := map[string]string{
		"000002_partial.up.sql":   "CREATE TABLE partial (id int);\nCOMMIT;\nSELECT 1/0;\n",
		"000002_partial.down.sql": "DROP TABLE partial;\n",
	}
	wrapped := map[string]string{
		"000002_wrapped.up.sql":   "BEGIN;\nCREATE TABLE wrapped (id int);\nCOMMIT;\n",
		"000002_wrapped.down.sql": "DROP TABLE wrapped;\n",
	}

	t.Run("preflight refuses a COMMIT midway", func(t *testing.T) {
		cfg := newDB(t)
		m := newMigrator(t, cfg, tables(1, commitMidway), db.WithPreflight(lint.PrepareFile))
		_, err := m.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || me.Line != 2 || me.Dirty || !strings.Contains(err.Error(), "transaction control") {
			t.Fatalf("preflight: err = %v, want the COMMIT on line 2 refused before it ran", err)
		}
		mustVersion(t, m, 1)
		if tableExists(t, connect(t, cfg), "partial") {
			t.Error("the refused file ran")
		}
	})

	t.Run("preflight runs a whole-file wrapper", func(t *testing.T) {
		cfg := newDB(t)
		m := newMigrator(t, cfg, tables(1, wrapped), db.WithPreflight(lint.PrepareFile))
		if _, err := m.Up(ctx); err != nil {
			t.Fatalf("a whole-file wrapper: %v", err)
		}
		mustVersion(t, m, 2)
	})

	t.Run("without a preflight the guard marks it dirty", func(t *testing.T) {
		cfg := newDB(t)
		m := newMigrator(t, cfg, tables(1, commitMidway))
		_, err := m.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || !me.Dirty || me.Version != 2 || !strings.Contains(err.Error(), "migrate force 1") {
			t.Fatalf("guard: err = %v, want the database marked dirty at 2 with `migrate force 1`", err)
		}
		if _, err := m.Up(ctx); !errors.Is(err, db.ErrDirty) {
			t.Errorf("up after the guard fired: err = %v, want ErrDirty", err)
		}
	})

	// A COMMIT and nothing after it fails nothing but the guard, wherever the guard sits: in the
	// version row's INSERT, in the DO block when no row follows (reverting the first migration)
	// or in single-transaction mode.
	committing := map[string]string{
		"000002_early.up.sql":   "CREATE TABLE early (id int);\nCOMMIT;\n",
		"000002_early.down.sql": "DROP TABLE early;\n",
	}
	for _, c := range []struct {
		name string
		fsys fstest.MapFS
		opts []db.Option
		down bool
		want uint // 0: no version
	}{
		{"version row", tables(1, committing), nil, false, 2},
		{"single transaction", tables(1, committing), []db.Option{db.WithSingleTransaction()}, false, 2},
		{"first down", tables(1, map[string]string{"000001_t1.down.sql": "DROP TABLE t1;\nCOMMIT;\n"}), nil, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := newDB(t)
			m := newMigrator(t, cfg, c.fsys, c.opts...)
			var err error
			if c.down {
				if _, err := m.Up(ctx); err != nil {
					t.Fatal(err)
				}
				_, err = m.DownAll(ctx)
			} else {
				_, err = m.Up(ctx)
			}
			var me *db.MigrationError
			if !errors.As(err, &me) || !me.Dirty || me.Version != c.want || !strings.Contains(err.Error(), "ends the transaction") {
				t.Errorf("%s: err = %v, want transaction control reported, dirty at %d", c.name, err, c.want)
				return
			}
			if info, err := m.Version(ctx); err != nil || !info.Dirty || (c.want > 0 && info.Version != uint(c.want)) {
				t.Errorf("%s: version %+v (%v), want dirty at %d", c.name, info, err, c.want)
			}
		})
	}
}

// Edge cases: a COMMIT that fails in single-transaction mode, a file that leaves a
// transaction open, a version row of 0 written by the stock CLI, and an applied version whose file
// is gone while later ones remain.
func TestEdgeCases(t *testing.T) {
	ctx := context.Background()

	t.Run("a failing COMMIT in single-transaction mode", func(t *testing.T) {
		deferred := tables(1, map[string]string{
			"000002_fk.up.sql": "ALTER TABLE t1 ADD PRIMARY KEY (id);\n" +
				"CREATE TABLE child (parent int REFERENCES t1 (id) DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO child VALUES (42);\n",
			"000002_fk.down.sql": "DROP TABLE child;\nALTER TABLE t1 DROP CONSTRAINT t1_pkey;\n",
		})
		cfg := newDB(t)
		m := newMigrator(t, cfg, deferred, db.WithSingleTransaction())
		results, err := m.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || me.SQLState != "23503" || len(results) != 0 || !strings.Contains(err.Error(), "rolled back") {
			t.Fatalf("failed COMMIT: %d results, err = %v; want a rolled-back *MigrationError with SQLSTATE 23503", len(results), err)
		}
		mustVersion(t, m, 0)
	})

	// A BEGIN with no COMMIT (the lint refuses it; here no preflight runs) opens nothing: the tool
	// already runs the file in a transaction, which commits it with its version row.
	t.Run("a file that leaves a transaction open", func(t *testing.T) {
		open := tables(1, map[string]string{"000002_open.up.sql": "BEGIN;\nCREATE TABLE open_tx (id int);\n", "000002_open.down.sql": "DROP TABLE open_tx;\n"})
		cfg := newDB(t)
		m := newMigrator(t, cfg, open)
		if _, err := m.Up(ctx); err != nil {
			t.Fatalf("a file with an unmatched BEGIN: %v", err)
		}
		mustVersion(t, m, 2)
		if !tableExists(t, connect(t, cfg), "open_tx") {
			t.Error("the file's table is missing although its version was recorded")
		}
		if _, err := m.Down(ctx, 1); err != nil || tableExists(t, connect(t, cfg), "open_tx") {
			t.Errorf("down after it: %v", err)
		}
	})

	t.Run("a version row of 0", func(t *testing.T) {
		cfg := newDB(t)
		m := newMigrator(t, cfg, tables(2, nil))
		if _, err := m.Goto(ctx, 1); err != nil {
			t.Fatal(err)
		}
		conn := connect(t, cfg)
		if _, err := conn.Exec(ctx, "DROP TABLE t1; UPDATE schema_migrations SET version = 0"); err != nil { // as `migrate force 0` leaves it
			t.Fatal(err)
		}
		if _, err := m.Up(ctx); err != nil {
			t.Fatalf("up from a version row of 0: %v", err)
		}
	})

	t.Run("an applied version whose file is gone", func(t *testing.T) {
		cfg := newDB(t)
		if _, err := newMigrator(t, cfg, tables(3, nil)).Up(ctx); err != nil {
			t.Fatal(err)
		}
		gap := tables(4, nil)
		delete(gap, "000003_t3.up.sql")
		delete(gap, "000003_t3.down.sql")
		_, err := newMigrator(t, cfg, gap).Up(ctx)
		if !errors.Is(err, db.ErrDatabaseAhead) || !strings.Contains(err.Error(), "deleted or renumbered") {
			t.Errorf("applied version without its file: err = %v", err)
		}
	})
}

func TestCommitModes(t *testing.T) {
	ctx := context.Background()
	// The last migration records the commit mode it ran under and where the WAL ended before its
	// commit record.
	observed := tables(2, map[string]string{
		"000003_observe.up.sql":   "CREATE TABLE observed AS SELECT current_setting('synchronous_commit') AS mode, pg_current_wal_insert_lsn() AS lsn;\n",
		"000003_observe.down.sql": "DROP TABLE observed;\n",
	})
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprintf("MigrationSyncCommit=%v", sync), func(t *testing.T) {
			cfg := newDB(t)
			cfg.MigrationSyncCommit = sync
			if _, err := newMigrator(t, cfg, observed).Up(ctx); err != nil {
				t.Fatal(err)
			}
			var mode string
			var flushed bool
			err := connect(t, cfg).QueryRow(ctx, "SELECT mode, pg_current_wal_flush_lsn() > lsn FROM observed").Scan(&mode, &flushed)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "off", true: "on"}[sync]; mode != want {
				t.Errorf("MigrationSyncCommit=%v: a migration ran with synchronous_commit %s, want %s", sync, mode, want)
			}
			// Checked the moment Up returns: the WAL writer flushes on its own within
			// wal_writer_delay, so this catches a missing flush only when it is quicker (5 runs of 5
			// without the flush failed here).
			if !flushed {
				t.Errorf("MigrationSyncCommit=%v: Up returned before its last commit reached disk", sync)
			}
		})
	}

	// Single-transaction mode writes the history at COMMIT: the rows must be there all the same.
	t.Run("single transaction writes the history", func(t *testing.T) {
		cfg := newDB(t)
		m := newMigrator(t, cfg, tables(3, nil), db.WithSingleTransaction())
		if _, err := m.Up(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := m.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ms := range st.Migrations {
			if !ms.Applied || ms.Adopted || ms.AppliedAt.IsZero() || ms.Duration <= 0 || ms.Changed {
				t.Errorf("after a single-transaction up, %06d: %+v, want applied with its own history row", ms.Version, ms)
			}
		}
		if _, err := m.Down(ctx, 2); err != nil {
			t.Fatal(err)
		}
		var rows []int
		conn := connect(t, cfg)
		r, err := conn.Query(ctx, "SELECT version FROM schema_migrations_history ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var v int
			if err := r.Scan(&v); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, v)
		}
		if r.Err() != nil || !slices.Equal(rows, []int{1}) {
			t.Errorf("history after a single-transaction down of 2: %v (%v), want [1]", rows, r.Err())
		}
	})
}

// TestBatches fails migrations deep inside a batch (batches grow 1, 2, 4, 8, 16: 000030 is the
// 15th of the fifth): what came before it is applied, and the failure is reported as if it ran alone.
func TestBatches(t *testing.T) {
	ctx := context.Background()
	// Multi-byte text before the failure: PostgreSQL counts characters, not bytes.
	set := func(bad string) fstest.MapFS {
		fsys := testenv.GenerateSet(40, func(v int) testenv.Migration {
			m := plainTable(v)
			m.Up = fmt.Sprintf("-- café №%d\n", v) + m.Up
			return m
		})
		fsys["000030_t30.up.sql"] = &fstest.MapFile{Data: []byte(bad)}
		return fsys
	}
	t.Run("a failure deep in a batch", func(t *testing.T) {
		cfg := newDB(t)
		var progress []uint
		m := newMigrator(t, cfg, set("-- ünïcode\nCREATE TABLE t30 (id int);\nSELECT nope FROM t30;\n"),
			db.WithProgress(func(r db.Result) { progress = append(progress, r.Version) }))
		results, err := m.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || me.File != "000030_t30.up.sql" || me.Line != 3 || me.Column != 8 || me.SQLState != "42703" || me.Version != 29 || me.Dirty {
			t.Fatalf("err = %v (%+v), want 000030_t30.up.sql:3:8 SQLSTATE 42703, clean at 29", err, me)
		}
		if len(results) != 29 || len(progress) != 29 || progress[0] != 1 || progress[28] != 29 {
			t.Errorf("%d results, progress %v: want 1..29 in order", len(results), progress)
		}
		for _, r := range results {
			if r.Duration <= 0 {
				t.Errorf("%06d: duration %v, want the server's measure", r.Version, r.Duration)
			}
		}
		mustVersion(t, m, 29)
		conn := connect(t, cfg)
		if tableExists(t, conn, "t30") || !tableExists(t, conn, "t29") {
			t.Error("want t29 and not t30")
		}
		var rows int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations_history WHERE duration_ms > 0").Scan(&rows); err != nil || rows != 29 {
			t.Errorf("history: %d rows with a duration (%v), want 29", rows, err)
		}
	})

	// A COMMIT in the body, then a failure: the statements before the COMMIT are in, so the
	// version is marked dirty and the way out named.
	t.Run("a COMMIT then a failure", func(t *testing.T) {
		cfg := newDB(t)
		m := newMigrator(t, cfg, set("CREATE TABLE t30 (id int);\nCOMMIT;\nSELECT nope FROM t30;\n"))
		_, err := m.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || !me.Dirty || me.Version != 30 || !strings.Contains(me.Recover, "migrate force 29") {
			t.Fatalf("err = %v, want transaction control reported dirty at 30 with `migrate force 29`", err)
		}
		if !tableExists(t, connect(t, cfg), "t29") {
			t.Error("t29 missing: the migrations before the failure must be applied")
		}
	})

	// A file the preflight refuses, behind queued ones: those are applied first.
	t.Run("a file the preflight refuses", func(t *testing.T) {
		cfg := newDB(t)
		m := newMigrator(t, cfg, set("CREATE TABLE t30 (id int);\nCOMMIT;\nCREATE TABLE t30b (id int);\n"), db.WithPreflight(lint.PrepareFile))
		_, err := m.Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || me.Dirty || me.Version != 29 || me.Line != 2 {
			t.Fatalf("preflight: err = %v, want the COMMIT on line 2 refused with the database clean at 29", err)
		}
		mustVersion(t, m, 29)
	})

	// The same run in single-transaction mode leaves nothing.
	t.Run("single transaction", func(t *testing.T) {
		cfg := newDB(t)
		m := newMigrator(t, cfg, set("CREATE TABLE t30 (id int);\nSELECT nope FROM t30;\n"), db.WithSingleTransaction())
		var me *db.MigrationError
		if _, err := m.Up(ctx); !errors.As(err, &me) || me.Line != 2 || me.Version != 0 {
			t.Fatalf("single transaction: err = %v, want line 2 with nothing applied", err)
		}
		if tableExists(t, connect(t, cfg), "t1") {
			t.Error("single transaction: t1 exists after the rollback")
		}
	})
}

// TestBatchEdges: what a batch must not change. 000006 is the third of the third batch (1, 2, 4).
func TestBatchEdges(t *testing.T) {
	ctx := context.Background()
	history := func(t *testing.T, cfg config.DB) []int {
		t.Helper()
		return testenv.Column[int](t, connect(t, cfg), "SELECT version FROM schema_migrations_history ORDER BY version")
	}

	// Reverting several: each step names its own file, deletes its own history row, and honours
	// its own no-transaction marker.
	t.Run("reverting several", func(t *testing.T) {
		fsys := tables(10, map[string]string{"000006_t6.down.sql": "-- migrate:no-transaction\nDROP TABLE t6;\n"})
		cfg := newDB(t)
		var reverted []uint
		m := newMigrator(t, cfg, fsys, db.WithProgress(func(r db.Result) {
			if r.Direction == db.Down {
				reverted = append(reverted, r.Version)
			}
		}))
		if _, err := m.Up(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Down(ctx, 6); err != nil {
			t.Fatalf("down 6 across a no-transaction file: %v", err)
		}
		if want := []uint{10, 9, 8, 7, 6, 5}; !slices.Equal(reverted, want) {
			t.Errorf("reverted %v, want %v", reverted, want)
		}
		mustVersion(t, m, 4)
		if got := history(t, cfg); !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Errorf("history after down 6: %v, want [1 2 3 4]", got)
		}
	})

	// A syntax error is found by PostgreSQL before it runs any of the query: the migrations
	// before the faulty one are applied all the same, and the error is the file's own, also when
	// the file leaves a statement or a quote open and the error lands in what follows it.
	for _, single := range []bool{false, true} {
		for _, body := range []string{
			"CREATE TABLE t6 (id int);\nCREATE TABLE oops (;\n",
			"CREATE TABLE t6 (id int);\nCREATE TABLE oops (id int\n",
			"CREATE TABLE t6 (id int);\nCOMMENT ON TABLE t6 IS 'oops;\n",
		} {
			t.Run(fmt.Sprintf("single=%v %s", single, lines.Fold(body)), func(t *testing.T) {
				cfg := newDB(t)
				var opts []db.Option
				want := uint(5)
				if single {
					opts, want = []db.Option{db.WithSingleTransaction()}, 0
				}
				_, err := newMigrator(t, cfg, tables(8, map[string]string{"000006_t6.up.sql": body}), opts...).Up(ctx)
				var me *db.MigrationError
				if !errors.As(err, &me) || me.File != "000006_t6.up.sql" || me.Line != 2 || me.SQLState != "42601" || me.Version != want {
					t.Errorf("single=%v, %q: err = %v, want 000006_t6.up.sql:2 42601 with the database at %d", single, body, err, want)
				}
			})
		}
	}

	// Bytes that are not UTF-8 are refused before they are sent, with their line.
	t.Run("bytes that are not UTF-8", func(t *testing.T) {
		cfg := newDB(t)
		_, err := newMigrator(t, cfg, tables(8, map[string]string{"000006_t6.up.sql": "CREATE TABLE t6 (id int);\n-- caf\xe9\n"})).Up(ctx)
		var me *db.MigrationError
		if !errors.As(err, &me) || me.File != "000006_t6.up.sql" || me.Line != 2 || me.Version != 5 || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("invalid UTF-8: err = %v, want 000006_t6.up.sql:2 refused at version 5", err)
		}
	})

	// A ROLLBACK leaves nothing behind: not dirty, whether the guard or a later statement fails.
	for name, body := range map[string]string{
		"rollback":              "CREATE TABLE t6 (id int);\nROLLBACK;\n",
		"rollback to savepoint": "CREATE TABLE t6 (id int);\nSAVEPOINT a;\nCREATE TABLE x (id int);\nROLLBACK TO SAVEPOINT a;\nSELECT nope FROM t6;\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := newDB(t)
			m := newMigrator(t, cfg, tables(8, map[string]string{"000006_t6.up.sql": body}))
			_, err := m.Up(ctx)
			var me *db.MigrationError
			if !errors.As(err, &me) || me.Dirty || me.Version != 5 {
				t.Errorf("%s: err = %v, want a clean failure at version 5", name, err)
				return
			}
			mustVersion(t, m, 5)
			if tableExists(t, connect(t, cfg), "t6") {
				t.Errorf("%s: t6 exists", name)
			}
		})
	}
}

// TestDownCountsFromTheLockedVersion: another migrator moves the database while a down waits for
// the lock; the down reverts the last N of what it finds then, and single-transaction mode does
// not mistake that for stopping short.
func TestDownCountsFromTheLockedVersion(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	m := newMigrator(t, cfg, tables(8, nil), db.WithSingleTransaction())
	if _, err := m.Goto(ctx, 4); err != nil {
		t.Fatal(err)
	}
	holder := connect(t, cfg)
	key := holdLock(t, holder)
	done := make(chan error, 1)
	go func() {
		_, err := m.Down(ctx, 2) // checks 2 <= 4 applied now, then waits for the lock
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if _, err := holder.Exec(ctx, "CREATE TABLE t5 (id int); CREATE TABLE t6 (id int); CREATE TABLE t7 (id int); CREATE TABLE t8 (id int); UPDATE schema_migrations SET version = 8"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("down 2 after the database moved to 8: %v", err)
	}
	mustVersion(t, m, 6)
}
