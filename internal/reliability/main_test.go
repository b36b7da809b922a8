package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/lines"
	"visiona-backend/internal/schema"
	"visiona-backend/internal/testenv"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) {
	testenv.Main(m, pgServer, func() {
		if migrateBuild.dir != "" {
			os.RemoveAll(migrateBuild.dir)
		}
	})
}

// EnvLong selects the long form of the corpus (`go run mage.go corpus` sets it).
const EnvLong = "VISIONA_CORPUS_LONG"

// size is the short figure in plain `go test` and the long one with VISIONA_CORPUS_LONG=1.
func size(short, long int) int {
	if v, _ := strconv.ParseBool(os.Getenv(EnvLong)); v {
		return long
	}
	return short
}

// procTimeout bounds every migrate process: one that runs longer has hung.
const procTimeout = 60 * time.Second

// migrateBuild is the CLI under test, built once per test binary.
var migrateBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// migrateBin builds testdata/migratebin (cmd/migrate reading its migrations from
// CORPUS_MIGRATIONS_DIR) on first use and returns the binary's path.
func migrateBin(t testing.TB) string {
	t.Helper()
	migrateBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "corpus-migrate-")
		if err != nil {
			migrateBuild.err = err
			return
		}
		migrateBuild.dir = dir
		path := filepath.Join(dir, "migrate")
		out, err := exec.Command("go", "build", "-o", path, "./testdata/migratebin").CombinedOutput()
		if err != nil {
			migrateBuild.err = fmt.Errorf("go build ./testdata/migratebin: %v\n%s", err, out)
			return
		}
		migrateBuild.path = path
	})
	if migrateBuild.err != nil {
		t.Fatal(migrateBuild.err)
	}
	return migrateBuild.path
}

// newDB returns a fresh, empty database on the shared server, as the superuser. It is dropped when
// the test ends (dropDB drops it earlier, for loops that make many).
func newDB(t testing.TB) config.DB {
	t.Helper()
	return pgServer.NewDB(t)
}

func dropDB(t testing.TB, cfg config.DB) {
	t.Helper()
	adminExec(t, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Name}.Sanitize()+" WITH (FORCE)")
}

// adminExec runs sql on the server's "postgres" database as the superuser.
func adminExec(t testing.TB, sql string, args ...any) {
	t.Helper()
	conn := adminConn(t)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("admin: %s: %v", lines.First(strings.TrimSpace(sql)), err)
	}
}

func adminConn(t testing.TB) *pgx.Conn {
	t.Helper()
	cfg := pgServer.AdminDB(t)
	cfg.AppName = "corpus-admin"
	return connect(t, cfg)
}

// connect is testenv.Connect: closed when the test ends, or earlier by the caller.
func connect(t testing.TB, cfg config.DB) *pgx.Conn {
	t.Helper()
	return testenv.Connect(t, cfg)
}

// processEnv is the VISIONA_DB_* environment that points the CLI at cfg's database.
func processEnv(cfg config.DB) map[string]string {
	return map[string]string{
		"VISIONA_DB_HOST":     cfg.Host,
		"VISIONA_DB_PORT":     strconv.Itoa(cfg.Port),
		"VISIONA_DB_USER":     cfg.User,
		"VISIONA_DB_PASSWORD": cfg.Password,
		"VISIONA_DB_NAME":     cfg.Name,
		"VISIONA_DB_SSLMODE":  cfg.SSLMode,
	}
}

