package reliability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
)

// The database states a bad-input case starts from.
const (
	atV2    = "" // testdata/badinput/base applied: version 2, clean (the default)
	atV3    = "v3"
	dirtyV3 = "dirty"
)

// badCase is one bad input: a migration set, a database state, an environment and arguments, and
// what the CLI must answer.
type badCase struct {
	name  string
	set   string   // folder under testdata/badinput ("base" when empty), or broken/NAME for testdata/broken
	state string   // atV2, atV3 or dirtyV3
	env   []string // changes to the environment that points at the database: KEY, value (unset deletes)
	args  []string
	code  int
	alt   int    // another acceptable exit code (0: none), where a fix may reasonably choose either
	want  string // in the error line
	usage bool   // a usage error: the help hint follows the error line
	// allow are further stderr lines the case may print (regular expressions; HOLDER is the lock
	// holder's pid), for log lines that are part of the contract, such as the lock holder report.
	allow    []string
	holdLock bool // another session holds the migration lock during the run
	// bug names a known bug that breaks the contract in this case: the case is skipped while the
	// bug shows, and fails once it no longer does, so the note goes with the fix.
	bug string
}

// badCases is the corpus. Every case must exit with its code (README "Exit codes",
// internal/cli/exitcode.go), print exactly one "migrate: error: " line on stderr (plus the help
// hint for usage errors), nothing on stdout, and leave the database exactly as it was.
var badCases = []badCase{
	// Strict discovery: exit 9, naming the file, before anything connects.
	{name: "misnamed file", set: "broken/misnamed", args: []string{"up"}, code: cli.ExitInvalidSource, want: "migrations/000002-second.up.sql: not a migration name"},
	{name: "missing down half", set: "broken/missing_down", args: []string{"up"}, code: cli.ExitInvalidSource, want: "migrations/000002_second.up.sql: has no down file"},
	{name: "missing up half", set: "broken/missing_up", args: []string{"up"}, code: cli.ExitInvalidSource, want: "migrations/000002_second.down.sql: has no up file"},
	{name: "duplicate version", set: "broken/duplicate_version", args: []string{"up"}, code: cli.ExitInvalidSource, want: "version 2 is also used by 000002_other.up.sql"},
	{name: "duplicate up file", set: "broken/duplicate_up", args: []string{"up"}, code: cli.ExitInvalidSource, want: "duplicate up file for version 1"},
	{name: "editor backup", set: "broken/editor_backup", args: []string{"up"}, code: cli.ExitInvalidSource, want: "migrations/000001_first.up.sql~: editor backup"},
	{name: "emacs autosave file", set: "autosave_file", args: []string{"up"}, code: cli.ExitInvalidSource, want: "migrations/#000002_add_note.up.sql#: editor backup"},
	{name: "empty file", set: "broken/empty_file", args: []string{"up"}, code: cli.ExitInvalidSource, want: "migrations/000002_second.up.sql: has no SQL"},
	{name: "comments only", set: "broken/comments_only", args: []string{"status"}, code: cli.ExitInvalidSource, want: "migrations/000002_second.up.sql: has no SQL"},
	{name: "block comment only", set: "block_comment_only", args: []string{"up"}, code: cli.ExitInvalidSource, want: "migrations/000003_to_be_written.down.sql: has no SQL"},
	{name: "version 0", set: "broken/version_zero", args: []string{"up"}, code: cli.ExitInvalidSource, want: "version must be a number from 1 up"},
	{name: "no underscore after the version", set: "no_underscore", args: []string{"up"}, code: cli.ExitInvalidSource, want: "migrations/000003AddPrice.down.sql: not a migration name"},

	// Checksums: exit 13 before anything connects.
	{name: "checksum: applied file edited", set: "checksum_edited", args: []string{"up"}, code: cli.ExitChecksum, want: "migrations/000002_add_note.up.sql: edited"},
	{name: "checksum: file not hashed", set: "checksum_unhashed", args: []string{"up"}, code: cli.ExitChecksum, want: "migrations/000003_add_price.up.sql: added (not in migrations.sum)"},

	// SQL that fails: exit 5, file (and line when PostgreSQL gives a position), the database still
	// at version 2.
	{name: "syntax error", set: "syntax_error", args: []string{"up"}, code: cli.ExitMigration,
		want: `migrations/000003_bad_syntax.up.sql:3:1: ERROR syntax error at or near "CREAT" (SQLSTATE 42601); nothing of it was applied, the database is still at version 2`},
	{name: "division by zero", set: "division_by_zero", args: []string{"up"}, code: cli.ExitMigration,
		want: "migrations/000003_divide.up.sql: ERROR division by zero (SQLSTATE 22012); nothing of it was applied, the database is still at version 2"},
	{name: "missing table", set: "missing_table", args: []string{"up"}, code: cli.ExitMigration,
		want: `migrations/000003_copy_prices.up.sql:2:13: ERROR relation "prices" does not exist (SQLSTATE 42P01)`},
	{name: "unique violation in a data migration", set: "unique_violation", args: []string{"up"}, code: cli.ExitMigration,
		want: `migrations/000003_more_items.up.sql: ERROR duplicate key value violates unique constraint "items_code_key" (SQLSTATE 23505); Key (code)=(a) already exists.; nothing of it was applied`},
	{name: "CONCURRENTLY without the marker", set: "concurrently_in_transaction", args: []string{"up"}, code: cli.ExitMigration,
		want: "migrations/000003_index_notes.up.sql: ERROR CREATE INDEX CONCURRENTLY cannot run inside a transaction block (SQLSTATE 25001)"},
	{name: "statement timeout", set: "statement_timeout", env: []string{"VISIONA_DB_MIGRATION_STATEMENT_TIMEOUT", "200ms"}, args: []string{"up"}, code: cli.ExitMigration,
		want: "migrations/000003_slow.up.sql: ERROR canceling statement due to statement timeout (SQLSTATE 57014)"},
	{name: "BEGIN/COMMIT wrapper, failing inside", set: "begin_commit_wrapper", args: []string{"up"}, code: cli.ExitMigration,
		want: "migrations/000003_wrapped.up.sql: ERROR division by zero (SQLSTATE 22012); nothing of it was applied, the database is still at version 2"},
	{name: "COMMIT in the middle of a migration", set: "commit_midway", args: []string{"up"}, code: cli.ExitMigration, alt: cli.ExitInvalidSource,
		want: "migrations/000003_partial.up.sql:3:1: transaction control in a migration file"},
	{name: "ROLLBACK in a migration", set: "rollback_inside", args: []string{"up"}, code: cli.ExitInvalidSource, alt: cli.ExitMigration,
		want: "migrations/000003_rolled_back.up.sql"},
	{name: "down file fails", set: "down_fails", args: []string{"down", "1"}, code: cli.ExitMigration,
		want: `migrations/000002_add_note.down.sql:2:19: ERROR syntax error at or near "DROPP" (SQLSTATE 42601); nothing of it was applied, the database is still at version 2`},

	// Configuration: exit 3, naming the variable.
	{name: "port not a number", env: []string{"VISIONA_DB_PORT", "abc"}, args: []string{"up"}, code: cli.ExitConfig, want: `VISIONA_DB_PORT: "abc" is not a whole number from 1 to 65535`},
	{name: "port out of range", env: []string{"VISIONA_DB_PORT", "70000"}, args: []string{"status"}, code: cli.ExitConfig, want: `VISIONA_DB_PORT: "70000" is not a whole number`},
	{name: "unknown sslmode", env: []string{"VISIONA_DB_SSLMODE", "maybe"}, args: []string{"up"}, code: cli.ExitConfig, want: `VISIONA_DB_SSLMODE: "maybe" is not one of disable, allow, prefer, require, verify-ca, verify-full`},
	{name: "lock timeout not a duration", env: []string{"VISIONA_DB_LOCK_TIMEOUT", "soon"}, args: []string{"up"}, code: cli.ExitConfig, want: `VISIONA_DB_LOCK_TIMEOUT: "soon" is not a positive duration`},
	{name: "lock timeout zero", env: []string{"VISIONA_DB_LOCK_TIMEOUT", "0s"}, args: []string{"up"}, code: cli.ExitConfig, want: `VISIONA_DB_LOCK_TIMEOUT: "0s" is not a positive duration`},
	{name: "statement timeout not a duration", env: []string{"VISIONA_DB_MIGRATION_STATEMENT_TIMEOUT", "1 hour"}, args: []string{"up"}, code: cli.ExitConfig, want: "VISIONA_DB_MIGRATION_STATEMENT_TIMEOUT"},
	{name: "host unset", env: []string{"VISIONA_DB_HOST", unset}, args: []string{"up"}, code: cli.ExitConfig, want: "database not configured: set VISIONA_DB_HOST, VISIONA_DB_USER and VISIONA_DB_NAME"},
	{name: "user unset", env: []string{"VISIONA_DB_USER", unset}, args: []string{"version"}, code: cli.ExitConfig, want: "(missing: VISIONA_DB_USER)"},
	{name: "name unset", env: []string{"VISIONA_DB_NAME", unset}, args: []string{"up"}, code: cli.ExitConfig, want: "(missing: VISIONA_DB_NAME)"},
	{name: "host with a space", env: []string{"VISIONA_DB_HOST", "localhost port=1"}, args: []string{"up"}, code: cli.ExitConfig, want: "VISIONA_DB_HOST"},
	{name: "unknown log level", env: []string{"VISIONA_LOG_LEVEL", "loud"}, args: []string{"up"}, code: cli.ExitConfig, want: `VISIONA_LOG_LEVEL: "loud" is not one of debug, info, warn, error`},

	// Connecting: exit 4, with the safe target and what to check.
	{name: "wrong password", env: []string{"VISIONA_DB_PASSWORD", "not-the-password"}, args: []string{"up"}, code: cli.ExitConnect, want: `password authentication failed for user "postgres" (SQLSTATE 28P01); check VISIONA_DB_USER and VISIONA_DB_PASSWORD`},
	{name: "nothing listening on the port", env: []string{"VISIONA_DB_PORT", "1"}, args: []string{"up"}, code: cli.ExitConnect, want: "connection refused"},
	{name: "missing database", env: []string{"VISIONA_DB_NAME", "corpus_no_such_db"}, args: []string{"up"}, code: cli.ExitConnect, want: `database "corpus_no_such_db" does not exist (SQLSTATE 3D000)`},

	// Usage: exit 2.
	{name: "no command", args: nil, code: cli.ExitUsage, usage: true, want: "no command given"},
	{name: "unknown command", args: []string{"upgrade"}, code: cli.ExitUsage, usage: true, want: `unknown command "upgrade"`},
	{name: "unknown flag", args: []string{"-verbose", "up"}, code: cli.ExitUsage, usage: true, want: "flag provided but not defined: -verbose"},
	{name: "up with an argument", args: []string{"up", "3"}, code: cli.ExitUsage, usage: true, want: `up takes no arguments, got "3"`},
	{name: "down without a count", args: []string{"down"}, code: cli.ExitUsage, usage: true, want: "down needs a count when not run at a terminal"},
	{name: "down 0", args: []string{"down", "0"}, code: cli.ExitUsage, usage: true, want: `down: "0" is not a count of 1 or more`},
	{name: "goto a word", args: []string{"goto", "latest"}, code: cli.ExitUsage, usage: true, want: `goto: "latest" is not a version number`},
	{name: "force a negative version", args: []string{"force", "-1"}, code: cli.ExitUsage, usage: true, want: `force: "-1" is not a version number`},
	{name: "down more than applied", args: []string{"down", "5"}, code: cli.ExitUsage, want: "down 5, but only 2 migration(s) are applied; use down 2 or down -all"},

	// Versions that no file has: exit 10.
	{name: "force to a version without a file", args: []string{"force", "7"}, code: cli.ExitUnknownVersion, want: "no migration with that version: 7 (the files run from 000001 to 000002"},
	{name: "goto a version without a file", args: []string{"goto", "7"}, code: cli.ExitUnknownVersion, want: "no migration with that version: 7"},

	// Database states.
	{name: "database ahead of the files", state: atV3, args: []string{"up"}, code: cli.ExitDatabaseAhead, want: "database is at version 3 but the newest migration file is 000002"},
	{name: "dirty: up", set: "dirty_no_transaction", state: dirtyV3, args: []string{"up"}, code: cli.ExitDirty, want: "database is dirty at version 3: a migration was interrupted outside a transaction, so only a person can tell what ran; if 000003_index_notes.up.sql was being applied, undo what of it ran and run `migrate force 2`"},
	{name: "dirty: goto", set: "dirty_no_transaction", state: dirtyV3, args: []string{"goto", "1"}, code: cli.ExitDirty, want: "database is dirty at version 3"},
	{name: "dirty: down", set: "dirty_no_transaction", state: dirtyV3, args: []string{"down", "1"}, code: cli.ExitDirty, want: "database is dirty at version 3"},
	{name: "lock held elsewhere", set: "three_good", holdLock: true, env: []string{"VISIONA_DB_LOCK_TIMEOUT", "300ms"}, args: []string{"up"}, code: cli.ExitLockTimeout,
		want: "waiting for the migration lock held by pid HOLDER, corpus-lock-holder", allow: []string{`^time=\S+ level=WARN msg="waiting for the migration lock" .* holder="pid HOLDER, corpus-lock-holder `}},
	{name: "reset a remote host", env: []string{"VISIONA_DB_HOST", "10.1.2.3"}, args: []string{"reset"}, code: cli.ExitRemoteReset, want: "refusing to reset postgres@10.1.2.3:"},
}

