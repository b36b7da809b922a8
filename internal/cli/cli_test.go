package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/config"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) { testenv.Main(m, pgServer) }

type run struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, env map[string]string, fsys fstest.MapFS, args ...string) run {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := cli.Env{Args: args, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Migrations: migrations.FS, MigrationsDir: t.TempDir()}
	if fsys != nil {
		e.Migrations = fsys
	}
	code := cli.Run(context.Background(), e)
	return run{code, stdout.String(), stderr.String()}
}

// A configured but unreachable database: enough for everything that fails before connecting.
var offline = map[string]string{"VISIONA_DB_HOST": "127.0.0.1", "VISIONA_DB_PORT": "1", "VISIONA_DB_USER": "u", "VISIONA_DB_NAME": "d"}

func with(base map[string]string, kv ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Bad input that needs no database: each gets its exit code and one line saying what to do.
func TestBadInputWithoutDatabase(t *testing.T) {
	broken := fstest.MapFS{"000001_a.up.sql": {Data: []byte("SELECT 1;")}}
	cases := []struct {
		name string
		env  map[string]string
		fsys fstest.MapFS
		args []string
		code int
		want string
	}{
		{"no command", offline, nil, nil, cli.ExitUsage, "no command given"},
		{"unknown command", offline, nil, []string{"sideways"}, cli.ExitUsage, `unknown command "sideways"`},
		{"unknown flag", offline, nil, []string{"-verbose", "up"}, cli.ExitUsage, "flag provided but not defined: -verbose"},
		{"up with argument", offline, nil, []string{"up", "3"}, cli.ExitUsage, "up takes no arguments"},
		{"down without count", offline, nil, []string{"down"}, cli.ExitUsage, "down needs a count when not run at a terminal"},
		{"down zero", offline, nil, []string{"down", "0"}, cli.ExitUsage, `"0" is not a count of 1 or more`},
		{"goto word", offline, nil, []string{"goto", "latest"}, cli.ExitUsage, `"latest" is not a version number`},
		{"force missing version", offline, nil, []string{"force"}, cli.ExitUsage, "force needs exactly one version"},
		{"create bad name", offline, nil, []string{"create", "Add Things"}, cli.ExitUsage, `e.g. "add_things"`},
		{"not configured", map[string]string{"VISIONA_DB_HOST": "localhost"}, nil, []string{"up"}, cli.ExitConfig, "missing: VISIONA_DB_USER, VISIONA_DB_NAME"},
		{"bad port", with(offline, "VISIONA_DB_PORT", "abc"), nil, []string{"up"}, cli.ExitConfig, `VISIONA_DB_PORT: "abc" is not a whole number`},
		{"bad sslmode", with(offline, "VISIONA_DB_SSLMODE", "maybe"), nil, []string{"status"}, cli.ExitConfig, "VISIONA_DB_SSLMODE"},
		{"bad lock timeout", with(offline, "VISIONA_DB_LOCK_TIMEOUT", "soon"), nil, []string{"up"}, cli.ExitConfig, "VISIONA_DB_LOCK_TIMEOUT"},
		{"bad log level", with(offline, "VISIONA_LOG_LEVEL", "loud"), nil, []string{"up"}, cli.ExitConfig, "VISIONA_LOG_LEVEL"},
		{"unreachable", offline, nil, []string{"up"}, cli.ExitConnect, "cannot connect to u@127.0.0.1:1/d?sslmode=prefer: connection refused"},
		{"unknown host", with(offline, "VISIONA_DB_HOST", "no-such-host.invalid"), nil, []string{"version"}, cli.ExitConnect, `host "no-such-host.invalid" not found`},
		{"broken migrations", offline, broken, []string{"status"}, cli.ExitInvalidSource, "migrations/000001_a.up.sql: has no down file"},
		{"reset remote host", with(offline, "VISIONA_DB_HOST", "10.1.2.3"), nil, []string{"reset"}, cli.ExitRemoteReset, "refusing to reset u@10.1.2.3:1/d"},
		{"force unknown version", offline, nil, []string{"force", "999"}, cli.ExitUnknownVersion, "no migration with that version: 999"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.env, c.fsys, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			first, _, _ := strings.Cut(r.stderr, "\n")
			if !strings.HasPrefix(first, "migrate: error: ") || !strings.Contains(first, c.want) {
				t.Errorf("first stderr line %q, want a `migrate: error:` line containing %q", first, c.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing on failure", r.stdout)
			}
		})
	}
}

// lint reads the folder on disk and exits 14 with one file:line rule message line per finding.
func TestLint(t *testing.T) {
	var stdout, stderr bytes.Buffer
	dir := "../../testdata/lint/not-concurrently/bad"
	code := cli.Run(context.Background(), cli.Env{Args: []string{"lint"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Lookup: func(string) (string, bool) { return "", false }, Migrations: os.DirFS(dir), MigrationsDir: dir})
	if code != cli.ExitLint {
		t.Fatalf("exit %d, want %d; stderr %q", code, cli.ExitLint, stderr.String())
	}
	if !strings.Contains(stdout.String(), ".up.sql:") || !strings.Contains(stdout.String(), " error not-concurrently: ") {
		t.Errorf("stdout lacks a file:line error not-concurrently line:\n%s", stdout.String())
	}
	if !strings.HasPrefix(stderr.String(), "migrate: error: lint found errors") {
		t.Errorf("stderr %q", stderr.String())
	}
	// The repository's own migrations lint clean (past the baseline).
	stdout.Reset()
	code = cli.Run(context.Background(), cli.Env{Args: []string{"lint"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Lookup: func(string) (string, bool) { return "", false }, Migrations: migrations.FS, MigrationsDir: "../../migrations"})
	if code != cli.ExitOK {
		t.Errorf("our migrations: exit %d\n%s", code, stdout.String())
	}
}

func TestHelp(t *testing.T) {
	r := runCLI(t, nil, nil, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "exit codes:") || !strings.Contains(r.stdout, "VISIONA_DB_PASSWORD") {
		t.Errorf("help: exit %d, stdout %q", r.code, r.stdout)
	}
}

// secret has every character that means something in a URL or a libpq connection string.
const secret = `p@ss:w/rd?#%&="x'y \z;`

// dbEnv creates a role whose password is secret, owning a fresh database, and returns its env.
func dbEnv(t *testing.T) map[string]string {
	t.Helper()
	admin, err := config.DBFromURL(pgServer.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	// Roles are server-wide: the database's unique name keeps them apart between tests and runs.
	role := "r_" + admin.Name
	if err := adminExec(pgServer.Postgres(t).URL("postgres"), fmt.Sprintf(`CREATE ROLE %[1]s LOGIN PASSWORD '%[2]s'; ALTER DATABASE %[3]s OWNER TO %[1]s; GRANT ALL ON SCHEMA public TO %[1]s`,
		role, strings.ReplaceAll(secret, "'", "''"), admin.Name)); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"VISIONA_DB_HOST": admin.Host, "VISIONA_DB_PORT": fmt.Sprint(admin.Port), "VISIONA_DB_USER": role,
		"VISIONA_DB_PASSWORD": secret, "VISIONA_DB_NAME": admin.Name, "VISIONA_DB_SSLMODE": "disable"}
}

func adminExec(url, sql string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func TestUpPrintsOneLinePerMigration(t *testing.T) {
	env := dbEnv(t)
	r := runCLI(t, env, nil, "up")
	if r.code != 0 {
		t.Fatalf("up: exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	n := len(lines) - 2 // progress lines, then the summary and the version
	if n < 5 {
		t.Fatalf("stdout %q", r.stdout)
	}
	for i, l := range lines[:n] {
		if !strings.HasPrefix(l, fmt.Sprintf("up   %06d ", i+1)) || !strings.HasSuffix(l, ")") {
			t.Errorf("progress line %q", l)
		}
	}
	if !strings.HasPrefix(lines[n], fmt.Sprintf("%d migration(s) applied in ", n)) || lines[n+1] != fmt.Sprintf("%d (latest)", n) {
		t.Errorf("summary %q", lines[n:])
	}

	r = runCLI(t, env, nil, "-json", "down", "2")
	var doc struct {
		OK       bool   `json:"ok"`
		ExitCode int    `json:"exit_code"`
		Target   string `json:"target"`
		Applied  []struct {
			Version   uint   `json:"version"`
			Direction string `json:"direction"`
		} `json:"applied"`
		Version struct {
			Version uint `json:"version"`
			Pending int  `json:"pending"`
		} `json:"version"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("-json output is not JSON: %v\n%s", err, r.stdout)
	}
	if !doc.OK || len(doc.Applied) != 2 || doc.Applied[0].Direction != "down" || doc.Version.Version != uint(n-2) || doc.Version.Pending != 2 {
		t.Errorf("-json down 2: %+v", doc)
	}
	if strings.Count(r.stderr, "\n") != 2 || !strings.Contains(r.stderr, "down "+fmt.Sprintf("%06d", n)) {
		t.Errorf("-json: progress should go to stderr, one line each; got %q", r.stderr)
	}

	r = runCLI(t, env, nil, "force", "999")
	if r.code != cli.ExitUnknownVersion {
		t.Errorf("force 999: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, env, nil, "-json", "force", "999")
	if !strings.Contains(r.stdout, `"exit_code": 10`) || !strings.Contains(r.stdout, `"ok": false`) {
		t.Errorf("-json failure document: %s", r.stdout)
	}
}

// No output of any command, failing or not, may contain the password or a piece of it.
func TestPasswordNeverPrinted(t *testing.T) {
	env := dbEnv(t)
	failing := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("CREATE TABLE a (id int);\nSELECT 1/0;\n")},
		"000001_a.down.sql": {Data: []byte("DROP TABLE a;\n")},
	}
	runs := []struct {
		env  map[string]string
		fsys fstest.MapFS
		args []string
	}{
		{env, failing, []string{"up"}},
		{env, failing, []string{"-json", "up"}},
		{env, nil, []string{"up"}},
		{env, nil, []string{"status"}},
		{env, nil, []string{"-json", "status"}},
		{with(env, "VISIONA_DB_PASSWORD", secret+"wrong"), nil, []string{"up"}},
		{with(env, "VISIONA_DB_NAME", "missing"), nil, []string{"version"}},
		{with(env, "VISIONA_DB_PORT", "1"), nil, []string{"up"}},
		{with(env, "VISIONA_DB_SSLMODE", "require"), nil, []string{"up"}},
		{with(env, "VISIONA_DB_SSLMODE", "bogus"), nil, []string{"up"}},
		{with(env, "VISIONA_LOG_LEVEL", "debug"), nil, []string{"up"}},
	}
	pieces := []string{secret, "w/rd", `"x'y`, url(secret)}
	codes := map[int]bool{}
	for _, r := range runs {
		out := runCLI(t, r.env, r.fsys, r.args...)
		codes[out.code] = true
		for _, p := range pieces {
			if strings.Contains(out.stdout+out.stderr, p) {
				t.Errorf("%v printed %q:\n%s%s", r.args, p, out.stdout, out.stderr)
			}
		}
	}
	// The runs must have taken the paths they were meant to: success and several failures.
	for _, c := range []int{cli.ExitOK, cli.ExitMigration, cli.ExitConnect, cli.ExitConfig} {
		if !codes[c] {
			t.Errorf("no run ended with exit %d; the test no longer covers that path", c)
		}
	}
}

func url(s string) string {
	return strings.NewReplacer("@", "%40", ":", "%3A", "/", "%2F").Replace(s)
}

// The mage door and the cmd/migrate door print the same bytes and exit with the same code.
func TestMageAndCLIAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the magefile: skipped with -short")
	}
	env := dbEnv(t)
	bin := t.TempDir()
	root, _ := filepath.Abs("../..")
	build := func(args ...string) {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	build("build", "-o", filepath.Join(bin, "migrate"), "./cmd/migrate")
	build("run", "mage.go", "-compile", filepath.Join(bin, "mage"))

	exe := func(name string, env map[string]string, args ...string) run {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = root
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return run{code, stdout.String(), stderr.String()}
	}
	pairs := []struct {
		env  map[string]string
		mage []string
		cli  []string
	}{
		{env, []string{"migrateVersion"}, []string{"version"}},
		{env, []string{"migrateGoto", "3"}, []string{"goto", "3"}}, // the second finds nothing to do
		{env, []string{"migrateGoto", "3"}, []string{"goto", "3"}},
		{env, []string{"migrateStatus"}, []string{"status"}},
		{env, []string{"migrateForce", "999"}, []string{"force", "999"}},
		{env, []string{"migrateDown"}, []string{"down"}},
		{env, []string{"migrateStatus", "-json"}, []string{"-json", "status"}},
		{with(env, "VISIONA_DB_PORT", "abc"), []string{"migrateUp"}, []string{"up"}},
		{with(env, "VISIONA_DB_PASSWORD", "wrong"), []string{"migrateUp"}, []string{"up"}},
	}
	for i, p := range pairs {
		m, c := exe("mage", p.env, p.mage...), exe("migrate", p.env, p.cli...)
		if i == 1 {
			continue // it moved the database: output differs by design
		}
		if p.mage[0] == "migrateDown" {
			// Same failure and code; each door's hint in its own syntax.
			if m.code != c.code || m.stdout != c.stdout || !strings.Contains(m.stderr, "go run mage.go migrateDown -steps=1") || !strings.Contains(c.stderr, "`down 1`") {
				t.Errorf("mage %v and migrate %v: exit %d/%d, stderr\n%s\n%s", p.mage, p.cli, m.code, c.code, m.stderr, c.stderr)
			}
			continue
		}
		if m != c {
			t.Errorf("mage %v and migrate %v differ:\nmage:    exit %d\n%s%s\nmigrate: exit %d\n%s%s", p.mage, p.cli, m.code, m.stdout, m.stderr, c.code, c.stdout, c.stderr)
		}
	}
}

// lintRun runs `migrate <args>` on a migrations folder with the given environment.
func lintRun(t *testing.T, dir string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), cli.Env{Args: args, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Migrations: os.DirFS(dir), MigrationsDir: dir})
	return code, stdout.String(), stderr.String()
}

// Every format reports the same findings with the same exit code; GitHub Actions gets annotations
// by default.
func TestLintFormats(t *testing.T) {
	dir := "../../testdata/lint/not-concurrently/bad"
	code, out, _ := lintRun(t, dir, nil, "lint", "-format=json")
	var doc struct {
		Format   string
		Errors   int
		Findings []struct{ File, Rule string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != cli.ExitLint {
		t.Fatalf("json: exit %d, %v:\n%s", code, err, out)
	}
	if doc.Format != "visiona-lint/1" || doc.Errors != 4 || len(doc.Findings) != 4 || doc.Findings[0].File != dir+"/000002_index_items_name.down.sql" {
		t.Errorf("json document: %+v", doc)
	}

	code, out, _ = lintRun(t, dir, nil, "lint", "-format=sarif")
	var log struct {
		Version string
		Runs    []struct{ Results []struct{ RuleID string } }
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil || code != cli.ExitLint || log.Version != "2.1.0" || len(log.Runs[0].Results) != 4 {
		t.Errorf("sarif: exit %d, %v, %+v", code, err, log)
	}

	for _, c := range []struct {
		env  map[string]string
		args []string
	}{{map[string]string{"GITHUB_ACTIONS": "true"}, []string{"lint"}}, {nil, []string{"lint", "-format", "github"}}} {
		code, out, _ = lintRun(t, dir, c.env, c.args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != cli.ExitLint || len(lines) != 5 || !strings.HasPrefix(lines[0], "::error file="+dir+"/000002_index_items_name.down.sql,line=1,col=1,title=not-concurrently::DROP INDEX") ||
			!strings.HasPrefix(lines[4], "lint: 4 error(s)") {
			t.Errorf("github %v %v: exit %d:\n%s", c.env, c.args, code, out)
		}
	}

	// -json (every command's document) carries the same report under "lint".
	code, out, _ = lintRun(t, dir, nil, "-json", "lint")
	var cmdDoc struct {
		Command  string
		ExitCode int `json:"exit_code"`
		Lint     struct{ Errors int }
	}
	if err := json.Unmarshal([]byte(out), &cmdDoc); err != nil || code != cli.ExitLint || cmdDoc.Command != "lint" || cmdDoc.ExitCode != cli.ExitLint || cmdDoc.Lint.Errors != 4 {
		t.Errorf("-json lint: exit %d, %v, %+v", code, err, cmdDoc)
	}

	if code, _, stderr := lintRun(t, dir, nil, "lint", "-format=xml"); code != cli.ExitUsage || !strings.Contains(stderr, `-format "xml" is not one of text, json, github, sarif`) {
		t.Errorf("-format=xml: exit %d, %q", code, stderr)
	}
	if code, _, stderr := lintRun(t, dir, map[string]string{"VISIONA_DB_SERVER_VERSION": "fourteen"}, "lint"); code != cli.ExitConfig || !strings.Contains(stderr, "VISIONA_DB_SERVER_VERSION") {
		t.Errorf("bad server version: exit %d, %q", code, stderr)
	}
}

// The baseline comes from lint.conf beside the migrations, and the target server from the
// environment.
func TestLintConfAndTarget(t *testing.T) {
	dir := t.TempDir()
	src := "../../testdata/lint/not-concurrently/bad"
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(dir, "lint.conf"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# the history before the lint\nbaseline = 3\n")
	code, out, _ := lintRun(t, dir, map[string]string{"VISIONA_DB_SERVER_VERSION": "14"}, "lint")
	if code != cli.ExitLint || strings.Count(out, " error ") != 1 || !strings.Contains(out, "000005_index_events_at.up.sql") ||
		!strings.Contains(out, "for PostgreSQL 14 (up to 000003 written before the lint: not reported)") {
		t.Errorf("baseline 3: exit %d:\n%s", code, out)
	}
	write("baseline = 5\n")
	if code, out, _ := lintRun(t, dir, nil, "lint"); code != cli.ExitOK || !strings.Contains(out, "lint: 0 error(s)") {
		t.Errorf("baseline 5: exit %d:\n%s", code, out)
	}
	write("baseline: 5\n")
	if code, _, stderr := lintRun(t, dir, nil, "lint"); code != cli.ExitInvalidSource || !strings.Contains(stderr, "migrations/lint.conf: line 1 is not `key = value`") {
		t.Errorf("malformed lint.conf: exit %d, %q", code, stderr)
	}
}

// Through mage, hints speak mage's syntax; through the CLI, the CLI's.
func TestHintsInTheWordsOfTheDoor(t *testing.T) {
	for _, c := range []struct {
		target, wantError, wantHint string
	}{
		{"", "`down 1` reverts the last migration", "migrate: run `migrate help` for usage"},
		{"migrateDown", "`go run mage.go migrateDown -steps=1` reverts the last migration", "migrate: run `go run mage.go -h migrateDown` for usage"},
	} {
		var stdout, stderr bytes.Buffer
		code := cli.Run(context.Background(), cli.Env{Args: []string{"down"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Lookup: func(k string) (string, bool) { v, ok := offline[k]; return v, ok }, Migrations: migrations.FS, MageTarget: c.target})
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != cli.ExitUsage || len(lines) != 2 || !strings.Contains(lines[0], c.wantError) || lines[1] != c.wantHint {
			t.Errorf("target %q: exit %d, stderr %q; want exit %d, an error with %q and the hint %q", c.target, code, stderr.String(), cli.ExitUsage, c.wantError, c.wantHint)
		}
	}
}

// create says that the files it wrote are templates that every command refuses until they hold SQL.
func TestCreateSaysWhatComesNext(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), cli.Env{Args: []string{"create", "add_things"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Lookup: func(string) (string, bool) { return "", false }, Migrations: os.DirFS(dir), MigrationsDir: dir})
	if code != cli.ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "created "+filepath.Join(dir, "000001_add_things.up.sql")) || !strings.Contains(stdout.String(), "refuses them (exit 9)") {
		t.Errorf("stdout %q lacks the created files and what to do next", stdout.String())
	}
	code = cli.Run(context.Background(), cli.Env{Args: []string{"verify"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Lookup: func(string) (string, bool) { return "", false }, Migrations: os.DirFS(dir), MigrationsDir: dir})
	if code != cli.ExitInvalidSource {
		t.Errorf("verify of the fresh templates: exit %d, want %d", code, cli.ExitInvalidSource)
	}
}
