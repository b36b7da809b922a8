// Package cli is the command runner behind both doors, cmd/migrate and the magefile: same
// arguments, same output, same exit codes.
//
// Output rules: results on stdout (text, or one JSON document with -json); progress of long work,
// log lines and errors on stderr, errors as one line prefixed "migrate: error: ". Nothing printed
// ever holds a password: connections are shown as config.DB.SafeTarget.
package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/lint"
	"visiona-backend/internal/logger"
)

var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// Env is everything a run may touch, so tests can drive it without a process.
type Env struct {
	Args          []string // after the program name
	Stdin         io.Reader
	Stdout        io.Writer
	Stderr        io.Writer
	Lookup        config.Lookup
	Interactive   bool   // stdin is a terminal: commands may ask before destroying data
	Migrations    fs.FS  // the embedded migration files
	Seed          fs.FS  // the data reset loads after migrating; nil: none
	MigrationsDir string // the on-disk folder `create` writes to
	// LintBaseline: migrations up to this version predate the lint and are not reported.
	LintBaseline uint
}

// OSEnv is the Env of a real process; it is called from main, so it also sizes golang-migrate's
// buffers for the process (see db.SizeEngineBuffers).
func OSEnv(args []string, migrations, seed fs.FS, dir string, lintBaseline uint) Env {
	db.SizeEngineBuffers()
	return Env{Args: args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Lookup: os.LookupEnv,
		Interactive: term.IsTerminal(int(os.Stdin.Fd())), Migrations: migrations, Seed: seed, MigrationsDir: dir, LintBaseline: lintBaseline}
}

const usage = `usage: migrate [-json] <command> [arguments]

commands:
  up              apply every pending migration
  down N          revert the last N migrations (down -all reverts every one)
  goto V          migrate up or down to version V (0: nothing applied)
  force V         record version V as applied and clean, running nothing (after a dirty failure)
  version         print the database's version, dirty flag and pending count
  status          list every migration file as applied or pending
  create NAME     write the next NNNNNN_NAME.up.sql / .down.sql pair into migrations/
  verify          check the migrations against migrations.sum (also done before every up/down)
  lint            check the migration SQL with PostgreSQL's parser for statements that lock or
                  break a live database (file:line rule message; exit 14 on errors)
  hash            rewrite migrations/migrations.sum after editing a migration that never ran
  reset           drop every object in a LOCAL database, migrate up, load the seed data
                  (refused unless the host is loopback or a unix socket, or
                  VISIONA_DB_ALLOW_REMOTE_RESET=true)

flags:
  -json           print results as one JSON document on stdout
  -single-transaction
                  run all the migrations of an up/down/goto in one transaction: all or
                  nothing, one commit (for fresh databases; refuses no-transaction files)

The database comes from the environment only (never a flag):
  VISIONA_DB_HOST, VISIONA_DB_PORT (5432), VISIONA_DB_USER, VISIONA_DB_PASSWORD, VISIONA_DB_NAME,
  VISIONA_DB_SSLMODE (prefer), VISIONA_DB_LOCK_TIMEOUT (30s), VISIONA_LOG_LEVEL (info)

exit codes: 0 ok, 1 internal, 2 usage, 3 configuration, 4 cannot connect, 5 migration failed,
  6 dirty, 7 lock timeout, 8 database ahead of files, 9 invalid migration files,
  10 unknown version, 11 reset refused (remote host), 12 seed failed,
  13 migrations do not match migrations.sum, 14 lint errors, 15 not possible through the
  connection pooler, 16 another migrator moved the database, 130 interrupted
`

// Run executes one command and returns the process exit code.
func Run(ctx context.Context, env Env) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopSignals := cancelOnSignal(cancel, env.Stderr)
	defer stopSignals()

	r := &runner{env: env, out: newPrinter(env.Stdout)}
	err := r.run(ctx)
	code := ExitCode(err)
	if err != nil {
		r.out.fail(code, err)
		msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		fmt.Fprintf(env.Stderr, "migrate: error: %s\n", oneLine(msg))
		if errors.Is(err, errUsage) {
			fmt.Fprintln(env.Stderr, "migrate: run `migrate help` for usage")
		}
	}
	if err := r.out.flush(); err != nil && code == ExitOK {
		fmt.Fprintf(env.Stderr, "migrate: error: write results: %v\n", err)
		return ExitInternal
	}
	return code
}

