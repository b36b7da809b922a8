//go:build mage

// Targets for visionA's database tooling. Run "go run mage.go -l" to list them and
// "go run mage.go -h <target>" for flags, examples and environment variables.
//
// The migrate* targets are doors into internal/cli, the runner behind cmd/migrate: same output,
// same exit codes (see README). The database comes from VISIONA_DB_* variables only.
package main

//mage:multiline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/release"
	"visiona-backend/migrations"
	"visiona-backend/testdata/seed"
)

// staticcheckVersion and actionlintVersion are pinned so lint gives the same answer on every
// machine.
const (
	staticcheckVersion = "honnef.co/go/tools/cmd/staticcheck@v0.8.2"
	actionlintVersion  = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
)

// migrate runs one cmd/migrate command in-process and exits with its code. It exits instead of
// returning an error because mage would print "Error: ..." on top of the runner's own one-line
// message, and the two doors must print the same thing.
func migrate(ctx context.Context, target string, jsonOut *bool, args ...string) error {
	// Mage's own SIGINT handler gives a target 5 s and then exits 1, killing a migration in flight:
	// take it out, so the runner's handler decides (stop between migrations, exit 130).
	signal.Reset(os.Interrupt)
	if jsonOut != nil && *jsonOut {
		args = append([]string{"-json"}, args...)
	}
	runCLI(ctx, target, args...)
	return nil
}

// runCLI runs one cmd/migrate command in-process, as the mage target named, and exits with its code
// when it fails.
func runCLI(ctx context.Context, target string, args ...string) {
	env := cli.OSEnv(cli.Door{Args: args, Migrations: migrations.FS, Seed: seed.FS, MigrationsDir: "migrations", MageTarget: target})
	if code := cli.Run(ctx, env); code != cli.ExitOK {
		os.Exit(code)
	}
}

// MigrateUp applies every pending migration to the VISIONA_DB_* database.
//
// One line per migration (direction, version, name, duration), then the new version.
// Environment: VISIONA_DB_HOST, VISIONA_DB_PORT, VISIONA_DB_USER, VISIONA_DB_PASSWORD,
// VISIONA_DB_NAME, VISIONA_DB_SSLMODE, VISIONA_DB_LOCK_TIMEOUT (default 30s).
// Flags: -json prints one JSON document on stdout; -singleTransaction runs every migration in one
// transaction (all or nothing, one commit: for fresh databases).
// Example: VISIONA_DB_HOST=localhost VISIONA_DB_USER=visiona VISIONA_DB_NAME=visiona mage migrateUp
func MigrateUp(ctx context.Context, json *bool, singleTransaction *bool) error {
	if singleTransaction != nil && *singleTransaction {
		return migrate(ctx, "migrateUp", json, "-single-transaction", "up")
	}
	return migrate(ctx, "migrateUp", json, "up")
}

// MigrateDown reverts migrations: -steps=N the last N, -all every one.
//
// Without -steps or -all it asks at a terminal before reverting one, and refuses elsewhere (CI).
// Examples: mage migrateDown -steps=1; mage migrateDown -all
// Flags: -steps=N, -all, -json. Environment: as for migrateUp.
func MigrateDown(ctx context.Context, steps *int, all *bool, json *bool) error {
	args := []string{"down"}
	// Both given go through as both, so the runner rejects them in its own words and exit code.
	if all != nil && *all {
		args = append(args, "-all")
	}
	if steps != nil {
		args = append(args, strconv.Itoa(*steps))
	}
	return migrate(ctx, "migrateDown", json, args...)
}

// MigrateVersion prints the database's version, dirty flag and pending count.
//
// The first word of the output is the bare version number (0: nothing applied).
// Flags: -json. Environment: as for migrateUp.
func MigrateVersion(ctx context.Context, json *bool) error {
	return migrate(ctx, "migrateVersion", json, "version")
}

// MigrateStatus lists every migration file as applied, pending or dirty.
//
// Flags: -json. Environment: as for migrateUp.
func MigrateStatus(ctx context.Context, json *bool) error {
	return migrate(ctx, "migrateStatus", json, "status")
}

// MigrateCreate writes the next migrations/NNNNNN_<name>.up.sql and .down.sql pair.
//
// The name is lowercase snake_case. Example: mage migrateCreate add_device_firmware
func MigrateCreate(ctx context.Context, name string) error {
	return migrate(ctx, "migrateCreate", nil, "create", name)
}

