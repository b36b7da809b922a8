// Command visiona-migrate is cmd/migrate for the peer benchmark: the same runner (internal/cli.Run:
// same commands, flags, configuration, output and exit codes), with the migrations read from a
// directory instead of the embedded set, so the harness can hand it a generated history. The
// directory comes first; everything after it is cmd/migrate's command line:
//
//	visiona-migrate -migrations DIR up
//	visiona-migrate -migrations DIR -single-transaction down -all
package main

import (
	"context"
	"fmt"
	"os"

	"visiona-backend/internal/cli"
)

func main() {
	args := os.Args[1:]
	if len(args) < 2 || args[0] != "-migrations" {
		fmt.Fprintln(os.Stderr, "usage: visiona-migrate -migrations DIR <migrate arguments>")
		os.Exit(cli.ExitUsage)
	}
	dir := args[1]
	// No seed data: the benchmark runs up, down and version only.
	os.Exit(cli.Run(context.Background(), cli.OSEnv(cli.Door{Args: args[2:], Migrations: os.DirFS(dir), MigrationsDir: dir})))
}
