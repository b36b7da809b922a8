package reliability

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/lines"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/schema"
)

const (
	killMigrations = 100
	killRows       = 50000 // in kill_base, so the CONCURRENTLY index builds take a while
)

// killNoTx are the no-transaction files: the only places a kill may leave the database dirty.
var killNoTx = []int{40, 80}

func killIndex(v int) string { return fmt.Sprintf("kill_base_payload_%d_idx", v) }

// killSet is 100 small migrations of varied DDL. Every body starts with a "-- corpus NNNNNN"
// comment, so pg_stat_activity shows which migration a backend is running; some sleep a little to
// widen the window a kill can land in; two are no-transaction files building an index
// CONCURRENTLY on a 50,000-row table.
func killSet() map[string]string {
	files := map[string]string{}
	for v := 1; v <= killMigrations; v++ {
		var up, down string
		switch {
		case v == 1:
			up = fmt.Sprintf("CREATE TABLE kill_base (id int PRIMARY KEY, payload text NOT NULL);\nINSERT INTO kill_base SELECT g, md5(g::text) FROM generate_series(1, %d) g;\n", killRows)
			down = "DROP TABLE kill_base;\n"
		case slices.Contains(killNoTx, v):
			up = fmt.Sprintf("CREATE INDEX CONCURRENTLY %s ON kill_base (payload, id);\n", killIndex(v))
			down = fmt.Sprintf("DROP INDEX CONCURRENTLY %s;\n", killIndex(v))
		case v%5 == 0:
			up = fmt.Sprintf("CREATE TABLE kill_t%d (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ref int REFERENCES kill_base (id), note text);\n", v)
			down = fmt.Sprintf("DROP TABLE kill_t%d;\n", v)
		case v%5 == 1:
			up = fmt.Sprintf("ALTER TABLE kill_base ADD COLUMN c%[1]d int DEFAULT %[1]d;\n", v)
			down = fmt.Sprintf("ALTER TABLE kill_base DROP COLUMN c%d;\n", v)
		case v%5 == 2:
			up = fmt.Sprintf("CREATE FUNCTION kill_f%[1]d() RETURNS int LANGUAGE sql AS 'SELECT %[1]d';\n", v)
			down = fmt.Sprintf("DROP FUNCTION kill_f%d();\n", v)
		case v%5 == 3:
			up = fmt.Sprintf("CREATE VIEW kill_v%[1]d AS SELECT id, payload FROM kill_base WHERE id < %[1]d;\n", v)
			down = fmt.Sprintf("DROP VIEW kill_v%d;\n", v)
		default:
			up = fmt.Sprintf("CREATE TYPE kill_e%d AS ENUM ('a', 'b');\n", v)
			down = fmt.Sprintf("DROP TYPE kill_e%d;\n", v)
		}
		if v%7 == 0 && !slices.Contains(killNoTx, v) {
			up += fmt.Sprintf("SELECT pg_sleep(0.0%d);\n", 1+v%5)
		}
		marker := fmt.Sprintf("-- corpus %06d\n", v)
		if slices.Contains(killNoTx, v) {
			marker = migfile.NoTransactionMarker + "\n" + marker
		}
		name := fmt.Sprintf("%06d_kill_%d", v, v)
		files[name+".up.sql"], files[name+".down.sql"] = marker+up, marker+down
	}
	return files
}

// killStats counts where the kills landed (what the killed client's backend was doing right after
// the kill) and what each left behind.
type killStats map[string]map[string]int

func (s killStats) add(phase, outcome string) {
	if s[phase] == nil {
		s[phase] = map[string]int{}
	}
	s[phase][outcome]++
}

func (s killStats) String() string {
	var b strings.Builder
	for _, phase := range slices.Sorted(maps.Keys(s)) {
		total := 0
		for _, n := range s[phase] {
			total += n
		}
		fmt.Fprintf(&b, "\n    %3d  %s", total, phase)
		for _, outcome := range slices.Sorted(maps.Keys(s[phase])) {
			fmt.Fprintf(&b, "\n           %3d  %s", s[phase][outcome], outcome)
		}
	}
	return b.String()
}

