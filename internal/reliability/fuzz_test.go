package reliability

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/unicode/norm"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/migfile"
)

// FuzzPasswordNeverPrinted: whatever the password, no output of any command (stdout, stderr,
// debug logs, -json documents), succeeding or failing, contains it.
//
// In `go test` the seeds (testdata/fuzz/FuzzPasswordNeverPrinted: URL- and libpq-special
// characters, quotes, backslashes, spaces, Unicode) run. To fuzz for real:
//
//	source build/testenv/env.sh
//	go test -run '^$' -fuzz FuzzPasswordNeverPrinted -fuzztime 10m -parallel 2 ./internal/reliability/
//
// (each fuzz worker is a process that starts its own PostgreSQL container; set
// VISIONA_TEST_POSTGRES_URL to share one server instead.)
//
// For each input a role with that password owns a fresh database, and a fixed list of commands
// runs in process (cli.Run, VISIONA_LOG_LEVEL=debug) with the right password, a wrong one,
// failing migrations, a dirty database and unreachable settings; every exit code is checked so
// the paths stay covered, and the right password must work.
//
// When is a password "printed"? Only inputs a person could set count: valid UTF-8 without NUL
// (an environment variable cannot hold NUL) and at least 4 characters (shorter ones occur
// everywhere). A password counts as printed when one of its forms (as is, URL-escaped, JSON- and
// Go-quoted, SQL- and libpq-quoted) occurs in an output but not in the output of the same commands
// run with a control password (same role, same database name, fresh database): that is how
// passwords that occur naturally ("migrate", "version", "sslmode=disable", the role's name) are
// told from leaks. Runs of digits are compared as equal on both sides, so durations, pids and
// timestamps cannot make a difference; the price is that a leak of a password made only of digits
// and characters our output is full of cannot be told from a duration.
func FuzzPasswordNeverPrinted(f *testing.F) {
	f.Add("correct horse battery staple")
	f.Fuzz(func(t *testing.T, password string) {
		if !utf8.ValidString(password) || strings.ContainsRune(password, 0) {
			t.Skip("not a password an environment variable can hold")
		}
		if utf8.RuneCountInString(password) < 4 {
			t.Skip("shorter than 4 characters: it occurs in output by chance")
		}
		fx := newFuzzFixture(t)
		if scramMismatch(password) {
			// pgx's bug, not ours: the right password is refused, so only leaks are checked.
			fx.unchecked = true
			t.Logf("known pgx bug: SCRAM normalizes with NFC where PostgreSQL's SASLprep uses NFKC; %q cannot log in", password)
		}
		outs := fx.run(t, password)
		forms := passwordForms(password)
		type hit struct {
			run  int
			form string
		}
		var hits []hit
		for i, out := range outs {
			for _, f := range forms {
				if suspicious(out, f) {
					hits = append(hits, hit{i, f})
				}
			}
		}
		if len(hits) == 0 {
			return
		}
		fx.unchecked = false
		control := fx.run(t, controlPassword())
		for _, h := range hits {
			if !suspicious(control[h.run], h.form) {
				t.Errorf("migrate %v printed the password (as %q):\n%s", fuzzRuns[h.run].args, h.form, outs[h.run])
			}
		}
	})
}

// A fuzz run: the set of migrations, a change to the environment, the arguments, the exit code.
type fuzzRun struct {
	set  string // good, failing (a runtime error), dirtying (a failing no-transaction file)
	env  []string
	args []string
	code int
}

