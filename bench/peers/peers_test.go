package peers

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteSetFormats(t *testing.T) {
	s, err := WriteSet(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(filepath.Join(s.PairDir, "000002_create_t_000002.up.sql")); !strings.HasPrefix(got, "CREATE TABLE t_000002 (") || !strings.Contains(got, "CREATE INDEX t_000002_name_idx") {
		t.Errorf("up file:\n%s", got)
	}
	if got := read(filepath.Join(s.PairDir, "000002_create_t_000002.down.sql")); got != "DROP TABLE t_000002;\n" {
		t.Errorf("down file: %q", got)
	}
	goose := read(filepath.Join(s.GooseDir, "000003_create_t_000003.sql"))
	if !strings.HasPrefix(goose, "-- +goose Up\nCREATE TABLE t_000003") || !strings.Contains(goose, "-- +goose Down\nDROP TABLE t_000003;") {
		t.Errorf("goose file:\n%s", goose)
	}
	dbmate := read(filepath.Join(s.DbmateDir, "000001_create_t_000001.sql"))
	if !strings.HasPrefix(dbmate, "-- migrate:up\nCREATE TABLE t_000001") || !strings.Contains(dbmate, "-- migrate:down\nDROP TABLE t_000001;") {
		t.Errorf("dbmate file:\n%s", dbmate)
	}
	entries, err := os.ReadDir(s.PairDir)
	if err != nil || len(entries) != 7 {
		t.Errorf("pair dir: %d files, %v; want 6 migrations and migrations.sum", len(entries), err)
	}
	if sum := read(filepath.Join(s.PairDir, "migrations.sum")); !strings.Contains(sum, "000003_create_t_000003.down.sql") {
		t.Errorf("migrations.sum:\n%s", sum)
	}

	// The psql floor commits once per migration, with the version row written as ours writes it.
	up := read(s.PsqlUp)
	if n := strings.Count(up, "BEGIN;"); n != 3 || strings.Count(up, "COMMIT;") != 3 {
		t.Errorf("psql up: %d transactions, want 3:\n%s", n, up)
	}
	if !strings.Contains(up, "CREATE INDEX t_000003_name_idx ON t_000003 (name);\nDELETE FROM schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (3, false);\nCOMMIT;") {
		t.Errorf("psql up: no version row in migration 3's transaction:\n%s", up)
	}
	down := read(s.PsqlDown)
	if strings.Index(down, "t_000003") > strings.Index(down, "t_000001") || !strings.HasSuffix(down, "DROP TABLE t_000001;\nDELETE FROM schema_migrations;\nCOMMIT;\n") {
		t.Errorf("psql down: not in reverse order, or not ending at no version:\n%s", down)
	}
	all := read(s.PsqlUpAllInOne)
	if strings.Contains(all, "BEGIN") || strings.Count(all, "INSERT INTO schema_migrations") != 1 {
		t.Errorf("psql all-in-one up: want no BEGIN (psql --single-transaction adds it) and one version row:\n%s", all)
	}
}

func testTarget(t *testing.T, n int) target {
	t.Helper()
	s, err := WriteSet(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	return target{srv: &Server{Host: "127.0.0.1", Port: 5999, User: "postgres", Password: "s3cret-pw"}, db: "bench_db", set: s}
}

func TestContestantsKeepPasswordsOffCommandLines(t *testing.T) {
	tg := testTarget(t, 2)
	bins := Binaries{Ours: "/c/ours", GolangMigrate: "/c/migrate", Goose: "/c/goose", Dbmate: "/c/dbmate", Psql: "/c/psql"}
	for _, tool := range Contestants(bins, Options{DbmateDownMaxN: 100}) {
		for _, op := range Ops {
			runs, _ := tool.plan(op, tg)
			for _, r := range runs {
				line := strings.Join(r.args, " ")
				// golang-migrate takes its database only as a URL argument.
				if strings.Contains(line, "s3cret-pw") && tool.Name != "golang-migrate" {
					t.Errorf("%s %s: password on the command line: %s", tool.Name, op, line)
				}
				for _, kv := range r.env {
					if strings.HasPrefix(kv, "VISIONA_BENCH") {
						t.Errorf("%s %s: harness variable leaked into the tool's environment: %s", tool.Name, op, kv)
					}
				}
			}
		}
	}
}

func TestContestantsPlans(t *testing.T) {
	bins := Binaries{Ours: "/c/ours", GolangMigrate: "/c/migrate", Goose: "/c/goose", Dbmate: "/c/dbmate", Psql: "/c/psql"}
	tools := map[string]Tool{}
	for _, tool := range Contestants(bins, Options{DbmateDownMaxN: 2}) {
		tools[tool.Name] = tool
	}
	small, big := testTarget(t, 2), testTarget(t, 3)

	runs, _ := tools["visiona"].plan(Down, small)
	if got := strings.Join(runs[0].args, " "); got != "-migrations "+small.set.PairDir+" down -all" {
		t.Errorf("ours down: %q", got)
	}
	if env := strings.Join(runs[0].env, " "); !strings.Contains(env, "VISIONA_DB_NAME=bench_db") || !strings.Contains(env, "VISIONA_DB_PASSWORD=s3cret-pw") {
		t.Errorf("ours env: %s", env)
	}
	if runs, _ := tools["dbmate"].plan(Down, small); len(runs) != 2 || runs[1].args[0] != "rollback" {
		t.Errorf("dbmate down at N=2: %d runs, want 2 rollbacks", len(runs))
	}
	if runs, why := tools["dbmate"].plan(Down, big); runs != nil || !strings.Contains(why, "N=2") {
		t.Errorf("dbmate down above the cap: %d runs, reason %q", len(runs), why)
	}
	runs, _ = tools["visiona-all-in-one"].plan(Up, small)
	if got := strings.Join(runs[0].args, " "); got != "-migrations "+small.set.PairDir+" -single-transaction up" {
		t.Errorf("ours all-in-one up: %q", got)
	}
	if runs, _ := tools["goose"].plan(Down, small); runs[0].args[0] != "reset" {
		t.Errorf("goose down: %v, want reset", runs[0].args)
	}
}

// results is a fabricated run: ours, goose, psql at N=1000, two rounds.
func results() *Results {
	r := &Results{Sizes: []int{1000}, Rounds: 2, Command: "go run mage.go bench", Tools: []Tool{
		{Name: "visiona", Role: RoleOurs, Mode: PerMigration, How: "ours"},
		{Name: "goose", Version: "v3", Role: RolePeer, Mode: PerMigration, How: "goose"},
		{Name: "psql", Role: RoleFloor, Mode: PerMigration, How: "psql"},
		{Name: "visiona-all-in-one", Role: RoleOurs, Mode: AllInOne, How: "ours, one transaction"},
		{Name: "psql-all-in-one", Role: RoleFloor, Mode: AllInOne, How: "psql --single-transaction"},
		{Name: "golang-migrate", Role: RolePeer, Mode: PerMigration, How: "gm"},
	}}
	add := func(tool string, op Op, walls ...float64) {
		for i, w := range walls {
			r.Samples = append(r.Samples, Sample{Tool: tool, N: 1000, Op: op, Round: i + 1, Wall: w, MaxRSSKB: int64(1024 * (10 + i))})
		}
	}
	add("visiona", Up, 1.0, 3.0, 2.0)
	add("goose", Up, 4.0, 4.0)
	add("psql", Up, 1.6)
	add("visiona-all-in-one", Up, 1.2)
	add("psql-all-in-one", Up, 1.0)
	add("visiona", Down, 1.0)
	add("goose", Down, 0.5)
	add("visiona", Version, 0.010)
	add("psql", Version, 0.008)
	r.Skipped = []Skip{{Tool: "golang-migrate", N: 1000, Op: Down, Reason: "not run here"}}
	return r
}

func TestStatsRatiosAndChecks(t *testing.T) {
	r := results()
	st, ok := r.Stat("visiona", 1000, Up)
	if !ok || st.Median != 2 || st.Min != 1 || st.Max != 3 || st.Count != 3 || st.PeakRSSKB != 12*1024 {
		t.Errorf("ours up: %+v", st)
	}
	if ratio, _ := r.Ratio("goose", 1000, Up); ratio != 2 {
		t.Errorf("goose up ratio: %v, want 2", ratio)
	}
	want := map[string]string{
		"up 1000: ours ≤ 0.85 × goose":                               "met",          // 2 / 4
		"up 1000: ours ≤ 0.6 × golang-migrate":                       "not measured", // no samples
		"up 1000: ours ≤ 1.15 × psql, one transaction per migration": "missed",       // 2 / 1.8
		"up 1000: ours all-in-one ≤ 1.1 × psql --single-transaction": "missed",       // 1.2 / 1.0
		"down 1000: ours ≤ goose":                                    "missed",       // 1 / 0.5
		"version (1000 applied): ours ≤ 2 × `psql -c 'select 1'`":    "met",          // 10 / 8 ms
		"peak memory, n=1000: ours ≤ goose":                          "missed",       // 12 MB vs 11 MB
	}
	for _, c := range r.Checks() {
		if want[c.Goal] != c.Status {
			t.Errorf("%s: %s, want %s (ratio %.2f)", c.Goal, c.Status, want[c.Goal], c.Ratio)
		}
	}

	table := r.Table(1000)
	for _, s := range []string{
		"| **visiona** | one per migration | 2.00 s (1.00–3.00 s) | 1.00 s | 10.0 ms | 12 MB | 1 | 1 | 1 |",
		"| goose v3 | one per migration | 4.00 s | 500.0 ms | — | 11 MB | 2.00 | 0.50 | — |",
		"| **visiona-all-in-one** | one for the run | 1.20 s | — | — | 10 MB | 0.60 | — | — |",
		"— (not run here)",
	} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
}

func TestFormatRange(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{{1.62, 1.91, "1.62–1.91 s"}, {0.0456, 0.0501, "45.6–50.1 ms"}, {0.9, 1.2, "900.0 ms–1.20 s"}, {9, 12, "9.00–12.0 s"}} {
		if got := formatRange(c.lo, c.hi); got != c.want {
			t.Errorf("formatRange(%v, %v) = %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
}

func TestWriteDocs(t *testing.T) {
	for _, c := range []struct {
		delay         time.Duration
		markdown, png string
		want          []string
	}{
		{0, "benchmarks.md", "benchmarks.png", []string{"](benchmarks.png)", "](benchmarks-slow-flush.md)"}},
		{time.Millisecond, "benchmarks-slow-flush.md", "benchmarks-slow-flush.png", []string{"](benchmarks-slow-flush.png)", "1ms", "commit_delay"}},
	} {
		t.Run(c.markdown, func(t *testing.T) {
			dir := t.TempDir()
			r := results()
			r.FlushDelay = c.delay
			if err := r.WriteDocs(dir); err != nil {
				t.Fatal(err)
			}
			md, err := os.ReadFile(filepath.Join(dir, c.markdown))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range append(c.want, "## N = 1000", "This page came from `go run mage.go bench", "| **visiona** |") {
				if !strings.Contains(string(md), s) {
					t.Errorf("%s lacks %q", c.markdown, s)
				}
			}
			f, err := os.Open(filepath.Join(dir, c.png))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", c.png, err)
			}
			if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 300 {
				t.Errorf("chart is %dx%d, want at least 800x300", b.Dx(), b.Dy())
			}
		})
	}
}
