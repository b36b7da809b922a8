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
	"os"
	"strconv"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"

	"visiona-backend/internal/cli"
	"visiona-backend/migrations"
)

// staticcheckVersion is pinned so lint gives the same answer on every machine.
const staticcheckVersion = "honnef.co/go/tools/cmd/staticcheck@v0.8.2"

// migrate runs one cmd/migrate command in-process and exits with its code. It exits instead of
// returning an error because mage would print "Error: ..." on top of the runner's own one-line
// message, and the two doors must print the same thing.
func migrate(ctx context.Context, jsonOut *bool, args ...string) error {
	if jsonOut != nil && *jsonOut {
		args = append([]string{"-json"}, args...)
	}
	if code := cli.Run(ctx, cli.OSEnv(args, migrations.FS, "migrations")); code != cli.ExitOK {
		os.Exit(code)
	}
	return nil
}

// MigrateUp applies every pending migration to the VISIONA_DB_* database.
//
// One line per migration (direction, version, name, duration), then the new version.
// Environment: VISIONA_DB_HOST, VISIONA_DB_PORT, VISIONA_DB_USER, VISIONA_DB_PASSWORD,
// VISIONA_DB_NAME, VISIONA_DB_SSLMODE, VISIONA_DB_LOCK_TIMEOUT (default 30s).
// Flags: -json prints one JSON document on stdout.
// Example: VISIONA_DB_HOST=localhost VISIONA_DB_USER=visiona VISIONA_DB_NAME=visiona mage migrateUp
func MigrateUp(ctx context.Context, json *bool) error { return migrate(ctx, json, "up") }

// MigrateDown reverts migrations: -steps=N the last N, -all every one.
//
// Without -steps or -all it asks at a terminal before reverting one, and refuses elsewhere (CI).
// Examples: mage migrateDown -steps=1; mage migrateDown -all
// Flags: -steps=N, -all, -json. Environment: as for migrateUp.
func MigrateDown(ctx context.Context, steps *int, all *bool, json *bool) error {
	args := []string{"down"}
	switch {
	case all != nil && *all && steps != nil:
		return mg.Fatal(cli.ExitUsage, "migrate: error: give -steps or -all, not both")
	case all != nil && *all:
		args = append(args, "-all")
	case steps != nil:
		args = append(args, strconv.Itoa(*steps))
	}
	return migrate(ctx, json, args...)
}

// MigrateVersion prints the database's version, dirty flag and pending count.
//
// The first word of the output is the bare version number (0: nothing applied).
// Flags: -json. Environment: as for migrateUp.
func MigrateVersion(ctx context.Context, json *bool) error { return migrate(ctx, json, "version") }

// MigrateStatus lists every migration file as applied, pending or dirty.
//
// Flags: -json. Environment: as for migrateUp.
func MigrateStatus(ctx context.Context, json *bool) error { return migrate(ctx, json, "status") }

// MigrateCreate writes the next migrations/NNNNNN_<name>.up.sql and .down.sql pair.
//
// The name is lowercase snake_case. Example: mage migrateCreate add_device_firmware
func MigrateCreate(ctx context.Context, name string) error {
	return migrate(ctx, nil, "create", name)
}

// MigrateGoto migrates up or down to the given version (0: revert everything).
//
// Example: mage migrateGoto 5. Flags: -json. Environment: as for migrateUp.
func MigrateGoto(ctx context.Context, version int, json *bool) error {
	return migrate(ctx, json, "goto", strconv.Itoa(version))
}

// MigrateForce records a version as applied and clean without running SQL (after a dirty failure).
//
// Check the database by hand first: the error that left it dirty names the file and the version
// to force. Example: mage migrateForce 4. Environment: as for migrateUp.
func MigrateForce(ctx context.Context, version int, json *bool) error {
	return migrate(ctx, json, "force", strconv.Itoa(version))
}

// Build compiles every package and writes the migrate binary to bin/migrate.
func Build(ctx context.Context) error {
	return sh.RunV("go", "build", "-o", "bin/migrate", "./cmd/migrate")
}

// Test runs every test; the integration tests start PostgreSQL in Docker (see README).
//
// Without Docker they skip with a message, except with CI=true, where they fail.
func Test(ctx context.Context) error {
	return sh.RunV("go", "test", "-count=1", "./...")
}

// Lint checks formatting (gofmt), go vet and staticcheck.
func Lint(ctx context.Context) error {
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
	return sh.RunV("go", "run", staticcheckVersion, "./...")
}

// Ci is what CI runs before merge: lint, then every test.
func Ci(ctx context.Context) {
	mg.SerialCtxDeps(ctx, Lint, Test)
}