// TestKillUp kills `migrate up` over 100 migrations with SIGKILL at a random moment, again and
// again, each time on a fresh database. After each kill the orphaned backend is terminated (even
// kills: PostgreSQL rolls its transaction back) or left to finish (odd kills: it commits what it
// was running), then the database must be at a clean version V whose schema is exactly version V's,
// or dirty at a no-transaction file's version, where `up` must refuse with exit 6 and print the
// `migrate force` that recovers; following it, `up` must reach the latest version with the latest
// schema.
func TestKillUp(t *testing.T) {
	kills := size(10, 50)
	dir := writeSet(t, killSet())

	snaps := referenceSnapshots(t, dir)
	// How long an undisturbed run takes, process start included: the kills land within it.
	timing := newDB(t)
	p := runMigrate(t, dir, processEnv(timing), "up")
	if p.code != 0 {
		t.Fatalf("undisturbed up:\n%s", p)
	}
	window := p.took
	dropDB(t, timing)

	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("VISIONA_CORPUS_SEED"), 10, 64); err == nil {
		seed = v // the kill moments of an earlier run (timing varies: a rerun lands close, not exactly)
	}
	t.Logf("kill: seed %d, an undisturbed up takes %s", seed, window.Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(seed, 0))
	stats := killStats{}
	for i := range kills {
		delay := time.Duration(rng.Int64N(int64(window)))
		killOnce(t, dir, snaps, i, delay, stats)
		if t.Failed() {
			t.Logf("kill %d (after %s) failed; seed %d", i, delay, seed)
			break
		}
	}
	t.Logf("kill: %d kills over %s windows; where they landed, and what each left:%s", kills, window.Round(time.Millisecond), stats)
}

