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
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/term"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/lines"
	"visiona-backend/internal/lint"
	"visiona-backend/internal/logger"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/version"
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
	Interactive   bool          // stdin is a terminal: commands may ask before destroying data
	Migrations    fs.FS         // the embedded migration files
	Seed          fs.FS         // the data reset loads after migrating; nil: none
	MigrationsDir string        // the on-disk folder `create` writes to
	Build         version.Build // what -version reports; OSEnv reads it from the running binary
	// MageTarget is the mage target that called the runner ("" from cmd/migrate): hints then
	// speak mage's syntax.
	MageTarget string
}

// helpHint is where a usage error sends the user, in the words of the door they came in by.
func (e Env) helpHint() string {
	if e.MageTarget != "" {
		return "run `go run mage.go -h " + e.MageTarget + "` for usage"
	}
	return "run `migrate help` for usage"
}

// Door is what a process's entry point (cmd/migrate, a mage target) chooses; OSEnv takes the rest
// of the Env from the process.
type Door struct {
	Args          []string // after the program name
	Migrations    fs.FS    // the migration files
	Seed          fs.FS    // the data reset loads after migrating; nil: none
	MigrationsDir string   // the on-disk folder `create` writes to
	MageTarget    string   // see Env.MageTarget
}

// OSEnv is the Env of a real process: d, with the process's streams, environment, terminal and
// build.
func OSEnv(d Door) Env {
	return Env{Args: d.Args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Lookup: os.LookupEnv,
		Interactive: term.IsTerminal(int(os.Stdin.Fd())), Migrations: d.Migrations, Seed: d.Seed,
		MigrationsDir: d.MigrationsDir, Build: version.Current(), MageTarget: d.MageTarget}
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
  lint [-format=text|json|github|sarif]
                  check the migration SQL with PostgreSQL's parser for statements that lock or
                  break a live database (exit 14 on errors); -format github is the default
                  when GITHUB_ACTIONS=true; migrations/lint.conf holds the baseline, and
                  VISIONA_DB_SERVER_VERSION (e.g. 14) the target server
  hash            rewrite migrations/migrations.sum after editing a migration that never ran
  reset           drop every object in a LOCAL database, migrate up, load the seed data
                  (refused unless the host is loopback or a unix socket, or
                  VISIONA_DB_ALLOW_REMOTE_RESET=true)
  prove [-keep-going] [-from V] [-column-order fail|warn|ignore]
                  prove every down reverses its up, in a throwaway database created on the
                  configured server and dropped after (exit 21 when one does not)
  drift           compare the database, at the latest version, with migrations/schema.snapshot
                  (exit 15 when they differ)

flags:
  -json           print results as one JSON document on stdout
  -version        print this binary's version, commit, Go version and embedded migrations
                  (no database needed; with -json as one document)
  -path DIR       use the migration files in DIR instead of the embedded set
                  (also VISIONA_MIGRATIONS_DIR)
  -single-transaction
                  run all the migrations of an up/down/goto in one transaction: all or
                  nothing, one commit (for fresh databases; refuses no-transaction files)

The database comes from the environment only (never a flag):
  VISIONA_DB_HOST, VISIONA_DB_PORT (5432), VISIONA_DB_USER, VISIONA_DB_PASSWORD, VISIONA_DB_NAME,
  VISIONA_DB_SSLMODE (prefer), VISIONA_DB_LOCK_TIMEOUT (30s), VISIONA_LOG_LEVEL (info)

exit codes: 0 ok, 1 internal, 2 usage, 3 configuration, 4 cannot connect, 5 migration failed,
  6 dirty, 7 lock timeout, 8 database ahead of files, 9 invalid migration files,
  10 unknown version, 11 reset refused (remote host), 12 seed failed,
  13 migrations do not match migrations.sum, 14 lint errors, 15 schema drift,
  16 not possible through the connection pooler, 17 another migrator moved the database,
  21 a down does not reverse its up, 130 interrupted
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
		fmt.Fprintf(env.Stderr, "migrate: error: %s\n", lines.Fold(msg))
		if errors.Is(err, errUsage) {
			fmt.Fprintln(env.Stderr, "migrate: "+env.helpHint())
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
	showVersion := fset.Bool("version", false, "print the build and the embedded migrations")
	path := fset.String("path", "", "a folder of migration files to use instead of the embedded set")
	if err := fset.Parse(r.env.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(r.env.Stdout, usage)
			return nil
		}
		return usageErr("%v", err)
	}
	r.out.json = *jsonOut
	args := fset.Args()
	if *showVersion {
		return r.printVersion(r.env.Build, args)
	}
	if len(args) == 0 {
		return usageErr("no command given; want one of up, down, goto, force, version, status, create, verify, lint, hash, reset, prove, drift")
	}
	cmd, args := args[0], args[1:]
	r.out.command = cmd
	if err := r.useFolder(*path); err != nil {
		return err
	}
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
		sums, err := migfile.WriteSums(r.env.MigrationsDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(&r.out.text, "wrote %s/%s: %d files, total %s\n", r.env.MigrationsDir, migfile.SumFile, len(sums.Files), sums.Total)
		return nil
	case "verify":
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return r.verify()
	case "lint":
		return r.lint(args)
	case "up", "down", "goto", "force", "version", "status", "reset", "prove", "drift":
	default:
		return usageErr("unknown command %q; want one of up, down, goto, force, version, status, create, verify, lint, hash, reset, prove, drift", cmd)
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
	if cmd == "prove" {
		return r.prove(ctx, cfg.DB, args)
	}
	if cmd == "version" && len(args) == 0 {
		// Reads the version only: no file is opened (see db.VersionReader).
		vr, err := db.NewVersionReader(cfg.DB, r.env.Migrations)
		if err != nil {
			return err
		}
		r.out.target = cfg.DB.SafeTarget()
		return r.version(ctx, vr)
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
	case "drift":
		return r.drift(ctx, m, cfg.DB, args)
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

// useFolder points the run at a folder of migration files on disk instead of the embedded set:
// dir (-path), else VISIONA_MIGRATIONS_DIR. Such a folder is someone's existing history: its
// lint baseline is its own lint.conf, and its migrations.sum is checked when it has one (verify
// requires it).
func (r *runner) useFolder(dir string) error {
	if dir == "" {
		cfg, err := config.Load(r.env.Lookup)
		if err != nil {
			return nil // reported by the commands that need the configuration
		}
		dir = cfg.MigrationsDir
	}
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: migrations folder %s (-path or VISIONA_MIGRATIONS_DIR) is not a folder; point it at the folder holding the .up.sql/.down.sql files", migfile.ErrInvalidSource, dir)
	}
	r.env.Migrations, r.env.MigrationsDir = os.DirFS(dir), strings.TrimSuffix(dir, "/")
	return nil
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
		if r.env.MageTarget != "" {
			return usageErr("migrateDown needs a count when not run at a terminal: `go run mage.go migrateDown -steps=1` reverts the last migration, `-all` every one")
		}
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

func (r *runner) version(ctx context.Context, m interface {
	Version(context.Context) (db.VersionInfo, error)
}) error {
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
		src, err := migfile.LoadSource(set.fsys)
		if err != nil {
			return err
		}
		if err := migfile.VerifySums(src, set.fsys); err != nil {
			return err
		}
		fmt.Fprintf(&r.out.text, "%s: %d migrations match %s\n", set.where, len(src.Migrations()), migfile.SumFile)
	}
	return nil
}

var errLint = errors.New("lint found errors")

// lintFormats are the outputs of `lint -format`.
var lintFormats = []string{"text", "json", "github", "sarif"}

// lint checks the folder on disk in a checkout (what the next build embeds), else the embedded set,
// with the baseline of its lint.conf and the target server of VISIONA_DB_SERVER_VERSION.
func (r *runner) lint(args []string) error {
	fset := flag.NewFlagSet("lint", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	format := fset.String("format", "", "text, json, github or sarif")
	if err := fset.Parse(args); err != nil {
		return usageErr("lint: %v", err)
	}
	if fset.NArg() > 0 {
		return usageErr("lint takes no arguments, got %q", strings.Join(fset.Args(), " "))
	}
	lcfg, err := config.LoadLint(r.env.Lookup)
	if err != nil {
		return err
	}
	switch {
	case *format == "" && lcfg.GitHubActions:
		*format = "github"
	case *format == "":
		*format = "text"
	case !slices.Contains(lintFormats, *format):
		return usageErr("lint: -format %q is not one of %s", *format, strings.Join(lintFormats, ", "))
	}
	// Findings name files as the user would open them: under the folder given (-path,
	// VISIONA_MIGRATIONS_DIR, or the checkout's), or the repository's folder for the embedded set.
	fsys, where, folder := r.env.Migrations, "embedded migrations", "migrations"
	if fi, err := os.Stat(r.env.MigrationsDir); err == nil && fi.IsDir() {
		fsys, where, folder = os.DirFS(r.env.MigrationsDir), r.env.MigrationsDir+"/", r.env.MigrationsDir
	}
	src, err := migfile.LoadSource(fsys)
	if err != nil {
		return err
	}
	conf, err := lint.ReadConfig(fsys)
	if err != nil {
		return err
	}
	var target lint.Version
	if lcfg.ServerMajor > 0 {
		target = lint.Version{Major: lcfg.ServerMajor, Minor: lcfg.ServerMinor}
	}
	findings, err := lint.Check(src, lint.Baseline(conf.Baseline), lint.Target(target))
	if err != nil {
		return err
	}
	for i := range findings {
		findings[i].File = folder + "/" + findings[i].File
	}
	report := lint.NewReport(findings, where, len(src.Migrations()), conf.Baseline, target)
	if r.out.json { // `migrate -json lint`: the report inside the command's document
		r.out.doc.Lint = &report
	} else {
		switch *format {
		case "json":
			err = lint.RenderJSON(report, &r.out.text)
		case "sarif":
			err = lint.RenderSARIF(report.Findings, &r.out.text)
		case "github":
			err = lint.RenderGitHub(report.Findings, &r.out.text)
		default:
			err = lint.Render(report.Findings, &r.out.text)
		}
		if err != nil {
			return err
		}
		if *format == "text" || *format == "github" {
			fmt.Fprintln(&r.out.text, lintSummary(report))
		}
	}
	if report.Errors > 0 {
		return fmt.Errorf("%w: %d error(s); see the findings, or internal/lint/README.md for each rule and its safe form", errLint, report.Errors)
	}
	return nil
}

func lintSummary(r lint.Report) string {
	s := fmt.Sprintf("lint: %d error(s), %d warning(s) in %d migrations of %s", r.Errors, r.Warnings, r.Migrations, r.Source)
	if r.Target != "" {
		s += fmt.Sprintf(" for PostgreSQL %s", r.Target)
	}
	if r.Baseline > 0 {
		s += fmt.Sprintf(" (up to %06d written before the lint: not reported)", r.Baseline)
	}
	return s
}

func (r *runner) reset(ctx context.Context, cfg config.DB) error {
	// The header comes before the migrations' progress lines; a refused host prints nothing.
	if !r.out.json && (cfg.IsLocal() || cfg.AllowRemoteReset) {
		fmt.Fprintf(r.env.Stdout, "reset %s\n", cfg.SafeTarget())
	}
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
