package reliability

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/migfile"
)

const (
	raceMigrations = 30
	raceProcs      = 8
	raceNoTx       = 15 // the one no-transaction file: it cannot write to the log
)

// raceSet is 30 migrations, each recording its version and its backend's pid in race_log in the
// same transaction as some DDL; one no-transaction file builds an index CONCURRENTLY, and a few
// sleep 10 ms so that the racers queue behind the lock.
func raceSet() map[string]string {
	files := map[string]string{}
	for v := 1; v <= raceMigrations; v++ {
		var up, down string
		switch {
		case v == 1:
			up = "CREATE TABLE race_log (version int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());\n"
			down = "DROP TABLE race_log;\n"
		case v == raceNoTx:
			up = migfile.NoTransactionMarker + "\nCREATE INDEX CONCURRENTLY race_log_version_idx ON race_log (version);\n"
			down = migfile.NoTransactionMarker + "\nDROP INDEX CONCURRENTLY race_log_version_idx;\n"
		case v%4 == 0:
			up = fmt.Sprintf("CREATE TABLE race_t%[1]d (id bigint PRIMARY KEY, v text NOT NULL DEFAULT '%[1]d');\n", v)
			down = fmt.Sprintf("DROP TABLE race_t%d;\n", v)
		case v%4 == 1:
			up = fmt.Sprintf("ALTER TABLE race_log ADD COLUMN c%[1]d int DEFAULT %[1]d;\n", v)
			down = fmt.Sprintf("ALTER TABLE race_log DROP COLUMN c%d;\n", v)
		case v%4 == 2:
			up = fmt.Sprintf("CREATE SEQUENCE race_seq%d;\n", v)
			down = fmt.Sprintf("DROP SEQUENCE race_seq%d;\n", v)
		default:
			up = fmt.Sprintf("CREATE VIEW race_v%[1]d AS SELECT version, pid FROM race_log WHERE version = %[1]d;\n", v)
			down = fmt.Sprintf("DROP VIEW race_v%d;\n", v)
		}
		if v != raceNoTx {
			up += fmt.Sprintf("INSERT INTO race_log (version, pid) VALUES (%d, pg_backend_pid());\n", v)
		}
		if v%6 == 0 { // hold the lock long enough for every racer to queue behind it
			up += "SELECT pg_sleep(0.01);\n"
		}
		name := fmt.Sprintf("%06d_race_%d", v, v)
		files[name+".up.sql"], files[name+".down.sql"] = up, down
	}
	return files
}

// raceLockTimeout is round r's VISIONA_DB_LOCK_TIMEOUT: mostly the default (everyone waits and
// exits 0), every fourth round a tiny one and every fourth a short one (the losers give up with
// exit 7 and must name the holder).
func raceLockTimeout(r int) string {
	switch r % 4 {
	case 2:
		return "1ms"
	case 3:
		return "100ms"
	}
	return ""
}

var holderRE = regexp.MustCompile(`^migrate: error: timed out after \S+ waiting for the migration lock held by pid (\d+), (corpus-race-r\d+-p\d+)[ ,]`)

