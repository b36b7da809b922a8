// Command migratebin is cmd/migrate with its migrations read from a folder instead of the embedded
// set: the reliability corpus builds it once per test binary and points it at generated and broken
// migration sets with CORPUS_MIGRATIONS_DIR. Everything else is cmd/migrate's code path
// (cli.Run over cli.OSEnv); the database comes from the VISIONA_DB_* variables only.
package main

import (
	"context"
	"os"

	"visiona-backend/internal/cli"
)

func main() {
	dir := os.Getenv("CORPUS_MIGRATIONS_DIR")
	os.Exit(cli.Run(context.Background(), cli.OSEnv(cli.Door{Args: os.Args[1:], Migrations: os.DirFS(dir), MigrationsDir: dir})))
}