// cancelOnSignal turns the first SIGINT/SIGTERM into a cancel, which stops between migrations, and
// then restores the default handlers, so a second signal kills the process and PostgreSQL rolls the
// migration in flight back.
func cancelOnSignal(cancel context.CancelFunc, stderr io.Writer) (stop func()) {
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
			signal.Stop(sigs)
			fmt.Fprintln(stderr, "migrate: interrupted: finishing the migration in flight, then stopping (interrupt again to abort it; PostgreSQL rolls it back)")
			cancel()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

type runner struct {
	env Env
	out *printer
	log *slog.Logger
}

func (r *runner) run(ctx context.Context) error {
	fset := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fset.SetOutput(io.Discard) // errors are reported once, by Run, in our format
	jsonOut := fset.Bool("json", false, "print results as JSON")
	singleTx := fset.Bool("single-transaction", false, "run all the migrations of the call in one transaction")
	if err := fset.Parse(r.env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(r.env.Stdout, usage)
			return nil
		}
		return usageErr("%v", err)
	}
	r.out.json = *jsonOut
	args := fset.Args()
	if len(args) == 0 {
		return usageErr("no command given; want one of up, down, goto, force, version, status, create, verify, lint, hash, reset")
	}
	cmd, args := args[0], args[1:]
	r.out.command = cmd
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(r.env.Stdout, usage)
		return nil
	case "create":
		return r.create(args)
	case "hash":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		sums, err := db.WriteSums(r.env.MigrationsDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(&r.out.text, "wrote %s/%s: %d files, total %s\n", r.env.MigrationsDir, db.SumFile, len(sums.Files), sums.Total)
		return nil
	case "verify":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return r.verify()
	case "lint":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return r.lint()
	case "up", "down", "goto", "force", "version", "status", "reset":
	default:
		return usageErr("unknown command %q; want one of up, down, goto, force, version, status, create, verify, lint, hash, reset", cmd)
	}

	cfg, err := config.Load(r.env.Lookup)
	if err != nil {
		return err
	}
	cfg.DB.AppName = cmp.Or(cfg.DB.AppName, "visiona-migrate")
	r.log, err = logger.New(r.env.Stderr, cfg.LogLevel, logger.Text)
	if err != nil {
		return err
	}
	opts := []db.Option{db.WithLogger(r.log), db.WithProgress(r.progress), db.WithPreflight(lint.PrepareFile)}
	if *singleTx {
		opts = append(opts, db.WithSingleTransaction())
	}
	m, err := db.New(cfg.DB, r.env.Migrations, opts...)
	if err != nil {
		return err
	}
	r.out.target = cfg.DB.SafeTarget()

	switch cmd {
	case "up":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return r.migrate(ctx, m, func() ([]db.Result, error) { return m.Up(ctx) })
	case "down":
		return r.down(ctx, m, args)
	case "goto":
		v, err := versionArg(cmd, args)
		if err != nil {
			return err
		}
		return r.migrate(ctx, m, func() ([]db.Result, error) { return m.Goto(ctx, v) })
	case "force":
		v, err := versionArg(cmd, args)
		if err != nil {
			return err
		}
		if err := m.Force(ctx, v); err != nil {
			return err
		}
		return r.version(ctx, m)
	case "version":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return r.version(ctx, m)
	case "reset":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return r.reset(ctx, cfg.DB)
	default: // status
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		r.out.status(st)
		return nil
	}
}

func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments, got %q", cmd, strings.Join(args, " "))
	}
	return nil
}

func versionArg(cmd string, args []string) (uint, error) {
	if len(args) != 1 {
		return 0, usageErr("%s needs exactly one version, e.g. `migrate %s 3`", cmd, cmd)
	}
	v, err := strconv.ParseUint(args[0], 10, 63)
	if err != nil {
		return 0, usageErr("%s: %q is not a version number (0 or more)", cmd, args[0])
	}
	return uint(v), nil
}

// down needs an explicit count: a bare `down` in a script is more likely a mistake than a wish to
// lose a table. At a terminal it asks before reverting one.
func (r *runner) down(ctx context.Context, m *db.Migrator, args []string) error {
	switch {
	case len(args) == 1 && (args[0] == "-all" || args[0] == "--all"):
		return r.migrate(ctx, m, func() ([]db.Result, error) { return m.DownAll(ctx) })
	case len(args) == 1:
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return usageErr("down: %q is not a count of 1 or more (or -all)", args[0])
		}
		return r.migrate(ctx, m, func() ([]db.Result, error) { return m.Down(ctx, n) })
	case len(args) > 1:
		return usageErr("down takes one count or -all, got %q", strings.Join(args, " "))
	}
	if !r.env.Interactive {
		return usageErr("down needs a count when not run at a terminal: `down 1` reverts the last migration, `down -all` every one")
	}
	info, err := m.Version(ctx)
	if err != nil {
		return err
	}
	if info.Version == 0 {
		return usageErr("down: no migration is applied")
	}
	last, _ := m.Source().Find(info.Version)
	fmt.Fprintf(r.env.Stderr, "revert %s on %s? [y/N] ", last.Label(), r.out.target)
	var answer string
	fmt.Fscanln(r.env.Stdin, &answer)
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return usageErr("down: not confirmed; nothing was changed")
	}
	return r.migrate(ctx, m, func() ([]db.Result, error) { return m.Down(ctx, 1) })
}