// TestRaceUp starts 8 migrate processes at once on a fresh database, round after round: every
// migration must be applied exactly once, by one process, every process must exit 0 (or 7 in the
// rounds with a tiny lock timeout, naming the holder), nobody may hang, and the database must end
// at the latest version, clean, with the reference schema.
func TestRaceUp(t *testing.T) {
	rounds := size(5, 50)
	dir := writeSet(t, raceSet())

	// The reference: the same set applied by one process.
	ref := newDB(t)
	if p := runMigrate(t, dir, processEnv(ref), "up"); p.code != 0 {
		t.Fatalf("reference up:\n%s", p)
	}
	want := snapshot(t, ref)
	dropDB(t, ref)

	var timedOut, pidChecked, total int
	start := time.Now()
	for r := range rounds {
		cfg := newDB(t)
		apps := map[string]bool{}
		procs := make([]*running, raceProcs)
		envs := make([]map[string]string, raceProcs)
		for i := range raceProcs {
			app := fmt.Sprintf("corpus-race-r%d-p%d", r, i)
			apps[app] = true
			envs[i] = with(processEnv(cfg), "VISIONA_DB_APP_NAME", app)
			if lt := raceLockTimeout(r); lt != "" {
				envs[i]["VISIONA_DB_LOCK_TIMEOUT"] = lt
			}
		}
		for i := range raceProcs { // started back to back, no work in between
			procs[i] = startMigrate(t, dir, envs[i], "up")
		}
		applied := map[int]int{} // version -> how many processes printed it
		type claim struct{ pid, app, by string }
		var claims []claim // holders named by the processes that gave up
		appliers := 0
		var applierApp string
		for i, rp := range procs {
			p := rp.wait(t)
			total++
			app := envs[i]["VISIONA_DB_APP_NAME"]
			switch {
			case p.code == 0:
				vs := progressVersions(p.stdout)
				for _, v := range vs {
					applied[v]++
				}
				if len(vs) > 0 {
					appliers++
					applierApp = app
				}
				if !strings.HasSuffix(p.stdout, fmt.Sprintf("%d (latest)\n", raceMigrations)) {
					t.Errorf("round %d %s: exit 0 but not at the latest version:\n%s", r, app, p)
				}
				for l := range strings.Lines(p.stderr) {
					if !strings.Contains(l, "the migration lock") {
						t.Errorf("round %d %s: exit 0 with an unexpected stderr line %q", r, app, l)
					}
				}
			case p.code == 7 && raceLockTimeout(r) != "":
				timedOut++
				last := lastLine(p.stderr)
				m := holderRE.FindStringSubmatch(last)
				switch {
				case m != nil && m[2] == app:
					t.Errorf("round %d %s: names itself as the holder: %q", r, app, last)
				case m != nil && !apps[m[2]]:
					t.Errorf("round %d %s: names a holder that is not a racer: %q", r, app, last)
				case m != nil:
					claims = append(claims, claim{m[1], m[2], app})
				default:
					t.Errorf("round %d %s: exit 7 without naming the holder:\n%s", r, app, p)
				}
				if p.stdout != "" {
					t.Errorf("round %d %s: exit 7 with stdout %q", r, app, p.stdout)
				}
				for l := range strings.Lines(strings.TrimSuffix(p.stderr, last+"\n")) {
					if !strings.Contains(l, `msg="waiting for the migration lock"`) {
						t.Errorf("round %d %s: unexpected stderr line %q", r, app, l)
					}
				}
			default:
				t.Errorf("round %d %s (lock timeout %q): %s", r, app, raceLockTimeout(r), p)
			}
		}

		// Applied exactly once, by exactly one process, as the clients saw it...
		if appliers != 1 {
			t.Errorf("round %d: %d processes applied migrations, want exactly 1", r, appliers)
		}
		for v := 1; v <= raceMigrations; v++ {
			if applied[v] != 1 {
				t.Errorf("round %d: version %d printed as applied %d times", r, v, applied[v])
			}
		}
		// ...and as the database saw it: the log written inside each migration's transaction.
		logged := raceLog(t, cfg)
		for v := 1; v <= raceMigrations; v++ {
			want := 1
			if v == raceNoTx {
				want = 0
			}
			if n := len(logged[v]); n != want {
				t.Errorf("round %d: version %d logged %d times, want %d", r, v, n, want)
			}
		}
		pids := distinctPids(logged)
		if len(pids) != 1 {
			t.Errorf("round %d: migrations ran in %d sessions (%v), want one", r, len(pids), pids)
		}
		// A process that names the applier as the holder names its backend's pid.
		for _, c := range claims {
			if c.app != applierApp || len(pids) != 1 {
				continue
			}
			pidChecked++
			if c.pid != strconv.Itoa(pids[0]) {
				t.Errorf("round %d %s: names the holder %s as pid %s, but %s's migrations ran in pid %d", r, c.by, c.app, c.pid, c.app, pids[0])
			}
		}
		if v, dirty, ok := versionRow(t, cfg); !ok || dirty || v != raceMigrations {
			t.Errorf("round %d: version %d dirty %v (row %v), want %d clean", r, v, dirty, ok, raceMigrations)
		}
		if vs, adopted := history(t, cfg); !slices.Equal(vs, seq(1, raceMigrations)) || adopted != 0 {
			t.Errorf("round %d: history %v with %d adopted, want 1..%d none adopted", r, vs, adopted, raceMigrations)
		}
		if got := snapshot(t, cfg); !got.Equal(want) {
			t.Errorf("round %d: schema differs from the reference (applied by %s)", r, applierApp)
		}
		dropDB(t, cfg)
		if t.Failed() {
			break
		}
	}
	t.Logf("race: %d rounds x %d processes (%d runs) in %s; %d runs gave up on the lock with exit 7, each naming the holder (%d pids checked against the applier)",
		rounds, raceProcs, total, time.Since(start).Round(time.Millisecond), timedOut, pidChecked)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// raceLog maps each logged version to the pids of the sessions that logged it.
func raceLog(t *testing.T, cfg config.DB) map[int][]int {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, cfg)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT version, pid FROM race_log ORDER BY at")
	if err != nil {
		t.Fatal(err)
	}
	logged := map[int][]int{}
	var v, pid int
	if _, err := pgx.ForEachRow(rows, []any{&v, &pid}, func() error {
		logged[v] = append(logged[v], pid)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return logged
}

func distinctPids(logged map[int][]int) []int {
	var pids []int
	for _, ps := range logged {
		for _, p := range ps {
			if !slices.Contains(pids, p) {
				pids = append(pids, p)
			}
		}
	}
	slices.Sort(pids)
	return pids
}
