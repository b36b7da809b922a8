// Package testdb is `mage testDB`, the pre-merge proof that the schema history is sound: it starts
// PostgreSQL and Redis (or uses existing servers), proves every migration's down reverses its up by
// schema snapshots, checks the committed schema snapshot, and runs the dbtest suites against the
// servers. It removes everything it started or created, also on failure and on Ctrl-C.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/schema"
	"visiona-backend/internal/testenv"
)

// Sentinel errors, one per failure kind, each with its own exit code in internal/cli.
var (
	ErrUnavailable   = errors.New("test servers unavailable")
	ErrRoundTrip     = errors.New("a migration's down does not reverse its up")
	ErrStaleSnapshot = errors.New("committed schema snapshot is stale")
	ErrSuites        = errors.New("dbtest suites failed")
)

// Options says where the servers come from and what to check.
type Options struct {
	Images       testenv.Images
	Servers      config.TestDB // existing servers instead of containers, when set
	Migrations   fs.FS
	SnapshotFile string   // committed snapshot, relative to RepoDir; "" skips the check
	RepoDir      string   // where `go test` runs
	Packages     []string // dbtest packages, default ./...
	NoSuites     bool     // stop after the round trip and snapshot check (TestDB's own tests)
	// Labels are put on the containers, so a caller can find exactly the ones this run made.
	Labels map[string]string
	Out    io.Writer
	// GoTestOut receives the suites' output; Out when nil.
	GoTestOut io.Writer
	// RoundTrip is passed to schema.RoundTrip (-keep-going, -from, -column-order).
	RoundTrip []schema.RoundTripOption
}

// Phase is one line of the summary.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration_ns"`
	Result   string        `json:"result"` // ok, failed, skipped
	Detail   string        `json:"detail,omitempty"`
}

// Server describes a server TestDB used, without credentials.
type Server struct {
	Kind    string        `json:"kind"`
	Version string        `json:"version"`
	Image   string        `json:"image,omitempty"`
	Target  string        `json:"target"`
	Started time.Duration `json:"started_ns"`
}

// Report is what TestDB did; Run returns it also on failure.
type Report struct {
	Servers    []Server      `json:"servers"`
	Migrations int           `json:"migrations"`
	Tests      *Counts       `json:"tests,omitempty"` // the dbtest run's tests, when it ran
	Phases     []Phase       `json:"phases"`
	Total      time.Duration `json:"total_ns"`
	// RoundTrip is the proof's report: every finding and warning, snapshot counts.
	RoundTrip *schema.RoundTripReport `json:"round_trip,omitempty"`
}

func (r *Report) phase(name string, start time.Time, err error, detail string) {
	p := Phase{Name: name, Duration: time.Since(start), Result: "ok", Detail: detail}
	if err != nil {
		p.Result = "failed"
		p.Detail = firstLine(err.Error())
	}
	r.Phases = append(r.Phases, p)
}

func (r *Report) skip(name, why string) {
	r.Phases = append(r.Phases, Phase{Name: name, Result: "skipped", Detail: why})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// run holds what one TestDB run started, so cleanup can remove exactly that.
type run struct {
	opts    Options
	report  *Report
	id      string
	pg      *testenv.Postgres
	redis   *testenv.Redis
	created []string // databases to drop on an existing server
}

// Run performs every phase and always cleans up. The error wraps one of the sentinels above, or
// the migrator's own (a migration whose SQL fails exits like `migrate up` would).
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.GoTestOut == nil {
		opts.GoTestOut = opts.Out
	}
	if len(opts.Packages) == 0 {
		opts.Packages = []string{"./..."}
	}
	idBytes := make([]byte, 4)
	rand.Read(idBytes)
	r := &run{opts: opts, report: &Report{}, id: hex.EncodeToString(idBytes)}
	start := time.Now()
	err := r.phases(ctx)
	r.cleanup()
	r.report.Total = time.Since(start)
	return r.report, err
}