// fuzzRuns run in this order on a fresh database; each state follows from the ones before.
var fuzzRuns = []fuzzRun{
	{set: "failing", args: []string{"up"}, code: cli.ExitMigration}, // 000001 and 000002 apply, 000003 fails
	{set: "failing", args: []string{"-json", "up"}, code: cli.ExitMigration},
	{set: "good", args: []string{"status"}, code: cli.ExitOK},
	{set: "good", args: []string{"-json", "status"}, code: cli.ExitOK},
	{set: "good", args: []string{"down", "1"}, code: cli.ExitOK},
	{set: "good", args: []string{"up"}, code: cli.ExitOK},
	{set: "dirtying", args: []string{"up"}, code: cli.ExitDirty}, // fails and leaves the database dirty at 3
	{set: "dirtying", args: []string{"up"}, code: cli.ExitDirty},
	{set: "dirtying", args: []string{"-json", "version"}, code: cli.ExitOK},
	{set: "dirtying", args: []string{"force", "2"}, code: cli.ExitOK},
	{set: "good", env: []string{"VISIONA_DB_PASSWORD", "x" + passwordVar}, args: []string{"up"}, code: cli.ExitConnect},
	{set: "good", env: []string{"VISIONA_DB_PASSWORD", passwordVar + "x"}, args: []string{"-json", "status"}, code: cli.ExitConnect},
	{set: "good", env: []string{"VISIONA_DB_NAME", "corpus_no_such_db"}, args: []string{"version"}, code: cli.ExitConnect},
	{set: "good", env: []string{"VISIONA_DB_SSLMODE", "require"}, args: []string{"up"}, code: cli.ExitConnect},
	{set: "good", env: []string{"VISIONA_DB_PORT", "1"}, args: []string{"up"}, code: cli.ExitConnect},
	{set: "good", env: []string{"VISIONA_DB_SSLMODE", "bogus"}, args: []string{"up"}, code: cli.ExitConfig},
	{set: "good", env: []string{"VISIONA_DB_HOST", "10.1.2.3"}, args: []string{"reset"}, code: cli.ExitRemoteReset},
}

// passwordVar in a fuzzRun's env stands for the password under test.
const passwordVar = "\x00password"

var fuzzSets = map[string]fstest.MapFS{
	"good": {
		"000001_a.up.sql":   {Data: []byte("CREATE TABLE a (id int PRIMARY KEY, note text);\n")},
		"000001_a.down.sql": {Data: []byte("DROP TABLE a;\n")},
		"000002_b.up.sql":   {Data: []byte("INSERT INTO a VALUES (1, current_user);\n")},
		"000002_b.down.sql": {Data: []byte("DELETE FROM a;\n")},
	},
}

func init() {
	failing, dirtying := fstest.MapFS{}, fstest.MapFS{}
	for name, f := range fuzzSets["good"] {
		failing[name], dirtying[name] = f, f
	}
	failing["000003_c.up.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE a ADD COLUMN n int;\nUPDATE a SET n = 1 / (id - id);\n")}
	failing["000003_c.down.sql"] = &fstest.MapFile{Data: []byte("ALTER TABLE a DROP COLUMN n;\n")}
	dirtying["000003_c.up.sql"] = &fstest.MapFile{Data: []byte(migfile.NoTransactionMarker + "\nCREATE INDEX CONCURRENTLY a_nope_idx ON a (nope);\n")}
	dirtying["000003_c.down.sql"] = &fstest.MapFile{Data: []byte(migfile.NoTransactionMarker + "\nDROP INDEX CONCURRENTLY a_nope_idx;\n")}
	fuzzSets["failing"], fuzzSets["dirtying"] = failing, dirtying
}

// fuzzFixture is one input's role and database, both named after the role.
type fuzzFixture struct {
	role      string
	env       map[string]string
	unchecked bool // do not check exit codes (the password cannot log in: scramMismatch)
}

func newFuzzFixture(t *testing.T) *fuzzFixture {
	t.Helper()
	pg := pgServer.Postgres(t)
	role := "corpus_fz_" + randomHex(t, 6)
	adminExec(t, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		adminExec(t, "DROP DATABASE IF EXISTS "+role+" WITH (FORCE)")
		adminExec(t, "DROP ROLE IF EXISTS "+role)
	})
	return &fuzzFixture{role: role, env: map[string]string{
		"VISIONA_DB_HOST": pg.Host, "VISIONA_DB_PORT": strconv.Itoa(pg.Port), "VISIONA_DB_USER": role, "VISIONA_DB_NAME": role,
		"VISIONA_DB_SSLMODE": "disable", "VISIONA_DB_APP_NAME": "corpus-fuzz", "VISIONA_LOG_LEVEL": "debug",
	}}
}