// MigrateHash rewrites migrations/migrations.sum after a migration that never ran was edited.
//
// Every up, down and goto, and lint, check the files against it first (exit 13 on a mismatch), so
// an applied migration cannot change unnoticed. migrateCreate updates it by itself.
func MigrateHash(ctx context.Context) error { return migrate(ctx, "migrateHash", nil, "hash") }

// MigrateGoto migrates up or down to the given version (0: revert everything).
//
// Example: mage migrateGoto 5. Flags: -json. Environment: as for migrateUp.
func MigrateGoto(ctx context.Context, version int, json *bool) error {
	return migrate(ctx, "migrateGoto", json, "goto", strconv.Itoa(version))
}

// MigrateForce records a version as applied and clean without running SQL (after a dirty failure).
//
// Check the database by hand first: the error that left it dirty names the file and the version
// to force. Example: mage migrateForce 4. Environment: as for migrateUp.
func MigrateForce(ctx context.Context, version int, json *bool) error {
	return migrate(ctx, "migrateForce", json, "force", strconv.Itoa(version))
}

// DbReset empties the local VISIONA_DB_* database, migrates it up and loads testdata/seed.
//
// Drops every object in the database (not the database itself), runs every migration and loads
// the seed files in one transaction, then prints what it dropped, applied and inserted.
// Refuses unless VISIONA_DB_HOST is loopback or a unix socket directory; set
// VISIONA_DB_ALLOW_REMOTE_RESET=true to override (exit 11 when refused, 12 when a seed fails).
// Flags: -json. Example: VISIONA_DB_HOST=localhost VISIONA_DB_USER=visiona VISIONA_DB_NAME=visiona mage dbReset
func DbReset(ctx context.Context, json *bool) error { return migrate(ctx, "dbReset", json, "reset") }

// Build writes bin/migrate, reproducibly, and prints what it carries (migrate -version).
//
// -trimpath, and the commit from git: Go records it when building in a git clone (not in a git
// worktree, where the binary says "devel"). cgo stays on, so the lint works; a static binary that
// migrates but cannot lint: CGO_ENABLED=0 go run mage.go build.
func Build(ctx context.Context) error {
	_, err := release.Build(ctx, releaseOptions())
	return releaseExit("build", err)
}

// Release builds dist/migrate-<version>-<os>-<arch> for linux/amd64, linux/arm64, darwin/arm64, and SHA256SUMS.
//
// <version> is the commit's tag, else its first 12 hex digits, with -dirty when the tree has
// uncommitted changes (built anyway, with a warning). The native platform is built with cgo and
// carries the lint; the others are cross-compiled without cgo (PostgreSQL's parser is C and would
// need their C toolchains), so their `migrate lint` says it needs cgo. Writes nothing outside dist/.
// Exit 25 when Go recorded no commit (not a git clone, or a git worktree).
func Release(ctx context.Context) error {
	_, err := release.Release(ctx, releaseOptions())
	return releaseExit("release", err)
}

// Image builds the migration image visiona/migrate:<version> (and :latest) with the local Docker engine.
//
// The static linux binary (CGO_ENABLED=0, no lint) on an empty base (build/image/Dockerfile): no
// registry needed. Runs as uid 65532, entrypoint /migrate, default command up; configuration only
// from VISIONA_DB_* at run time. Exit 24 when no Docker engine answers, 25 when Go recorded no commit.
// Example: docker run --rm --network host -e VISIONA_DB_HOST=localhost -e VISIONA_DB_USER=visiona -e VISIONA_DB_PASSWORD -e VISIONA_DB_NAME=visiona visiona/migrate:latest up
func Image(ctx context.Context) error {
	_, err := release.BuildImage(ctx, releaseOptions(), release.DefaultRepository)
	return releaseExit("image", err)
}

func releaseOptions() release.Options {
	return release.Options{Dir: ".", Stdout: os.Stdout, Stderr: os.Stderr}
}

// releaseExit prints a known failure as one line and exits with its documented code (mage's own
// handler would print "Error: ..." and exit 1).
func releaseExit(target string, err error) error {
	code := cli.ExitInternal
	switch {
	case err == nil:
		return nil
	case errors.Is(err, release.ErrNoDocker):
		code = cli.ExitNoDocker
	case errors.Is(err, release.ErrNoCommit):
		code = cli.ExitNoCommit
	}
	fmt.Fprintf(os.Stderr, "mage %s: error: %v\n", target, err)
	os.Exit(code)
	return nil
}

