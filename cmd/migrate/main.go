// Command migrate applies visionA's embedded schema migrations; `migrate help` lists the commands.
// It is a door into internal/cli, the same runner the magefile uses.
package main

import (
	"context"
	"os"

	"visiona-backend/internal/cli"
	"visiona-backend/migrations"
	"visiona-backend/testdata/seed"
)

func main() {
	os.Exit(cli.Run(context.Background(), cli.OSEnv(cli.Door{
		Args: os.Args[1:], Migrations: migrations.FS, Seed: seed.FS, MigrationsDir: "migrations",
	})))
}
