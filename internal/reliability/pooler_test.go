package reliability

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/testenv"
)

// pooledSet is raceSet with every file transactional: through a transaction pooler a
// no-transaction file is refused (see TestPoolerRefusesNoTransactionFiles).
func pooledSet() map[string]string {
	files := raceSet()
	name := fmt.Sprintf("%06d_race_%d", raceNoTx, raceNoTx)
	files[name+".up.sql"] = fmt.Sprintf("CREATE INDEX race_log_version_idx ON race_log (version);\nINSERT INTO race_log (version, pid) VALUES (%d, pg_backend_pid());\n", raceNoTx)
	files[name+".down.sql"] = "DROP INDEX race_log_version_idx;\n"
	return files
}

// pooled points cfg at a PgBouncer in front of the shared server.
func pooled(t testing.TB, cfg config.DB, mode string) config.DB {
	t.Helper()
	b := testenv.StartPgBouncer(t, pgServer.Postgres(t), mode)
	cfg.Host, cfg.Port = b.Host, b.Port
	return cfg
}

// advisoryLocks counts the advisory locks held on the server, by anyone.
func advisoryLocks(t testing.TB) int {
	t.Helper()
	conn := adminConn(t)
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRaceThroughPooler starts 8 migrate processes at once through PgBouncer in transaction
// pooling mode, round after round: every migration is applied exactly once, every process exits
// 0 (finding applied what another applied), and no advisory lock is left on any server connection.
func TestRaceThroughPooler(t *testing.T) {
	rounds := size(3, 50)
	dir := writeSet(t, pooledSet())
	var total, skippedRuns int
	start := time.Now()
	for r := range rounds {
		direct := newDB(t)
		cfg := pooled(t, direct, "transaction")
		procs := make([]*running, raceProcs)
		for i := range raceProcs {
			procs[i] = startMigrate(t, dir, with(processEnv(cfg), "VISIONA_DB_APP_NAME", fmt.Sprintf("corpus-pool-r%d-p%d", r, i)), "up")
		}
		applied := map[int]int{}
		for i, rp := range procs {
			p := rp.wait(t)
			total++
			if p.code != 0 {
				t.Errorf("round %d process %d: %s", r, i, p)
				continue
			}
			for _, v := range progressVersions(p.stdout) {
				applied[v]++
			}
			if !strings.HasSuffix(p.stdout, fmt.Sprintf("%d (latest)\n", raceMigrations)) {
				t.Errorf("round %d process %d: exit 0 but not at the latest version:\n%s", r, i, p)
			}
			if strings.Contains(p.stderr, "already applied by another migrator") {
				skippedRuns++
			}
			for l := range strings.Lines(p.stderr) {
				if !strings.Contains(l, "the migration lock") && !strings.Contains(l, "already applied by another migrator") {
					t.Errorf("round %d process %d: unexpected stderr line %q", r, i, l)
				}
			}
		}
		for v := 1; v <= raceMigrations; v++ {
			if applied[v] != 1 {
				t.Errorf("round %d: version %d printed as applied %d times", r, v, applied[v])
			}
		}
		logged := raceLog(t, direct)
		for v := 1; v <= raceMigrations; v++ {
			if n := len(logged[v]); n != 1 {
				t.Errorf("round %d: version %d logged %d times, want 1", r, v, n)
			}
		}
		if v, dirty, ok := versionRow(t, direct); !ok || dirty || v != raceMigrations {
			t.Errorf("round %d: version %d dirty %v (row %v), want %d clean", r, v, dirty, ok, raceMigrations)
		}
		if n := advisoryLocks(t); n != 0 {
			t.Errorf("round %d: %d advisory locks left in pg_locks", r, n)
		}
		dropDB(t, direct)
		if t.Failed() {
			break
		}
	}
	t.Logf("race through PgBouncer (transaction pooling): %d rounds x %d processes (%d runs) in %s, all exit 0; %d runs found migrations applied by another; no advisory lock left",
		rounds, raceProcs, total, time.Since(start).Round(time.Millisecond), skippedRuns)
}

// TestAutoMigrateReplicasThroughPooler starts 4 servers' auto-migrate at once through the pooler.
func TestAutoMigrateReplicasThroughPooler(t *testing.T) {
	direct := newDB(t)
	cfg := pooled(t, direct, "transaction")
	cfg.AutoMigrate = true
	fsys := fstest.MapFS{}
	for name, body := range pooledSet() {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			c := cfg
			c.AppName = fmt.Sprintf("corpus-replica-%d", i)
			errs[i] = db.AutoMigrate(context.Background(), c, fsys, slog.New(slog.NewTextHandler(io.Discard, nil)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	logged := raceLog(t, direct)
	for v := 1; v <= raceMigrations; v++ {
		if n := len(logged[v]); n != 1 {
			t.Errorf("version %d logged %d times, want 1", v, n)
		}
	}
	if n := advisoryLocks(t); n != 0 {
		t.Errorf("%d advisory locks left in pg_locks", n)
	}
}

// TestPoolerRefusals: a no-transaction file through a transaction pooler, and any run through a
// statement pooler, are refused with one line and their exit code, before anything is applied.
func TestPoolerRefusals(t *testing.T) {
	dir := writeSet(t, raceSet())
	direct := newDB(t)
	before := readState(t, direct)
	p := runMigrate(t, dir, processEnv(pooled(t, direct, "transaction")), "up")
	if p.code != cli.ExitPooler || !strings.Contains(p.stderr, fmt.Sprintf("%06d_race_%d.up.sql runs outside a transaction", raceNoTx, raceNoTx)) || strings.Count(p.stderr, "\n") != 1 {
		t.Errorf("no-transaction file through a transaction pooler: %s", p)
	}
	if d := before.diff(readState(t, direct)); d != "" {
		t.Errorf("the refused run changed the database:\n%s", d)
	}
	p = runMigrate(t, writeSet(t, pooledSet()), processEnv(pooled(t, direct, "statement")), "up")
	if p.code != cli.ExitPooler || !strings.Contains(p.stderr, "statement pooling") || strings.Count(p.stderr, "\n") != 1 {
		t.Errorf("statement pooling: %s", p)
	}
	if d := before.diff(readState(t, direct)); d != "" {
		t.Errorf("the refused run changed the database:\n%s", d)
	}
	if n := advisoryLocks(t); n != 0 {
		t.Errorf("%d advisory locks left in pg_locks", n)
	}
}