// Test runs the tool's own tests (every package, the reliability corpus's short form included);
// the integration tests start PostgreSQL in Docker (see README). The suites written against
// visionA's schema (the dbtest build tag) are testDB's.
//
// Without Docker or their images they skip with a message, except with CI=true, where they fail.
func Test(ctx context.Context) error {
	return sh.RunV("go", "test", "-count=1", "./...")
}

// Lint checks the migrations (migrations.sum, then their SQL with PostgreSQL's parser), then the Go
// code: gofmt, go vet and staticcheck, then .github/workflows with actionlint.
//
// The SQL lint prints file:line rule message for statements that lock or break a live database;
// see internal/lint/README.md for the rules and -- lint:ignore <rule> <reason>.
// Flags: -format text|json|github|sarif (github by default when GITHUB_ACTIONS=true).
// Environment: VISIONA_DB_SERVER_VERSION (e.g. 14) makes the version-dependent rules exact.
func Lint(ctx context.Context, format *string) error {
	lintArgs := []string{"lint"}
	if format != nil && *format != "" {
		lintArgs = append(lintArgs, "-format="+*format)
	}
	runCLI(ctx, "lint", "verify")
	runCLI(ctx, "lint", lintArgs...)
	out, err := sh.Output("gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if out != "" {
		return mg.Fatalf(1, "gofmt would change these files (run gofmt -w):\n%s", out)
	}
	if err := sh.RunV("go", "vet", "./..."); err != nil {
		return err
	}
	if err := sh.RunV("go", "run", staticcheckVersion, "./..."); err != nil {
		return err
	}
	return sh.RunV("go", "run", actionlintVersion)
}

// TestDB proves the migrations on real PostgreSQL and Redis: the pre-merge check.
//
// Starts one PostgreSQL container per major asked for (default: 14, production's) and Redis, in
// parallel; on each PostgreSQL walks every migration up and down comparing schema snapshots (each
// down must restore exactly what its up changed) and checks that migrations/schema.snapshot is
// current; then runs the dbtest suites (the tests written against visionA's schema, build tag
// dbtest) on the first, each package in its own database cloned from a migrated template; removes
// the containers (also on failure and Ctrl-C), and prints a summary table, a row per major.
// Flags: -postgres=14,18 (or all: 14 to 18) the majors to prove; -json prints the report as JSON.
// Environment: VISIONA_TESTDB_POSTGRES_VERSIONS (as -postgres), VISIONA_TESTDB_POSTGRES_IMAGE
// (postgres:14-alpine; another major's image is its tag's number replaced),
// VISIONA_TESTDB_REDIS_IMAGE (redis:7-alpine); VISIONA_TESTDB_POSTGRES_URL and
// VISIONA_TESTDB_REDIS_URL to use existing servers instead of Docker (TestDB then works in
// throwaway databases it creates and drops).
// Examples: mage testDB; mage testDB -postgres=14,18; mage testDB -postgres=all
// Exit codes: 20 no servers, 21 a down does not reverse its up, 22 stale snapshot, 23 suites failed.
func TestDB(ctx context.Context, json *bool, postgres *string) error {
	var args []string
	if json != nil && *json {
		args = append(args, "-json")
	}
	if postgres != nil && *postgres != "" {
		args = append(args, "-postgres="+*postgres)
	}
	return runTool(ctx, "testdb", args...)
}

// SchemaDump writes migrations/schema.snapshot from the migrations (commit it with them).
//
// Starts PostgreSQL like testDB (or uses VISIONA_TESTDB_POSTGRES_URL), migrates a throwaway
// database up and writes its schema snapshot, which testDB then checks on every run.
func SchemaDump(ctx context.Context) error {
	return runTool(ctx, "testdb", "-write-snapshot")
}