// TestBadInput runs every bad-input case as a real migrate process against a database in a known
// state, and checks the contract: the documented exit code, one error line, nothing on stdout,
// the database untouched (schema, version row, history, data).
func TestBadInput(t *testing.T) {
	if len(badCases) < 25 {
		t.Fatalf("%d bad-input cases; the corpus promises at least 25", len(badCases))
	}
	pgServer.Postgres(t) // skips (fails with CI=true) without Docker, before anything is built
	migrateBin(t)        // build before the parallel cases start
	for _, c := range badCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := setDir(t, c.set)
			cfg := newDB(t)
			prepare(t, cfg, c.state)
			env := with(processEnv(cfg), c.env...)
			want := c.want
			var allow []*regexp.Regexp
			if c.holdLock {
				pid := holdLock(t, cfg)
				want = strings.ReplaceAll(want, "HOLDER", pid)
				for _, a := range c.allow {
					allow = append(allow, regexp.MustCompile(strings.ReplaceAll(a, "HOLDER", pid)))
				}
			}

			before := readState(t, cfg)
			p := runMigrate(t, dir, env, c.args...)
			after := readState(t, cfg)

			var broken []string
			if p.code != c.code && (c.alt == 0 || p.code != c.alt) {
				broken = append(broken, fmt.Sprintf("exit %d, want %d", p.code, c.code))
			}
			if p.stdout != "" {
				broken = append(broken, "stdout is not empty")
			}
			broken = append(broken, stderrProblems(p.stderr, want, c.usage, allow)...)
			if d := before.diff(after); d != "" {
				broken = append(broken, "the database changed:\n"+d)
			}
			switch {
			case c.bug == "" && len(broken) > 0:
				t.Errorf("migrate %v in %s:\n%s\n%s", c.args, filepath.Base(dir), strings.Join(broken, "\n"), p)
			case c.bug != "" && len(broken) == 0:
				t.Errorf("known bug %q no longer shows: remove the note from the case", c.bug)
			case c.bug != "":
				t.Skipf("known bug: %s (%s)", c.bug, strings.Join(broken, "; "))
			}
		})
	}
}