// with returns a copy of env with key=value pairs set; a value of unset deletes the key.
func with(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == unset {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

const unset = "\x00unset"

// proc is one finished migrate process.
type proc struct {
	code           int // -1: killed by a signal
	signaled       bool
	stdout, stderr string
	took           time.Duration
}

func (p proc) String() string {
	return fmt.Sprintf("exit %d after %s\nstdout:\n%sstderr:\n%s", p.code, p.took.Round(time.Millisecond), indent(p.stdout), indent(p.stderr))
}

func indent(s string) string {
	if s == "" {
		return "    (nothing)\n"
	}
	var b strings.Builder
	for l := range strings.Lines(s) {
		b.WriteString("    " + l)
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
	return b.String()
}

// running is a migrate process that was started and not yet waited for.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr *bytes.Buffer
	start          time.Time
	timer          *time.Timer
	hung           chan struct{}
}

// startMigrate starts the CLI with the migrations in dir and exactly env as its environment
// (nothing is inherited, so a developer's VISIONA_* variables cannot leak in). Stdin is
// /dev/null: not a terminal, as in CI. A process still running after procTimeout is killed and
// reported as hung by wait.
func startMigrate(t testing.TB, dir string, env map[string]string, args ...string) *running {
	t.Helper()
	cmd := exec.Command(migrateBin(t), args...)
	cmd.Env = []string{"CORPUS_MIGRATIONS_DIR=" + dir}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	r := &running{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, hung: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	r.start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start migrate %v: %v", args, err)
	}
	r.timer = time.AfterFunc(procTimeout, func() {
		close(r.hung)
		cmd.Process.Kill()
	})
	return r
}

func (r *running) wait(t testing.TB) proc {
	t.Helper()
	err := r.cmd.Wait()
	r.timer.Stop()
	p := proc{stdout: r.stdout.String(), stderr: r.stderr.String(), took: time.Since(r.start)}
	select {
	case <-r.hung:
		t.Errorf("migrate %v hung: killed after %s\n%s", r.cmd.Args[1:], procTimeout, p)
	default:
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		p.code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.signaled = true
		}
	default:
		t.Fatalf("migrate %v: %v", r.cmd.Args[1:], err)
	}
	return p
}

// runMigrate runs the CLI to completion.
func runMigrate(t testing.TB, dir string, env map[string]string, args ...string) proc {
	t.Helper()
	return startMigrate(t, dir, env, args...).wait(t)
}

// writeSet writes a migration set (file name to content) into a new temporary folder.
func writeSet(t testing.TB, files map[string]string) string {
	t.Helper()
	return testenv.WriteFiles(t, files)
}

// dbState is everything a failed command must leave as it was: the schema, golang-migrate's
// version row, our history rows, and the data in every other table.
type dbState struct {
	Schema  *schema.Snapshot
	Version string // the schema_migrations rows, or "(no table)"
	History string // the schema_migrations_history rows
	Data    map[string]string
}

func readState(t testing.TB, cfg config.DB) dbState {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, cfg)
	defer conn.Close(ctx)
	var st dbState
	var err error
	if st.Schema, err = schema.Take(ctx, conn); err != nil {
		t.Fatal(err)
	}
	st.Version = tableText(t, conn, db.VersionTable, "version")
	st.History = tableText(t, conn, db.HistoryTable, "version")
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND tablename <> ALL($1) ORDER BY 1`,
		[]string{db.VersionTable, db.HistoryTable})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	st.Data = map[string]string{}
	for _, tbl := range tables {
		var n int64
		var sum string
		if err := conn.QueryRow(ctx, "SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM "+tbl+" t").Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		st.Data[tbl] = fmt.Sprintf("%d rows, md5 %s", n, sum)
	}
	return st
}

func tableText(t testing.TB, conn *pgx.Conn, table, order string) string {
	t.Helper()
	ctx := context.Background()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return "(no table)"
	}
	var text string
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY %s), '') FROM %s t", order, table)).Scan(&text); err != nil {
		t.Fatal(err)
	}
	return text
}

// diff says how b differs from a, or "" when it does not.
func (a dbState) diff(b dbState) string {
	var out []string
	if changes := schema.Diff(a.Schema, b.Schema); len(changes) > 0 {
		out = append(out, "schema:\n"+schema.FormatDiff(changes))
	}
	if a.Version != b.Version {
		out = append(out, fmt.Sprintf("%s: %q became %q", db.VersionTable, a.Version, b.Version))
	}
	if a.History != b.History {
		out = append(out, fmt.Sprintf("%s:\n%s\nbecame\n%s", db.HistoryTable, indent(a.History), indent(b.History)))
	}
	if !maps.Equal(a.Data, b.Data) {
		out = append(out, fmt.Sprintf("data: %v became %v", a.Data, b.Data))
	}
	return strings.Join(out, "\n")
}

// versionRow reads golang-migrate's version row: ok is false when there is none (never migrated).
func versionRow(t testing.TB, cfg config.DB) (version int, dirty, ok bool) {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, cfg)
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", db.VersionTable).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		return 0, false, false
	}
	err := conn.QueryRow(ctx, "SELECT version, dirty FROM "+db.VersionTable).Scan(&version, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return version, dirty, true
}

// history reads the versions recorded in schema_migrations_history and how many were adopted.
func history(t testing.TB, cfg config.DB) (versions []int, adopted int) {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, cfg)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT version, adopted FROM "+db.HistoryTable+" ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var a bool
	_, err = pgx.ForEachRow(rows, []any{&v, &a}, func() error {
		versions = append(versions, v)
		if a {
			adopted++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return versions, adopted
}

func snapshot(t testing.TB, cfg config.DB) *schema.Snapshot {
	t.Helper()
	conn := connect(t, cfg)
	defer conn.Close(context.Background())
	s, err := schema.Take(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// progressVersions are the versions of the "up   NNNNNN name (took)" lines on stdout.
func progressVersions(stdout string) []int {
	var vs []int
	for l := range strings.Lines(stdout) {
		f := strings.Fields(l)
		if len(f) == 4 && (f[0] == "up" || f[0] == "down") && len(f[1]) == 6 {
			if v, err := strconv.Atoi(f[1]); err == nil {
				vs = append(vs, v)
			}
		}
	}
	return vs
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}