// runTool builds ./cmd/<name> and runs it with the terminal's stdio, exiting with its exit code
// (mage's own error handling would print a second message and lose the code).
func runTool(ctx context.Context, name string, args ...string) error {
	bin := filepath.Join("bin", name)
	if err := sh.Run("go", "build", "-o", bin, "./cmd/"+name); err != nil {
		return err
	}
	// Ctrl-C reaches the tool from the terminal; mage must neither die of it nor give the tool
	// only 5 s to remove its containers: it ignores SIGINT and waits, and passes SIGTERM on.
	signal.Ignore(os.Interrupt)
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	go func() {
		for sig := range term {
			_ = cmd.Process.Signal(sig)
		}
	}()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			os.Exit(exit.ExitCode())
		}
		return err
	}
	return nil
}

// Ci is what CI runs before merge: lint, the tool's tests, then testDB on PostgreSQL 14 and 18.
//
// Every test runs once: `test` the tool's, testDB the dbtest suites. VISIONA_TESTDB_POSTGRES_VERSIONS
// replaces the majors (all: the long form, 14 to 18).
func Ci(ctx context.Context) {
	mg.SerialCtxDeps(ctx, lintDefault, Test, testDBCI)
}

// lintDefault is Lint with its default format, as a dependency (mage deps take no flags).
func lintDefault(ctx context.Context) error { return Lint(ctx, nil) }

// ciMajors are the majors `mage ci` proves: production's and the newest.
const ciMajors = "14,18"

func testDBCI(ctx context.Context) error {
	majors := ciMajors
	if v := os.Getenv("VISIONA_TESTDB_POSTGRES_VERSIONS"); v != "" {
		majors = v
	}
	return TestDB(ctx, nil, &majors)
}

// Bench times our migrate CLI against golang-migrate, goose, dbmate and psql.
//
// Builds the peers at pinned versions into ~/.cache/visiona-bench (VISIONA_BENCH_CACHE), starts a
// throwaway PostgreSQL 15 (Debian's postgresql-15, fsync on), and times up, version and down of
// 100 and 1000 generated migrations per tool as whole processes, interleaved, on a fresh database
// per run; prints medians, min–max, peak memory, ratios to ours and the speed targets, and writes
// the samples as JSON under the cache. 3 minutes on the 2-core dev VM (under 10 with a slow disk).
// Logic: bench/peers.
// Flags: -quick (N=100, 1 round: a smoke test), -rounds=N (5), -writeDocs (also rewrite
// docs/benchmarks.md and docs/benchmarks.png), -flushDelay=1ms (every WAL flush of the throwaway
// server that much slower: a slow disk; with -writeDocs, docs/benchmarks-slow-flush.*).
// More: go run ./bench/peers/cmd/peerbench -h.
// Environment: VISIONA_BENCH_CACHE; VISIONA_BENCH_POSTGRES_URL (a superuser URL) to use that
// server instead of a throwaway one.
// Examples: mage bench -quick; mage bench -writeDocs; mage bench -flushDelay=1ms -writeDocs
func Bench(ctx context.Context, quick *bool, rounds *int, writeDocs *bool, flushDelay *string) error {
	args := []string{"run", "./bench/peers/cmd/peerbench"}
	command := "go run mage.go bench"
	if quick != nil && *quick {
		args, command = append(args, "-quick"), command+" -quick"
	}
	if rounds != nil {
		flag := "-rounds=" + strconv.Itoa(*rounds)
		args, command = append(args, flag), command+" "+flag
	}
	if flushDelay != nil {
		args, command = append(args, "-flush-delay="+*flushDelay), command+" -flushDelay="+*flushDelay
	}
	if writeDocs != nil && *writeDocs {
		args, command = append(args, "-write-docs"), command+" -writeDocs"
	}
	return sh.RunV("go", append(args, "-command="+command)...)
}

// Corpus runs the reliability corpus in its long form: 50 race rounds, 50 kills, bad input, fuzz seeds.
//
// Real migrate processes against PostgreSQL in Docker (internal/reliability): 8 migrators racing
// `up`, `up` killed with SIGKILL at random moments, every bad input with its exit code, and the
// password fuzz seeds. `go test ./internal/reliability/` runs the short form (5 rounds, 10 kills).
// Fuzz for real with: go test -run '^$' -fuzz FuzzPasswordNeverPrinted ./internal/reliability/
func Corpus(ctx context.Context) error {
	return sh.RunWithV(map[string]string{"VISIONA_CORPUS_LONG": "1"}, "go", "test", "-count=1", "-timeout", "30m", "-v", "./internal/reliability/")
}