func (r *runner) migrate(ctx context.Context, m *db.Migrator, op func() ([]db.Result, error)) error {
	results, err := op()
	r.out.doc.results = results
	if err != nil {
		return err
	}
	return r.version(ctx, m)
}

func (r *runner) version(ctx context.Context, m *db.Migrator) error {
	info, err := m.Version(ctx)
	if err != nil {
		return err
	}
	r.out.version(info)
	return nil
}

// progress prints each migration as it commits: on stdout in text mode (it is the result), on
// stderr in JSON mode (stdout holds only the document).
func (r *runner) progress(res db.Result) {
	w := r.env.Stdout
	if r.out.json {
		w = r.env.Stderr
	}
	fmt.Fprintln(w, progressLine(res))
}

// verify checks the embedded set and, in a checkout, the folder on disk, which is what the next
// build will embed.
func (r *runner) verify() error {
	sets := []struct {
		where string
		fsys  fs.FS
	}{{"embedded", r.env.Migrations}}
	if fi, err := os.Stat(r.env.MigrationsDir); err == nil && fi.IsDir() {
		sets = append(sets, struct {
			where string
			fsys  fs.FS
		}{r.env.MigrationsDir + "/", os.DirFS(r.env.MigrationsDir)})
	}
	for _, set := range sets {
		src, err := db.LoadSource(set.fsys)
		if err != nil {
			return err
		}
		if err := db.VerifySums(src, set.fsys); err != nil {
			return err
		}
		fmt.Fprintf(&r.out.text, "%s: %d migrations match %s\n", set.where, len(src.Migrations()), db.SumFile)
	}
	return nil
}

var errLint = errors.New("lint found errors")

// lint checks the folder on disk in a checkout (what the next build embeds), else the embedded set.
func (r *runner) lint() error {
	fsys, where := r.env.Migrations, "embedded migrations"
	if fi, err := os.Stat(r.env.MigrationsDir); err == nil && fi.IsDir() {
		fsys, where = os.DirFS(r.env.MigrationsDir), r.env.MigrationsDir+"/"
	}
	src, err := db.LoadSource(fsys)
	if err != nil {
		return err
	}
	findings, err := lint.Check(src, lint.Baseline(r.env.LintBaseline))
	if err != nil {
		return err
	}
	for i := range findings {
		findings[i].File = "migrations/" + strings.TrimPrefix(findings[i].File, "migrations/")
	}
	if err := lint.Render(findings, &r.out.text); err != nil {
		return err
	}
	errs := 0
	for _, f := range findings {
		if f.Severity == lint.Error {
			errs++
		}
	}
	fmt.Fprintf(&r.out.text, "lint: %d error(s), %d warning(s) in %d migrations of %s", errs, len(findings)-errs, len(src.Migrations()), where)
	if r.env.LintBaseline > 0 {
		fmt.Fprintf(&r.out.text, " (up to %06d written before the lint: not reported)", r.env.LintBaseline)
	}
	fmt.Fprintln(&r.out.text)
	if errs > 0 {
		return fmt.Errorf("%w: %d error(s); see the lines above, or internal/lint/README.md for each rule and its safe form", errLint, errs)
	}
	return nil
}

func (r *runner) reset(ctx context.Context, cfg config.DB) error {
	report, err := db.Reset(ctx, cfg, r.env.Migrations, r.env.Seed, db.WithLogger(r.log), db.WithProgress(r.progress), db.WithPreflight(lint.PrepareFile))
	if report != nil {
		r.out.reset(report)
	}
	return err
}

func (r *runner) create(args []string) error {
	if len(args) != 1 {
		return usageErr("create needs exactly one NAME, e.g. `migrate create add_device_firmware`")
	}
	up, down, err := db.Create(r.env.MigrationsDir, args[0])
	if err != nil {
		return err
	}
	r.out.created(up, down)
	return nil
}