// run sets the role's password, gives it a fresh database and runs fuzzRuns with that password;
// it returns each run's stdout and stderr together.
func (fx *fuzzFixture) run(t *testing.T, password string) []string {
	t.Helper()
	conn := adminConn(t)
	defer conn.Close(context.Background())
	ctx := context.Background()
	// ALTER ROLE takes no parameters: the server quotes the password itself.
	var alter string
	if err := conn.QueryRow(ctx, "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", fx.role, password).Scan(&alter); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{alter, "DROP DATABASE IF EXISTS " + fx.role + " WITH (FORCE)", "CREATE DATABASE " + fx.role + " OWNER " + fx.role} {
		if _, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("set up the role: %v", err)
		}
	}

	outs := make([]string, len(fuzzRuns))
	for i, r := range fuzzRuns {
		env := with(fx.env, "VISIONA_DB_PASSWORD", password)
		for j := 0; j+1 < len(r.env); j += 2 {
			env[r.env[j]] = strings.ReplaceAll(r.env[j+1], passwordVar, password)
		}
		var stdout, stderr bytes.Buffer
		code := cli.Run(context.Background(), cli.Env{Args: r.args, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Migrations: fuzzSets[r.set], MigrationsDir: t.TempDir()})
		outs[i] = stdout.String() + stderr.String()
		if code != r.code && !fx.unchecked {
			t.Errorf("migrate %v (%s set): exit %d, want %d:\n%s", r.args, r.set, code, r.code, outs[i])
		}
	}
	return outs
}

// scramMismatch reports passwords that pgx (v5.12.0, pgconn/auth_scram.go) prepares for SCRAM
// differently from PostgreSQL: pgx normalizes with PRECIS OpaqueString (NFC) where the server's
// SASLprep (RFC 4013) removes the "mapped to nothing" characters and applies NFKC, so the right
// password is refused ("password authentication failed"); libpq (psql) logs in with it.
func scramMismatch(p string) bool {
	if strings.ContainsFunc(p, func(r rune) bool { return unicode.Is(saslprepMappedToNothing, r) }) {
		return true
	}
	// Both map non-ASCII spaces to SPACE first.
	spaced := strings.Map(func(r rune) rune {
		if r != ' ' && unicode.Is(unicode.Zs, r) {
			return ' '
		}
		return r
	}, p)
	return norm.NFKC.String(spaced) != norm.NFC.String(spaced)
}

// saslprepMappedToNothing is RFC 3454 table B.1.
var saslprepMappedToNothing = &unicode.RangeTable{R16: []unicode.Range16{
	{Lo: 0x00ad, Hi: 0x00ad, Stride: 1}, {Lo: 0x034f, Hi: 0x034f, Stride: 1}, {Lo: 0x1806, Hi: 0x1806, Stride: 1},
	{Lo: 0x180b, Hi: 0x180d, Stride: 1}, {Lo: 0x200b, Hi: 0x200d, Stride: 1}, {Lo: 0x2060, Hi: 0x2060, Stride: 1},
	{Lo: 0xfe00, Hi: 0xfe0f, Stride: 1}, {Lo: 0xfeff, Hi: 0xfeff, Stride: 1},
}}

// passwordForms are the ways a password could appear in output: as is, and escaped the ways our
// code paths could escape it.
func passwordForms(p string) []string {
	jsonForm, _ := json.Marshal(p)
	userinfo := strings.TrimPrefix(url.UserPassword("u", p).String(), "u:")
	candidates := []string{
		p,
		url.QueryEscape(p),
		url.PathEscape(p),
		userinfo,
		strings.Trim(strconv.Quote(p), `"`),
		strings.Trim(string(jsonForm), `"`),
		strings.ReplaceAll(p, "'", "''"),
		strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(p),
	}
	var forms []string
	for _, c := range candidates {
		if len(c) >= 4 && !slices.Contains(forms, c) {
			forms = append(forms, c)
		}
	}
	return forms
}

var digits = regexp.MustCompile(`[0-9]+`)

// suspicious: form occurs in out as is, or once runs of digits are made equal on both sides.
func suspicious(out, form string) bool {
	return strings.Contains(out, form) || strings.Contains(digits.ReplaceAllString(out, "0"), digits.ReplaceAllString(form, "0"))
}

func controlPassword() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "Ctl" + hex.EncodeToString(b)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
