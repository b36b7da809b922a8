package reliability

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"visiona-backend/internal/config"
	"visiona-backend/internal/postgres"
)

const restartMigrations = 300

func restartSet() map[string]string {
	files := map[string]string{}
	for v := 1; v <= restartMigrations; v++ {
		name := fmt.Sprintf("%06d_r%d", v, v)
		files[name+".up.sql"] = fmt.Sprintf("CREATE TABLE r%d (id int PRIMARY KEY, v text);\nSELECT pg_sleep(0.003);\n", v)
		files[name+".down.sql"] = fmt.Sprintf("DROP TABLE r%d;\n", v)
	}
	return files
}

// TestServerRestartMidRun crash-restarts PostgreSQL at a random moment of an up of 300 migrations
// (SIGKILL of the migrating backend: the postmaster resets every backend and replays the WAL, as
// after an immediate restart): the run ends with one line naming the last version it knew
// committed and saying a rerun resumes; the rerun completes; nothing is half applied; no lock is
// left.
func TestServerRestartMidRun(t *testing.T) {
	dir := writeSet(t, restartSet())
	for r := range size(1, 10) {
		cfg := newDB(t)
		env := with(processEnv(cfg), "VISIONA_DB_APP_NAME", "corpus-restart")
		rp := startMigrate(t, dir, env, "up")
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		killBackend(t, "corpus-restart")
		p := rp.wait(t)
		if p.code == 0 {
			t.Logf("round %d: the run finished before the restart", r)
		} else {
			last := lastLine(p.stderr)
			if !strings.Contains(last, "run the command again") || strings.Count(strings.TrimSpace(p.stderr), "\n") > 0 && !strings.Contains(p.stderr, "level=") {
				t.Errorf("round %d: after the restart: %s", r, p)
			}
			t.Logf("round %d: %s", r, last)
		}
		waitForServer(t, cfg)
		if p := runMigrate(t, dir, env, "up"); p.code != 0 {
			t.Fatalf("round %d: rerun: %s", r, p)
		}
		if v, dirty, ok := versionRow(t, cfg); !ok || dirty || v != restartMigrations {
			t.Errorf("round %d: version %d dirty %v, want %d clean", r, v, dirty, restartMigrations)
		}
		if vs, _ := history(t, cfg); !slices.Equal(vs, seq(1, restartMigrations)) {
			t.Errorf("round %d: history has %d rows, want 1..%d", r, len(vs), restartMigrations)
		}
		if n := advisoryLocks(t); n != 0 {
			t.Errorf("round %d: %d advisory locks left", r, n)
		}
		dropDB(t, cfg)
	}
}

// killBackend SIGKILLs the backend of the session named app, from the server itself.
func killBackend(t testing.TB, app string) {
	t.Helper()
	conn := adminConn(t)
	defer conn.Close(context.Background())
	var pid int
	if err := conn.QueryRow(context.Background(), "SELECT pid FROM pg_stat_activity WHERE application_name = $1 LIMIT 1", app).Scan(&pid); err != nil {
		t.Logf("no backend of %s to kill: %v", app, err)
		return
	}
	_, _ = conn.Exec(context.Background(), fmt.Sprintf("COPY (SELECT 1) TO PROGRAM 'kill -9 %d'", pid))
}

// waitForServer waits until the server accepts connections again after a restart.
func waitForServer(t testing.TB, cfg config.DB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := postgres.Connect(ctx, cfg)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not come back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