// stderrProblems checks the contract for stderr: the error line, then the help hint for usage
// errors, and nothing else but allowed log lines.
func stderrProblems(stderr, want string, usage bool, allow []*regexp.Regexp) []string {
	var out []string
	var errLines, hints int
	for l := range strings.Lines(stderr) {
		l = strings.TrimSuffix(l, "\n")
		switch {
		case strings.HasPrefix(l, "migrate: error: "):
			errLines++
			if !strings.Contains(l, want) {
				out = append(out, fmt.Sprintf("the error line does not contain %q", want))
			}
		case l == "migrate: run `migrate help` for usage" && errLines == 1:
			hints++
		case slices.ContainsFunc(allow, func(re *regexp.Regexp) bool { return re.MatchString(l) }):
		default:
			out = append(out, fmt.Sprintf("unexpected stderr line %q", l))
		}
	}
	if errLines != 1 {
		out = append(out, fmt.Sprintf("%d `migrate: error:` lines on stderr, want 1", errLines))
	}
	if wantHints := map[bool]int{true: 1}[usage]; hints != wantHints {
		out = append(out, fmt.Sprintf("%d help hints after the error line, want %d", hints, wantHints))
	}
	return out
}

// setDir is the absolute folder of a migration set.
func setDir(t *testing.T, set string) string {
	t.Helper()
	rel := filepath.Join("..", "..", "testdata", "badinput", set)
	switch {
	case set == "":
		rel = filepath.Join("..", "..", "testdata", "badinput", "base")
	case strings.HasPrefix(set, "broken/"):
		rel = filepath.Join("..", "..", "testdata", set)
	}
	dir, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// prepare puts the database in the case's starting state, in process.
func prepare(t *testing.T, cfg config.DB, state string) {
	t.Helper()
	set := map[string]string{atV2: "base", atV3: "three_good", dirtyV3: "dirty_no_transaction"}[state]
	m, err := db.New(cfg, os.DirFS(setDir(t, set)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Up(context.Background())
	var me *db.MigrationError
	switch {
	case state == dirtyV3 && errors.As(err, &me) && me.Dirty:
	case state == dirtyV3:
		t.Fatalf("the dirty state needs a failing no-transaction file, got %v", err)
	case err != nil:
		t.Fatal(err)
	}
}

// holdLock takes the migration lock on a session of its own, named corpus-lock-holder, for the
// rest of the test, and returns the holder's pid.
func holdLock(t *testing.T, cfg config.DB) string {
	t.Helper()
	cfg.AppName = "corpus-lock-holder"
	conn := connect(t, cfg)
	t.Cleanup(func() { conn.Close(context.Background()) })
	ctx := context.Background()
	key, err := db.AdvisoryLockKey(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock($1)) l", key).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(pid)
}
