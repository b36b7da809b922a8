package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/testenv"
)

// restartServer is a PostgreSQL of its own that the test restarts with pg_ctl, and databases on it.
type restartServer struct {
	pg *testenv.Postgres
}

func (s restartServer) admin(t testing.TB) *pgx.Conn {
	t.Helper()
	cfg, err := config.DBFromURL(s.pg.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SSLMode, cfg.AppName = "disable", "corpus-admin"
	return connect(t, cfg)
}

func (s restartServer) newDB(t testing.TB, name string) config.DB {
	t.Helper()
	conn := s.admin(t)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.DBFromURL(s.pg.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SSLMode = "disable"
	return cfg
}

func (s restartServer) dropDB(t testing.TB, cfg config.DB) {
	t.Helper()
	conn := s.admin(t)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
}

func (s restartServer) advisoryLocks(t testing.TB) int {
	t.Helper()
	conn := s.admin(t)
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitVersion polls the version row until it reaches at least v, for at most limit; it returns the
// last version read (0 for none).
func waitVersion(t testing.TB, cfg config.DB, v int, limit time.Duration) int {
	t.Helper()
	conn := connect(t, cfg)
	defer conn.Close(context.Background())
	deadline := time.Now().Add(limit)
	for {
		var got int
		// The table appears with the run's first transaction.
		_ = conn.QueryRow(context.Background(), "SELECT coalesce((SELECT version FROM schema_migrations WHERE to_regclass('schema_migrations') IS NOT NULL), 0)").Scan(&got)
		if got >= v || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var knownCommittedRE = regexp.MustCompile(`the last version known committed is (\d+|no version)\b.*nothing is half applied: run the command again to resume$`)

// TestServerRestartModes restarts PostgreSQL with `pg_ctl restart`, in fast and in immediate mode,
// at a random moment of an up of 300 migrations, over a direct connection and through PgBouncer in
// transaction pooling mode. The interrupted run ends with one line naming the last version known
// committed and saying that a rerun resumes; the database is at a clean version whose schema is
// exactly that version's (each migration creates one table) and whose history has one row per
// applied migration; the rerun completes; no advisory lock is left.
func TestServerRestartModes(t *testing.T) {
	srv := restartServer{pg: testenv.StartRestartablePostgres(t)}
	bouncer := testenv.StartPgBouncer(t, srv.pg, "transaction")
	dir := writeSet(t, restartSet())
	modes := []string{"fast", "immediate"}
	var cut, ahead int
	start := time.Now()
	for i, via := range []string{"direct", "pgbouncer"} {
		// The short form restarts once per path, fast over the direct connection and immediate
		// through the pooler; the long form 10 times per path, in both modes.
		for r := range size(1, 10) {
			mode := modes[(r+i)%len(modes)]
			name := fmt.Sprintf("%s %s restart %d", via, mode, r)
			direct := srv.newDB(t, fmt.Sprintf("restart_%s_%d", via, r))
			cfg := direct
			if via == "pgbouncer" {
				cfg.Host, cfg.Port = bouncer.Host, bouncer.Port
			}
			env := with(processEnv(cfg), "VISIONA_DB_APP_NAME", "corpus-restart")
			at := 20 + rand.IntN(restartMigrations-60)
			rp := startMigrate(t, dir, env, "up")
			reached := waitVersion(t, direct, at, 30*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := srv.pg.Restart(ctx, mode)
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			p := rp.wait(t)
			v, dirty, _ := versionRow(t, direct)
			if p.code == 0 {
				t.Logf("%s: the run finished before the restart (version %d seen)", name, reached)
			} else {
				cut++
				last := lastLine(p.stderr)
				m := knownCommittedRE.FindStringSubmatch(last)
				for l := range strings.Lines(strings.TrimSuffix(p.stderr, last+"\n")) {
					if !strings.Contains(l, "level=") {
						t.Errorf("%s: stderr line that is neither a log line nor the last: %q", name, l)
					}
				}
				if m == nil {
					t.Errorf("%s: the interrupted run does not end with the last version known committed and a rerun that resumes:\n%s", name, p)
				} else {
					known := 0
					if m[1] != "no version" {
						known, _ = strconv.Atoi(m[1])
					}
					if v < known {
						t.Errorf("%s: the run named version %d as known committed, the server came back at %d", name, known, v)
					}
					ahead += v - known
					t.Logf("%s at version %d: exit %d, named %d, server at %d: %s", name, reached, p.code, known, v, last)
				}
			}
			if dirty {
				t.Errorf("%s: version %d dirty after the restart", name, v)
			}
			checkRestartSchema(t, name, direct, v)
			if n := srv.advisoryLocks(t); n != 0 {
				t.Errorf("%s: %d advisory locks left after the restart", name, n)
			}
			if p := runMigrate(t, dir, env, "up"); p.code != 0 {
				t.Fatalf("%s: rerun: %s", name, p)
			}
			if v, dirty, ok := versionRow(t, direct); !ok || dirty || v != restartMigrations {
				t.Errorf("%s: after the rerun version %d dirty %v, want %d clean", name, v, dirty, restartMigrations)
			}
			checkRestartSchema(t, name+" rerun", direct, restartMigrations)
			if n := srv.advisoryLocks(t); n != 0 {
				t.Errorf("%s: %d advisory locks left after the rerun", name, n)
			}
			srv.dropDB(t, direct)
			if t.Failed() {
				return
			}
		}
	}
	t.Logf("pg_ctl restarts (fast and immediate, direct and through PgBouncer) during an up of %d migrations: %d cut a run, the server came back a total of %d versions past the ones named (commits not yet known on disk), every rerun completed, no lock left, in %s",
		restartMigrations, cut, ahead, time.Since(start).Round(time.Millisecond))
}

// checkRestartSchema checks that the database at version v holds exactly the tables r1..rv and
// one history row for each of those versions: nothing half applied.
func checkRestartSchema(t testing.TB, name string, cfg config.DB, v int) {
	t.Helper()
	conn := connect(t, cfg)
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT substr(tablename, 2)::int FROM pg_tables
		WHERE schemaname = current_schema() AND tablename ~ '^r[0-9]+$' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tables, seq(1, v)) {
		t.Errorf("%s: at version %d the schema has %d r tables (the last r%d), want r1..r%d", name, v, len(tables), lastOf(tables), v)
	}
	if vs, _ := history(t, cfg); !slices.Equal(vs, seq(1, v)) {
		t.Errorf("%s: at version %d the history has %d rows (the last %d)", name, v, len(vs), lastOf(vs))
	}
}

func lastOf(s []int) int {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}
