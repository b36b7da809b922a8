// Command testdb is `mage testDB`: it proves the migrations round-trip on real PostgreSQL, checks
// migrations/schema.snapshot, and runs the dbtest suites against PostgreSQL and Redis. With
// -write-snapshot it only writes the snapshot file (`mage schemaDump`). -postgres=14,18 (or
// VISIONA_TESTDB_POSTGRES_VERSIONS) proves the migrations on each listed major in parallel. Run it
// from the repository root. Exit codes are internal/cli's (20-23 for TestDB's own failures).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/config"
	"visiona-backend/internal/lines"
	"visiona-backend/internal/schema"
	"visiona-backend/internal/testdb"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

const snapshotFile = "migrations/schema.snapshot"

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) > 1 && os.Args[1] == testdb.ExecAfterArg {
		return testdb.ExecAfter(os.Args[2:])
	}
	fset := flag.NewFlagSet("testdb", flag.ContinueOnError)
	jsonOut := fset.Bool("json", false, "print the report as one JSON document on stdout (progress goes to stderr)")
	writeSnapshot := fset.Bool("write-snapshot", false, "only write "+snapshotFile+" from the migrations, then exit")
	postgres := fset.String("postgres", "", "PostgreSQL majors to prove the migrations on, in parallel containers: 14,18 or all (default: "+testdb.EnvPostgresVersions+", else the image of "+testenv.EnvPostgresImage+", 14)")
	path := fset.String("path", "", "a folder of migration files to prove instead of the embedded set (also VISIONA_MIGRATIONS_DIR)")
	keepGoing := fset.Bool("keep-going", false, "report every migration whose down does not reverse its up")
	from := fset.Uint("from", 0, "prove only the migrations after this version")
	order := fset.String("column-order", string(schema.ColumnOrderWarn), "what a column order finding does: fail, warn or ignore")
	fset.SetOutput(os.Stderr)
	if err := fset.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return cli.ExitUsage
	}
	if fset.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "testdb: error: unexpected argument %q; run testdb -h\n", fset.Arg(0))
		return cli.ExitUsage
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdb: error: %v\n", err)
		return cli.ExitConfig
	}
	majors, err := testdb.MajorsFromEnv(*postgres, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdb: error: %v\n", err)
		if *postgres != "" {
			return cli.ExitUsage
		}
		return cli.ExitConfig
	}

	// testcontainers narrates every container step; our own lines already say what started, where
	// and how fast, and a failed start carries the container's log in its error.
	tclog.SetDefault(tclog.NewNoopLogger())

	// Ctrl-C and SIGTERM cancel the run; cleanup still removes the containers.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var out io.Writer = os.Stdout
	if *jsonOut {
		out = os.Stderr
	}
	mode, err := schema.ParseColumnOrder(*order)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdb: error: -column-order %q: want fail, warn or ignore\n", *order)
		return cli.ExitUsage
	}
	opts := testdb.Options{
		Images:       testenv.ImagesFromEnv(os.LookupEnv),
		Majors:       majors,
		Servers:      cfg.TestDB,
		Migrations:   migrations.FS,
		SnapshotFile: snapshotFile,
		RepoDir:      ".",
		Out:          out,
		RoundTrip:    []schema.RoundTripOption{schema.WithColumnOrder(mode), schema.WithFrom(*from)},
	}
	if *keepGoing {
		opts.RoundTrip = append(opts.RoundTrip, schema.WithKeepGoing())
	}
	if dir := cmp.Or(*path, cfg.MigrationsDir); dir != "" {
		// Someone's own history: its snapshot is checked when it has one.
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			fmt.Fprintf(os.Stderr, "testdb: error: migrations folder %s (-path or VISIONA_MIGRATIONS_DIR) is not a folder\n", dir)
			return cli.ExitInvalidSource
		}
		// The dbtest suites test this repository's code against its own schema: a folder's
		// history is proven alone.
		opts.Migrations, opts.SnapshotFile, opts.NoSuites = os.DirFS(dir), "", true
		snap := filepath.Join(dir, "schema.snapshot")
		if _, err := os.Stat(snap); err == nil {
			if abs, err := filepath.Abs(snap); err == nil {
				if wd, err := os.Getwd(); err == nil {
					// SnapshotFile is relative to RepoDir, where the suites run.
					opts.SnapshotFile, _ = filepath.Rel(wd, abs)
				}
			}
		}
	}
	if self, err := os.Executable(); err == nil {
		opts.Self = self
	}
	if *writeSnapshot {
		err := testdb.WriteSnapshot(ctx, opts)
		code := cli.ExitCode(err)
		if code == cli.ExitInterrupted {
			err = errors.New("interrupted (Ctrl-C or SIGTERM); the snapshot file was not written")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "testdb: error: %v\n", err)
		}
		return code
	}
	report, err := testdb.Run(ctx, opts)
	code := cli.ExitCode(err)
	if code == cli.ExitInterrupted {
		// The cause is the signal, not a cancelled context: say it in the words of the exit codes.
		err = errors.New("interrupted (Ctrl-C or SIGTERM); cleanup ran, see its row")
	}
	report.WriteSummary(out)
	if *jsonOut {
		if werr := report.WriteJSON(os.Stdout, code, err); werr != nil && code == cli.ExitOK {
			return cli.ExitInternal
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testdb: error: %s (exit %d)\n", lines.First(err.Error()), code)
	}
	return code
}