func (r *run) printf(format string, args ...any) {
	fmt.Fprintf(r.opts.Out, "testdb: "+format+"\n", args...)
}

func (r *run) phases(ctx context.Context) error {
	if err := r.startServers(ctx); err != nil {
		return err
	}
	template, err := r.roundTrip(ctx)
	if err != nil {
		return err
	}
	if r.opts.NoSuites {
		r.report.skip("dbtest suites", "not asked for")
		return nil
	}
	return r.suites(ctx, template)
}

func (r *run) startServers(ctx context.Context) error {
	start := time.Now()
	var err error
	switch {
	case r.opts.Servers.PostgresURL != "":
		if r.pg, err = testenv.ConnectPostgres(ctx, r.opts.Servers.PostgresURL); err != nil {
			err = fmt.Errorf("%w: VISIONA_TESTDB_POSTGRES_URL: %v", ErrUnavailable, err)
			break
		}
		if r.opts.Servers.RedisURL == "" {
			err = fmt.Errorf("%w: VISIONA_TESTDB_POSTGRES_URL is set but VISIONA_TESTDB_REDIS_URL is not; set both to use existing servers", ErrUnavailable)
			break
		}
		if r.redis, err = testenv.ConnectRedis(ctx, r.opts.Servers.RedisURL); err != nil {
			err = fmt.Errorf("%w: VISIONA_TESTDB_REDIS_URL: %v", ErrUnavailable, err)
		}
	default:
		if ok, reason := testenv.DockerAvailable(ctx); !ok {
			err = fmt.Errorf("%w: %s; or point TestDB at existing servers with VISIONA_TESTDB_POSTGRES_URL and VISIONA_TESTDB_REDIS_URL", ErrUnavailable, reason)
			break
		}
		r.printf("starting %s and %s", r.opts.Images.Postgres, r.opts.Images.Redis)
		if r.pg, r.redis, err = testenv.StartBoth(ctx, r.opts.Images, testcontainers.WithLabels(r.opts.Labels)); err != nil {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	r.report.phase("start servers", start, err, "")
	if err != nil {
		return err
	}
	r.report.Servers = []Server{
		{Kind: "postgres", Version: r.pg.Version, Image: r.pg.Image, Target: r.pg.SafeTarget("postgres"), Started: r.pg.Started},
		{Kind: "redis", Version: r.redis.Version, Image: r.redis.Image, Target: r.redis.Addr, Started: r.redis.Started},
	}
	for _, s := range r.report.Servers {
		from := "existing server"
		if s.Image != "" {
			from = "image " + s.Image
		}
		r.printf("%-8s %s (%s) at %s, ready in %s", s.Kind, s.Version, from, s.Target, s.Started.Round(time.Millisecond))
	}
	return nil
}

// startPostgres is startServers for PostgreSQL alone.
func (r *run) startPostgres(ctx context.Context) error {
	var err error
	switch {
	case r.opts.Servers.PostgresURL != "":
		if r.pg, err = testenv.ConnectPostgres(ctx, r.opts.Servers.PostgresURL); err != nil {
			return fmt.Errorf("%w: VISIONA_TESTDB_POSTGRES_URL: %v", ErrUnavailable, err)
		}
	default:
		if ok, reason := testenv.DockerAvailable(ctx); !ok {
			return fmt.Errorf("%w: %s; or point it at an existing server with VISIONA_TESTDB_POSTGRES_URL", ErrUnavailable, reason)
		}
		if r.pg, err = testenv.StartPostgres(ctx, r.opts.Images.Postgres, testcontainers.WithLabels(r.opts.Labels)); err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	r.printf("postgres %s at %s, ready in %s", r.pg.Version, r.pg.SafeTarget("postgres"), r.pg.Started.Round(time.Millisecond))
	return nil
}

// createDatabase makes a throwaway database on the server and remembers it for cleanup.
func (r *run) createDatabase(ctx context.Context, name, template string) (config.DB, error) {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if err := r.adminExec(ctx, sql); err != nil {
		return config.DB{}, fmt.Errorf("create database %s: %w", name, err)
	}
	r.created = append(r.created, name)
	cfg, err := config.DBFromURL(r.pg.URL(name))
	if err != nil {
		return config.DB{}, err
	}
	cfg.AppName = "visiona-testdb"
	return cfg, nil
}

func (r *run) adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, r.pg.AdminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", r.pg.SafeTarget("postgres"), errors.Unwrap(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// roundTrip proves every down reverses its up, checks the committed snapshot, and returns the
// database it left at the latest version: the template the suites' databases are cloned from.
func (r *run) roundTrip(ctx context.Context) (string, error) {
	start := time.Now()
	name := "testdb_" + r.id + "_template"
	cfg, err := r.createDatabase(ctx, name, "")
	if err != nil {
		r.report.phase("round trip", start, err, "")
		return "", err
	}
	rt, err := schema.RoundTrip(ctx, cfg, r.opts.Migrations, r.opts.RoundTrip...)
	var rte *schema.RoundTripError
	switch {
	case errors.As(err, &rte):
		err = fmt.Errorf("%w: %w", ErrRoundTrip, err)
	case err != nil:
		err = fmt.Errorf("round trip: %w", err)
	}
	detail := ""
	if rt != nil {
		r.report.Migrations, r.report.RoundTrip = rt.Steps, rt
		for _, w := range rt.Warnings {
			r.printf("round trip: warning: column order: %s", w)
		}
		detail = fmt.Sprintf("%d migrations up, down and up again", rt.Steps)
	}
	r.report.phase("round trip", start, err, detail)
	if err != nil {
		r.printf("round trip failed:\n%s", err)
		return "", err
	}
	r.printf("round trip: %s; every down reverses its up (%s)", detail, time.Since(start).Round(time.Millisecond))

	if err := r.checkSnapshot(rt.Final); err != nil {
		return "", err
	}
	return name, nil
}

func (r *run) checkSnapshot(final *schema.Snapshot) error {
	if r.opts.SnapshotFile == "" {
		r.report.skip("snapshot file", "no file configured")
		return nil
	}
	start := time.Now()
	path := r.opts.RepoDir + "/" + r.opts.SnapshotFile
	data, err := os.ReadFile(path)
	if err != nil {
		err = fmt.Errorf("%w: cannot read %s (%v); write it with `go run mage.go schemaDump` and commit it", ErrStaleSnapshot, r.opts.SnapshotFile, errors.Unwrap(err))
		r.report.phase("snapshot file", start, err, "")
		return err
	}
	committed, err := schema.Parse(string(data))
	if err == nil && !committed.Equal(final) {
		err = fmt.Errorf("%w: %s differs from the schema the migrations build; run `go run mage.go schemaDump` and commit the file:\n%s",
			ErrStaleSnapshot, r.opts.SnapshotFile, schema.FormatDiff(schema.Diff(committed, final)))
	} else if err != nil {
		err = fmt.Errorf("%w: %s: %v; rewrite it with `go run mage.go schemaDump`", ErrStaleSnapshot, r.opts.SnapshotFile, err)
	}
	r.report.phase("snapshot file", start, err, r.opts.SnapshotFile)
	if err != nil {
		r.printf("%s", err)
		return err
	}
	r.printf("schema snapshot %s is current", r.opts.SnapshotFile)
	return nil
}

// suites runs `go test -tags dbtest` with the servers passed by environment; each package clones
// its own database from template (see testenv.DBTestDatabase).
func (r *run) suites(ctx context.Context, template string) error {
	start := time.Now()
	args := append([]string{"test", "-tags", "dbtest", "-count=1"}, r.opts.Packages...)
	r.printf("dbtest suites: go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", append(args, "-json")...)
	cmd.Dir = r.opts.RepoDir
	cmd.Stderr = r.opts.GoTestOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("run go test: %w", err)
	}
	cmd.Env = append(os.Environ(),
		testenv.EnvDBTestPostgresURL+"="+r.pg.AdminURL,
		testenv.EnvDBTestTemplate+"="+template,
		testenv.EnvDBTestRedisURL+"="+r.redis.URL,
		testenv.EnvDBTestRedisPrefix+"=testdb:"+r.id+":",
		// The dbtest packages' own integration tests use this server too instead of starting more.
		testenv.EnvTestPostgresURL+"="+r.pg.AdminURL,
		testenv.EnvRunLabel+"="+r.runLabel(),
	)
	// On Ctrl-C, interrupt rather than kill, and give the test binaries time to stop; whatever
	// containers they still leave, cleanup finds by the run label.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	// A template cannot be cloned while anyone is connected to it: nothing here is.
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run go test: %w", err)
	}
	counts, relayErr := relayTestJSON(stdout, r.opts.GoTestOut)
	err = errors.Join(cmd.Wait(), relayErr)
	r.report.Tests = &counts
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else {
			err = fmt.Errorf("%w: go test exited with %v (see its output above)", ErrSuites, err)
		}
	}
	r.report.phase("dbtest suites", start, err, counts.String())
	return err
}