// referenceSnapshots walks a fresh database up one migration at a time, in process, and snapshots
// the schema at every version (0 too).
func referenceSnapshots(t *testing.T, dir string) map[int]*schema.Snapshot {
	t.Helper()
	cfg := newDB(t)
	defer dropDB(t, cfg)
	conn := connect(t, cfg)
	defer conn.Close(context.Background())
	snaps := map[int]*schema.Snapshot{}
	take := func(v int) {
		s, err := schema.Take(context.Background(), conn)
		if err != nil {
			t.Fatalf("snapshot at version %d: %v", v, err)
		}
		snaps[v] = s
	}
	take(0)
	// One run per version: a run sends migrations in batches, so the database may be past a
	// migration by the time its progress line arrives.
	m, err := db.New(cfg, os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, mig := range m.Source().Migrations() {
		if _, err := m.Goto(context.Background(), mig.Version); err != nil {
			t.Fatal(err)
		}
		take(int(mig.Version))
	}
	if len(snaps) != killMigrations+1 {
		t.Fatalf("%d reference snapshots, want %d", len(snaps), killMigrations+1)
	}
	return snaps
}

func killOnce(t *testing.T, dir string, snaps map[int]*schema.Snapshot, i int, delay time.Duration, stats killStats) {
	t.Helper()
	cfg := newDB(t)
	defer dropDB(t, cfg)
	app := fmt.Sprintf("corpus-kill-%d", i)
	env := with(processEnv(cfg), "VISIONA_DB_APP_NAME", app)
	admin := adminConn(t)
	defer admin.Close(context.Background())

	rp := startMigrate(t, dir, env, "up")
	time.Sleep(delay)
	rp.cmd.Process.Kill()
	p := rp.wait(t)
	phase := killPhase(t, admin, app)
	if !p.signaled {
		phase = "finished before the kill"
		if p.code != 0 {
			t.Errorf("kill %d: the undisturbed run failed:\n%s", i, p)
		}
	}

	terminate := i%2 == 0
	orphanGone(t, admin, app, terminate)

	version, dirty, ok := versionRow(t, cfg)
	// Whatever the client printed as applied had committed.
	for _, v := range progressVersions(p.stdout) {
		if v > version {
			t.Errorf("kill %d: printed %06d as applied but the database is at %d", i, v, version)
		}
	}
	how := "left to finish"
	if terminate {
		how = "terminated"
	}
	var outcome string
	switch {
	case !ok:
		outcome = "nothing recorded (version 0)"
		if got := snapshot(t, cfg); !got.Equal(snaps[0]) {
			t.Errorf("kill %d (%s): no version recorded but the schema is not empty:\n%s", i, phase, schema.FormatDiff(schema.Diff(snaps[0], got)))
		}
	case !dirty:
		outcome = "clean, backend " + how
		checkClean(t, fmt.Sprintf("kill %d (%s)", i, phase), cfg, snaps, version)
	default:
		outcome = recoverDirty(t, i, dir, cfg, env, snaps, version) + ", backend " + how
	}
	stats.add(phase, outcome)
	if t.Failed() {
		t.Logf("kill %d: %s, then:\n%s", i, phase, p)
		return
	}

	// Continue: up to the end.
	if p := runMigrate(t, dir, env, "up"); p.code != 0 {
		t.Fatalf("kill %d: up after the kill:\n%s", i, p)
	}
	checkClean(t, fmt.Sprintf("kill %d, after up", i), cfg, snaps, killMigrations)
}

// killPhase looks at what the killed client's backend is doing right after the kill: the orphan
// keeps running the statement it was given.
func killPhase(t *testing.T, admin *pgx.Conn, app string) string {
	t.Helper()
	var state, query string
	err := admin.QueryRow(context.Background(), `SELECT coalesce(state, ''), coalesce(query, '') FROM pg_stat_activity
		WHERE application_name = $1 ORDER BY backend_start LIMIT 1`, app).Scan(&state, &query)
	switch {
	case err == pgx.ErrNoRows:
		return "no backend left (not connected yet, or idle between statements: the server saw the client go)"
	case err != nil:
		t.Fatal(err)
	case state != "active":
		return "backend " + state + " (between statements)"
	}
	if i := strings.Index(query, "-- corpus "); i >= 0 && len(query) >= i+16 {
		v := query[i+10 : i+16]
		if strings.Contains(query, migfile.NoTransactionMarker) {
			return "running no-transaction file " + v
		}
		return "running a transactional migration"
	}
	switch {
	case strings.Contains(query, "pg_try_advisory_lock"):
		return "taking the lock"
	case strings.Contains(query, "dirty"), strings.Contains(query, db.VersionTable):
		return "bookkeeping"
	}
	return "other statement: " + lines.First(strings.TrimSpace(query))
}

// orphanGone terminates the killed client's backend, or waits for it to end by itself.
func orphanGone(t *testing.T, admin *pgx.Conn, app string, terminate bool) {
	t.Helper()
	ctx := context.Background()
	if terminate {
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(procTimeout)
	for {
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed client's backend (%s) is still there after %s", app, procTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkClean requires a clean database at version v to have exactly version v's schema and one
// history row per applied migration.
func checkClean(t *testing.T, what string, cfg config.DB, snaps map[int]*schema.Snapshot, v int) {
	t.Helper()
	version, dirty, _ := versionRow(t, cfg)
	if version != v || dirty {
		t.Errorf("%s: version %d dirty %v, want %d clean", what, version, dirty, v)
	}
	if got := snapshot(t, cfg); !got.Equal(snaps[v]) {
		t.Errorf("%s: clean at version %d, but the schema is not version %d's:\n%s", what, v, v, schema.FormatDiff(schema.Diff(snaps[v], got)))
	}
	if vs, adopted := history(t, cfg); !slices.Equal(vs, seq(1, v)) || adopted != 0 {
		t.Errorf("%s: history %v (%d adopted), want 1..%d", what, vs, adopted, v)
	}
}

// recoverDirty handles a database dirty at version v as a person would, following what the tool
// prints: `up` must refuse (exit 6) and name the command; the index the file builds is dropped if
// any of it is there ("undo what of it ran"), the printed `migrate force` is run, then `up`.
func recoverDirty(t *testing.T, i int, dir string, cfg config.DB, env map[string]string, snaps map[int]*schema.Snapshot, v int) string {
	t.Helper()
	what := fmt.Sprintf("kill %d: dirty at %d", i, v)
	if !slices.Contains(killNoTx, v) {
		t.Errorf("%s, which is not a no-transaction file: a transactional migration must never leave the database dirty", what)
		return "dirty at a transactional migration"
	}
	prev := v - 1

	// What the file left: nothing, an INVALID index (terminated mid-build), or the whole index.
	outcome := "dirty, index absent"
	got := snapshot(t, cfg)
	switch {
	case got.Equal(snaps[prev]):
	case got.Equal(snaps[v]):
		outcome = "dirty, index built"
	default:
		var valid bool
		conn := connect(t, cfg)
		err := conn.QueryRow(context.Background(), "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", killIndex(v)).Scan(&valid)
		conn.Close(context.Background())
		if err != nil || valid {
			t.Errorf("%s: the schema is neither version %d's nor %d's, and not an invalid index (%v):\n%s", what, prev, v, err, schema.FormatDiff(schema.Diff(snaps[prev], got)))
			return "dirty, unexplained schema"
		}
		outcome = "dirty, INVALID index left"
	}

	st := runMigrate(t, dir, env, "status")
	if st.code != 0 || !strings.Contains(st.stdout, fmt.Sprintf("%d (dirty)", v)) {
		t.Errorf("%s: status:\n%s", what, st)
	}
	force := fmt.Sprintf("`migrate force %d`", prev)
	up := runMigrate(t, dir, env, "up")
	switch {
	case up.code != 6:
		t.Errorf("%s: up exit %d, want 6 (dirty):\n%s", what, up.code, up)
	case up.stdout != "" || strings.Count(up.stderr, "\n") != 1 || !strings.HasPrefix(up.stderr, "migrate: error: database is dirty at version "):
		t.Errorf("%s: up must print one error line and nothing on stdout:\n%s", what, up)
	case !strings.Contains(up.stderr, force):
		t.Errorf("%s: up does not print the recovery command %s:\n%s", what, force, up)
	}
	if t.Failed() {
		return outcome
	}

	// Undo what of the file ran, then the printed command.
	conn := connect(t, cfg)
	_, err := conn.Exec(context.Background(), "DROP INDEX IF EXISTS "+killIndex(v))
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := runMigrate(t, dir, env, "force", fmt.Sprint(prev)); p.code != 0 {
		t.Fatalf("%s: force %d:\n%s", what, prev, p)
	}
	checkClean(t, what+", after force", cfg, snaps, prev)
	return outcome
}