// runLabel marks the containers the suites start, so cleanup can find those an interrupt left.
func (r *run) runLabel() string { return "testdb-" + r.id }

// cleanup removes what this run started or created, with its own deadline: the run's context
// may already be cancelled.
func (r *run) cleanup() {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if r.pg != nil && r.pg.Image == "" { // an existing server: drop only what we created
		for _, name := range r.created {
			if err := r.adminExec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
				errs = append(errs, fmt.Errorf("drop database %s: %w", name, err))
			}
		}
	}
	removed := 0
	if r.pg != nil && r.pg.Image != "" {
		errs = append(errs, r.pg.Terminate(ctx))
		removed++
	}
	if r.redis != nil && r.redis.Image != "" {
		errs = append(errs, r.redis.Terminate(ctx))
		removed++
	}
	if r.redis != nil && r.redis.Image == "" {
		errs = append(errs, testenv.DeleteRedisPrefix(ctx, r.redis.URL, "testdb:"+r.id+":"))
	}
	if ok, _ := testenv.DockerAvailable(ctx); ok {
		leftovers, err := testenv.RemoveRun(ctx, r.runLabel())
		removed += leftovers
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	detail := fmt.Sprintf("removed %d containers", removed)
	if r.pg != nil && r.pg.Image == "" {
		detail = fmt.Sprintf("dropped %d databases and the run's Redis keys", len(r.created))
	}
	r.report.phase("cleanup", start, err, detail)
	if err != nil {
		r.printf("cleanup: %v", err)
	} else if r.pg != nil || r.redis != nil {
		r.printf("cleanup: %s (%s)", detail, time.Since(start).Round(time.Millisecond))
	}
}

// WriteSnapshot migrates a throwaway database to the latest version and writes its snapshot to
// opts.SnapshotFile: what `mage schemaDump` commits so reviewers see each schema change.
func WriteSnapshot(ctx context.Context, opts Options) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	r := &run{opts: opts, report: &Report{}, id: "dump"}
	defer r.cleanup()
	if err := r.startPostgres(ctx); err != nil {
		return err
	}
	cfg, err := r.createDatabase(ctx, "testdb_dump", "")
	if err != nil {
		return err
	}
	m, err := db.New(cfg, opts.Migrations)
	if err != nil {
		return err
	}
	if _, err := m.Up(ctx); err != nil {
		return err
	}
	conn, err := db.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	snap, err := schema.Take(ctx, conn)
	if err != nil {
		return err
	}
	path := opts.RepoDir + "/" + opts.SnapshotFile
	if err := os.WriteFile(path, []byte(snap.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", opts.SnapshotFile, err)
	}
	r.printf("wrote %s (%d objects)", opts.SnapshotFile, len(snap.Objects))
	return nil
}
