// Package testdb is `mage testDB`, the pre-merge proof that the schema history is sound: it starts
// PostgreSQL (one container per major asked for) and Redis, or uses existing servers, proves on
// every PostgreSQL that each migration's down reverses its up by schema snapshots, checks the
// committed schema snapshot there, and runs the dbtest suites (the tests written against visionA's
// schema, see FindSuites) against the first. It removes everything it started or created, also on
// failure and on Ctrl-C.
package testdb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/lines"
	"visiona-backend/internal/lint"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/postgres"
	"visiona-backend/internal/schema"
	"visiona-backend/internal/testenv"
)

// Sentinel errors, one per failure kind, each carrying its exit code for cli.ExitCode.
var (
	ErrUnavailable   error = &cli.CodedError{Msg: "test servers unavailable", Code: cli.ExitTestServers}
	ErrRoundTrip     error = &cli.CodedError{Msg: "a migration's down does not reverse its up", Code: cli.ExitRoundTrip}
	ErrStaleSnapshot error = &cli.CodedError{Msg: "committed schema snapshot is stale", Code: cli.ExitStaleSnapshot}
	ErrSuites        error = &cli.CodedError{Msg: "dbtest suites failed", Code: cli.ExitSuites}
)

// Options says where the servers come from and what to check.
type Options struct {
	Images testenv.Images
	// Majors are the PostgreSQL majors to prove the migrations on, each in its own container
	// (Images.PostgresMajor), all in parallel; the suites run on the first. Empty: Images.Postgres
	// alone. Ignored with an existing server, which is proved as it is.
	Majors       []int
	Servers      config.TestDB // existing servers instead of containers, when set
	Migrations   fs.FS
	SnapshotFile string // committed snapshot, relative to RepoDir; "" skips the check
	RepoDir      string // where `go test` runs
	// Suites selects the tests to run; FindSuites(RepoDir) when nil.
	Suites   *Suites
	NoSuites bool // stop after the round trip and snapshot check (TestDB's own tests)
	// Self is the path of a program that calls ExecAfter when its first argument is ExecAfterArg
	// (cmd/testdb). When set, the suites are built while the servers start (see ExecAfter).
	Self string
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
	Postgres string        `json:"postgres,omitempty"` // the major it ran on, for per-server phases
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
	r.Phases = append(r.Phases, newPhase(name, "", start, err, detail))
}

func newPhase(name, postgres string, start time.Time, err error, detail string) Phase {
	p := Phase{Name: name, Postgres: postgres, Duration: time.Since(start), Result: "ok", Detail: detail}
	if err != nil {
		p.Result = "failed"
		p.Detail = lines.First(err.Error())
	}
	return p
}

func (r *Report) skip(name, why string) {
	r.Phases = append(r.Phases, Phase{Name: name, Result: "skipped", Detail: why})
}

// run holds what one TestDB run started, so cleanup can remove exactly that.
type run struct {
	opts    Options
	report  *Report
	id      string
	targets []*target // one per PostgreSQL; the suites run on the first
	redis   *testenv.Redis
	outMu   sync.Mutex // the targets' goroutines print concurrently
	tmpDir  string     // the early suites' environment file, removed at cleanup
}

// target is one PostgreSQL server the migrations are proved on.
type target struct {
	pg       *testenv.Postgres // nil until ready is closed, and after a failed start
	ready    chan struct{}     // closed when the server's start ended
	major    string            // from the server's version, for the summary and progress lines
	template string            // database left at the latest version by the round trip
	steps    int               // migrations the round trip walked
	proof    *schema.RoundTripReport
	created  []string // databases to drop on an existing server
	phases   []Phase  // this server's phases, merged into the report in the targets' order
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
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintf(r.opts.Out, "testdb: "+format+"\n", args...)
}

// tprintf prints a line about one server, prefixed by its major when there are several.
func (r *run) tprintf(t *target, format string, args ...any) {
	if len(r.targets) > 1 {
		format = "postgres " + t.major + ": " + format
	}
	r.printf(format, args...)
}

func (r *run) phases(ctx context.Context) error {
	var early *suiteRun
	if !r.opts.NoSuites && r.opts.Self != "" && !strings.ContainsAny(r.opts.Self, " \t'\"") {
		suites, err := r.findSuites()
		if err == nil && len(suites.Tests) > 0 {
			early, err = r.startSuites(ctx, suites, nil)
		}
		if err != nil {
			r.report.Phases = append(r.report.Phases, newPhase("dbtest suites", "", time.Now(), err, ""))
			return err
		}
	}
	st, err := r.startServers(ctx)
	if err != nil {
		r.report.phase("start servers", st.begin, err, "")
		if early != nil {
			early.abort()
		}
		return err
	}
	// Each server's proof begins as soon as that server answers, and the suites need only the
	// first server's proof and Redis: on a small machine the other majors' starts and proofs
	// then overlap the suites instead of delaying them.
	proofCtx, cancelProofs := context.WithCancel(ctx)
	defer cancelProofs()
	firstDone := make(chan error, 1)
	proved := make(chan error, 1)
	go func() { proved <- r.prove(proofCtx, firstDone) }()
	first := <-firstDone
	<-st.redisDone
	var suitesErr error
	switch {
	case first != nil || r.redis == nil: // the first server's proof failed, or a start did
		if early != nil {
			early.abort()
		}
	case r.opts.NoSuites:
		r.report.skip("dbtest suites", "not asked for")
	default:
		suitesErr = r.suites(ctx, r.targets[0], early)
	}
	suitePhases := slices.Clone(r.report.Phases)
	r.report.Phases = r.report.Phases[:0]
	startErr := r.startsEnded(st)
	if startErr != nil {
		cancelProofs() // the run fails anyway: the servers that did start need not finish
	}
	proofErr := <-proved
	// The summary lists the start, then the proofs, then the suites, whatever finished first.
	for _, t := range r.targets {
		r.report.Phases = append(r.report.Phases, t.phases...)
		r.report.Migrations = max(r.report.Migrations, t.steps)
		if r.report.RoundTrip == nil { // the first major's findings; the others' phases say theirs
			r.report.RoundTrip = t.proof
		}
	}
	r.report.Phases = append(r.report.Phases, suitePhases...)
	switch {
	case startErr != nil:
		return startErr
	case proofErr != nil:
		return proofErr // its exit code (21, 22) says more than the suites'
	}
	return suitesErr
}

// errNotStarted is a proof's outcome when its server did not start (the start's error says why).
var errNotStarted = errors.New("server not started")

// prove runs the round trip and the snapshot check on every server in parallel, each as soon as
// its server answers; firstDone gets the first server's outcome as soon as it is known. The
// phases stay on the targets.
func (r *run) prove(ctx context.Context, firstDone chan<- error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(r.targets))
	for i, t := range r.targets {
		wg.Go(func() {
			<-t.ready
			if t.pg == nil {
				errs[i] = errNotStarted
			} else {
				errs[i] = r.roundTrip(ctx, t)
			}
			if i == 0 {
				firstDone <- errs[i]
			}
			if errs[i] != nil && len(r.targets) > 1 {
				errs[i] = fmt.Errorf("PostgreSQL %s: %w", t.major, errs[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// postgresImages are the images to start: one per major asked for, or the configured one.
func (r *run) postgresImages() ([]string, error) {
	if len(r.opts.Majors) == 0 {
		return []string{r.opts.Images.Postgres}, nil
	}
	var images []string
	for _, major := range r.opts.Majors {
		image, err := r.opts.Images.PostgresMajor(major)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		images = append(images, image)
	}
	return images, nil
}

// addTarget adds a server that is already there.
func (r *run) addTarget(pg *testenv.Postgres) {
	t := &target{pg: pg, ready: make(chan struct{})}
	t.setMajor()
	close(t.ready)
	r.targets = append(r.targets, t)
}

func (t *target) setMajor() { t.major = strconv.Itoa(majorOf(t.pg.Version)) }

func majorList(majors []int) string {
	s := make([]string, len(majors))
	for i, m := range majors {
		s[i] = strconv.Itoa(m)
	}
	return strings.Join(s, ",")
}

// starts are the servers' starts under way: each target's ready is closed when its own ends.
type starts struct {
	begin     time.Time
	redisDone chan struct{} // closed when Redis's start ended (r.redis is set if it succeeded)
	done      chan struct{} // closed when every start ended
	end       time.Time     // when the last start ended, once done is closed
	errs      []error       // every start's error, once done is closed
}

// startServers starts the containers in parallel and returns at once (existing servers: once
// they answer). The error is about what could not even be tried (no Docker, unknown major);
// startsEnded waits for the starts and says how they went.
func (r *run) startServers(ctx context.Context) (*starts, error) {
	st := &starts{begin: time.Now(), redisDone: make(chan struct{}), done: make(chan struct{})}
	if r.opts.Servers.PostgresURL != "" {
		defer func() {
			st.end = time.Now()
			close(st.done)
		}()
		close(st.redisDone)
		pg, err := testenv.ConnectPostgres(ctx, r.opts.Servers.PostgresURL)
		if err != nil {
			return st, fmt.Errorf("%w: VISIONA_TESTDB_POSTGRES_URL: %v", ErrUnavailable, err)
		}
		r.addTarget(pg)
		if len(r.opts.Majors) > 0 {
			r.printf("VISIONA_TESTDB_POSTGRES_URL names one server: proving PostgreSQL %s there; the majors asked for (%s) need containers", r.targets[0].major, majorList(r.opts.Majors))
		}
		if r.opts.Servers.RedisURL == "" {
			return st, fmt.Errorf("%w: VISIONA_TESTDB_POSTGRES_URL is set but VISIONA_TESTDB_REDIS_URL is not; set both to use existing servers", ErrUnavailable)
		}
		if r.redis, err = testenv.ConnectRedis(ctx, r.opts.Servers.RedisURL); err != nil {
			return st, fmt.Errorf("%w: VISIONA_TESTDB_REDIS_URL: %v", ErrUnavailable, err)
		}
		r.printServer(pg.Version, "", pg.SafeTarget("postgres"), pg.Started, "postgres")
		r.printServer(r.redis.Version, "", r.redis.Addr, r.redis.Started, "redis")
		return st, nil
	}
	if ok, reason := testenv.DockerAvailable(ctx); !ok {
		return st, fmt.Errorf("%w: %s; or point TestDB at existing servers with VISIONA_TESTDB_POSTGRES_URL and VISIONA_TESTDB_REDIS_URL", ErrUnavailable, reason)
	}
	images, err := r.postgresImages()
	if err != nil {
		return st, err
	}
	r.printf("starting %s and %s", strings.Join(images, ", "), r.opts.Images.Redis)
	// Not cancelled: Docker creates a container whose create request was cancelled all the same,
	// and nobody would then remove it; cleanup removes every container that did start.
	label := testcontainers.WithLabels(r.opts.Labels)
	st.errs = make([]error, len(images)+1)
	var wg sync.WaitGroup
	for i, image := range images {
		t := &target{ready: make(chan struct{})}
		r.targets = append(r.targets, t)
		first := r.targets[0]
		wg.Go(func() {
			defer close(t.ready)
			if i > 0 {
				// The first server is on the suites' path: on two cores, containers starting
				// together take several times as long each, so the others wait for it.
				<-first.ready
			}
			pg, err := testenv.StartPostgres(ctx, image, label)
			if err != nil {
				st.errs[i] = err
				return
			}
			t.pg = pg
			t.setMajor()
			r.printServer(pg.Version, pg.Image, pg.SafeTarget("postgres"), pg.Started, "postgres")
		})
	}
	wg.Go(func() {
		defer close(st.redisDone)
		rd, err := testenv.StartRedis(ctx, r.opts.Images.Redis, label)
		if err != nil {
			st.errs[len(images)] = err
			return
		}
		r.redis = rd
		r.printServer(rd.Version, rd.Image, rd.Addr, rd.Started, "redis")
	})
	go func() {
		wg.Wait()
		if err := errors.Join(st.errs...); err != nil {
			st.errs = []error{fmt.Errorf("%w: %w", ErrUnavailable, err)}
		}
		st.end = time.Now()
		close(st.done)
	}()
	return st, nil
}

func (r *run) printServer(version, image, target string, started time.Duration, kind string) {
	from := "existing server"
	if image != "" {
		from = "image " + image
	}
	r.printf("%-8s %s (%s) at %s, ready in %s", kind, version, from, target, started.Round(time.Millisecond))
}

// startsEnded waits for every start, then records the phase and the servers in the report.
func (r *run) startsEnded(st *starts) error {
	<-st.done
	err := errors.Join(st.errs...)
	p := newPhase("start servers", "", st.begin, err, "")
	p.Duration = st.end.Sub(st.begin)
	r.report.Phases = append(r.report.Phases, p)
	for _, t := range r.targets {
		if t.pg != nil {
			r.report.Servers = append(r.report.Servers, Server{Kind: "postgres", Version: t.pg.Version, Image: t.pg.Image, Target: t.pg.SafeTarget("postgres"), Started: t.pg.Started})
		}
	}
	if r.redis != nil {
		r.report.Servers = append(r.report.Servers, Server{Kind: "redis", Version: r.redis.Version, Image: r.redis.Image, Target: r.redis.Addr, Started: r.redis.Started})
	}
	return err
}

// startPostgres is startServers for PostgreSQL alone, of the first major asked for.
func (r *run) startPostgres(ctx context.Context) error {
	var pg *testenv.Postgres
	var err error
	switch {
	case r.opts.Servers.PostgresURL != "":
		if pg, err = testenv.ConnectPostgres(ctx, r.opts.Servers.PostgresURL); err != nil {
			return fmt.Errorf("%w: VISIONA_TESTDB_POSTGRES_URL: %v", ErrUnavailable, err)
		}
	default:
		if ok, reason := testenv.DockerAvailable(ctx); !ok {
			return fmt.Errorf("%w: %s; or point it at an existing server with VISIONA_TESTDB_POSTGRES_URL", ErrUnavailable, reason)
		}
		images, err := r.postgresImages()
		if err != nil {
			return err
		}
		if pg, err = testenv.StartPostgres(ctx, images[0], testcontainers.WithLabels(r.opts.Labels)); err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	r.addTarget(pg)
	r.printf("postgres %s at %s, ready in %s", pg.Version, pg.SafeTarget("postgres"), pg.Started.Round(time.Millisecond))
	return nil
}

// createDatabase makes a throwaway database on t's server and remembers it for cleanup.
func (r *run) createDatabase(ctx context.Context, t *target, name, template string) (config.DB, error) {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if err := adminExec(ctx, t.pg, sql); err != nil {
		return config.DB{}, fmt.Errorf("create database %s: %w", name, err)
	}
	t.created = append(t.created, name)
	cfg, err := config.DBFromURL(t.pg.URL(name))
	if err != nil {
		return config.DB{}, err
	}
	cfg.AppName = "visiona-testdb"
	return cfg, nil
}

func adminExec(ctx context.Context, pg *testenv.Postgres, sql string) error {
	conn, err := pgx.Connect(ctx, pg.AdminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", pg.SafeTarget("postgres"), errors.Unwrap(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// roundTrip proves on t's server that every down reverses its up, checks the committed
// snapshot, and leaves t.template at the latest version: the template the suites' databases are
// cloned from.
func (r *run) roundTrip(ctx context.Context, t *target) error {
	start := time.Now()
	name := "testdb_" + r.id + "_template"
	cfg, err := r.createDatabase(ctx, t, name, "")
	if err != nil {
		t.phases = append(t.phases, newPhase("round trip", t.major, start, err, ""))
		return err
	}
	rt, err := schema.RoundTrip(ctx, cfg, r.opts.Migrations, append(r.predictions(t), r.opts.RoundTrip...)...)
	var rte *schema.RoundTripError
	switch {
	case errors.As(err, &rte):
		err = fmt.Errorf("%w: %w", ErrRoundTrip, err)
	case err != nil:
		err = fmt.Errorf("round trip: %w", err)
	}
	detail := ""
	if rt != nil {
		t.steps, t.proof = rt.Steps, rt
		for _, w := range rt.Warnings {
			r.tprintf(t, "round trip: warning: column order: %s", w)
		}
		detail = fmt.Sprintf("%d migrations up, down and up again", rt.Steps)
	}
	t.phases = append(t.phases, newPhase("round trip", t.major, start, err, detail))
	if err != nil {
		r.tprintf(t, "round trip failed:\n%s", err)
		return err
	}
	r.tprintf(t, "round trip: %s; every down reverses its up (%s)", detail, time.Since(start).Round(time.Millisecond))

	if err := r.checkSnapshot(t, rt.Final); err != nil {
		return err
	}
	t.template = name
	return nil
}

// predictions are the lint's, for the proof to compare its measured locks with; none, with a
// line saying why, when the lint cannot run (a build without cgo).
func (r *run) predictions(t *target) []schema.RoundTripOption {
	src, err := migfile.LoadSource(r.opts.Migrations)
	if err == nil {
		var pred map[string][]lint.Prediction
		if pred, err = lint.Predictions(src); err == nil {
			return []schema.RoundTripOption{schema.WithPredictions(pred)}
		}
	}
	r.tprintf(t, "round trip: the measured locks are not compared with the lint: %v", err)
	return nil
}

func (r *run) checkSnapshot(t *target, final *schema.Snapshot) error {
	if r.opts.SnapshotFile == "" {
		t.phases = append(t.phases, Phase{Name: "snapshot file", Postgres: t.major, Result: "skipped", Detail: "no file configured"})
		return nil
	}
	start := time.Now()
	path := r.opts.RepoDir + "/" + r.opts.SnapshotFile
	data, err := os.ReadFile(path)
	if err != nil {
		err = fmt.Errorf("%w: cannot read %s (%v); write it with `go run mage.go schemaDump` and commit it", ErrStaleSnapshot, r.opts.SnapshotFile, errors.Unwrap(err))
		t.phases = append(t.phases, newPhase("snapshot file", t.major, start, err, ""))
		return err
	}
	committed, err := schema.Parse(string(data))
	if err == nil && !committed.Equal(final) {
		err = fmt.Errorf("%w: %s differs from the schema the migrations build; run `go run mage.go schemaDump` and commit the file:\n%s",
			ErrStaleSnapshot, r.opts.SnapshotFile, schema.FormatDiff(schema.Diff(committed, final)))
	} else if err != nil {
		err = fmt.Errorf("%w: %s: %v; rewrite it with `go run mage.go schemaDump`", ErrStaleSnapshot, r.opts.SnapshotFile, err)
	}
	t.phases = append(t.phases, newPhase("snapshot file", t.major, start, err, r.opts.SnapshotFile))
	if err != nil {
		r.tprintf(t, "%s", err)
		return err
	}
	r.tprintf(t, "schema snapshot %s is current", r.opts.SnapshotFile)
	return nil
}

// suiteRun is the dbtest suites' `go test`, running.
type suiteRun struct {
	cmd     *exec.Cmd
	suites  *Suites
	out     *gate  // early only: the output held until the servers are released
	envFile string // early only: where the servers' environment is written
	done    chan struct{}
	counts  Counts
	err     error // go test's exit and the relay's error, once done is closed
}

func (r *run) findSuites() (*Suites, error) {
	if r.opts.Suites != nil {
		return r.opts.Suites, nil
	}
	found, err := FindSuites(r.opts.RepoDir)
	return &found, err
}

// startSuites starts `go test -tags dbtest -run <their tests> <their packages>`. With env nil it
// starts early (see ExecAfter): the test binaries wait for release.
func (r *run) startSuites(ctx context.Context, suites *Suites, env []string) (*suiteRun, error) {
	sr := &suiteRun{suites: suites, done: make(chan struct{})}
	args := []string{"test", "-tags", dbtestTag, "-count=1", "-run", suites.RunPattern()}
	if dir := binaryCache(r.opts.RepoDir, suites.Packages); dir != "" {
		args = append(args, "-o", dir+string(filepath.Separator))
	}
	args = append(args, suites.Packages...)
	var out io.Writer = r.opts.GoTestOut
	if env == nil {
		dir, err := os.MkdirTemp("", "testdb-"+r.id+"-")
		if err != nil {
			return nil, fmt.Errorf("run go test: %w", err)
		}
		r.tmpDir = dir
		sr.envFile = filepath.Join(dir, "env")
		sr.out = &gate{}
		out = sr.out
		args = append(args, "-exec", r.opts.Self+" "+ExecAfterArg+" "+sr.envFile)
	}
	sr.cmd = exec.CommandContext(ctx, "go", append(args, "-json")...)
	sr.cmd.Dir = r.opts.RepoDir
	sr.cmd.Stderr = out
	stdout, err := sr.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("run go test: %w", err)
	}
	sr.cmd.Env = append(os.Environ(), env...)
	// On Ctrl-C, interrupt rather than kill, and give the test binaries time to stop; whatever
	// containers they still leave, cleanup finds by the run label.
	sr.cmd.Cancel = func() error { return sr.cmd.Process.Signal(os.Interrupt) }
	sr.cmd.WaitDelay = 10 * time.Second
	if err := sr.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run go test: %w", err)
	}
	go func() {
		defer close(sr.done)
		var relayErr error
		sr.counts, relayErr = relayTestJSON(stdout, out)
		sr.err = errors.Join(sr.cmd.Wait(), relayErr)
	}()
	return sr, nil
}

// binaryCache is where go test keeps the suites' test binaries between runs (-o), or "" when
// there is no such place. Linking them is most of a run's CPU (about 10 s on two cores), and go
// test does not link again a binary found up to date at its -o path. One directory per
// repository, so that worktrees do not overwrite each other's binaries; not when two packages
// share a name (-o DIR/ would name both binaries the same).
func binaryCache(repoDir string, packages []string) string {
	names := map[string]bool{}
	for _, p := range packages {
		name := path.Base(filepath.ToSlash(p))
		if names[name] {
			return ""
		}
		names[name] = true
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	abs, err := filepath.Abs(repoDir)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(abs))
	dir := filepath.Join(base, "visiona-testdb", "suites-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return dir
}

// abort tells early test binaries not to run, stops the build (what it made stays in Go's cache
// for the next run) and waits for go test to end.
func (sr *suiteRun) abort() {
	sr.out.drop()
	_ = release(sr.envFile, []string{abortLine})
	_ = sr.cmd.Process.Kill()
	<-sr.done
}

// suiteEnv passes t's server and the run's Redis to the suites.
func (r *run) suiteEnv(t *target) []string {
	return []string{
		testenv.EnvDBTestPostgresURL + "=" + t.pg.AdminURL,
		testenv.EnvDBTestTemplate + "=" + t.template,
		testenv.EnvDBTestRedisURL + "=" + r.redis.URL,
		testenv.EnvDBTestRedisPrefix + "=testdb:" + r.id + ":",
		// The dbtest packages' own integration tests use this server too instead of starting more.
		testenv.EnvTestPostgresURL + "=" + t.pg.AdminURL,
		testenv.EnvRunLabel + "=" + r.runLabel(),
	}
}

// suites runs the dbtest suites on t's server, passed by environment; each package clones its
// own database from t's template (see testenv.DBTestDatabase). early, when not nil, is the go
// test started before the servers: it is released now.
func (r *run) suites(ctx context.Context, t *target, early *suiteRun) error {
	start := time.Now()
	sr := early
	if sr == nil {
		suites, err := r.findSuites()
		if err == nil && len(suites.Tests) > 0 {
			sr, err = r.startSuites(ctx, suites, r.suiteEnv(t))
		}
		if err != nil {
			r.report.Phases = append(r.report.Phases, newPhase("dbtest suites", t.major, start, err, ""))
			return err
		}
		if len(suites.Tests) == 0 {
			r.report.Phases = append(r.report.Phases, Phase{Name: "dbtest suites", Postgres: t.major, Result: "skipped", Detail: "no dbtest tests found"})
			return nil
		}
	}
	r.printf("dbtest suites on postgres %s: %d tests in %s", t.major, len(sr.suites.Tests), strings.Join(sr.suites.Packages, " "))
	if early != nil {
		// A template cannot be cloned while anyone is connected to it: nothing here is.
		if err := release(early.envFile, r.suiteEnv(t)); err != nil {
			early.abort()
			return fmt.Errorf("release the dbtest suites: %w", err)
		}
		early.out.open(r.opts.GoTestOut)
	}
	<-sr.done
	err := sr.err
	r.report.Tests = &sr.counts
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else {
			err = fmt.Errorf("%w: go test exited with %v (see its output above)", ErrSuites, err)
		}
	}
	r.report.Phases = append(r.report.Phases, newPhase("dbtest suites", t.major, start, err, sr.counts.String()))
	return err
}

// runLabel marks the containers the suites start, so cleanup can find those an interrupt left.
func (r *run) runLabel() string { return "testdb-" + r.id }

// cleanup removes what this run started or created, with its own deadline: the run's context
// may already be cancelled. Containers are removed in parallel (each takes most of a second).
func (r *run) cleanup() {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		mu      sync.Mutex
		errs    []error
		removed int
		dropped int
		wg      sync.WaitGroup
	)
	done := func(err error, containers, databases int) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
		if err == nil {
			removed += containers
			dropped += databases
		}
	}
	existing := false
	for _, t := range r.targets {
		if t.pg == nil { // its start failed, and left nothing running
			continue
		}
		if t.pg.Image == "" { // an existing server: drop only what we created
			existing = true
			for _, name := range t.created {
				err := adminExec(ctx, t.pg, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
				if err != nil {
					err = fmt.Errorf("drop database %s: %w", name, err)
				}
				done(err, 0, 1)
			}
			continue
		}
		wg.Go(func() { done(t.pg.Terminate(ctx), 1, 0) })
	}
	if r.redis != nil && r.redis.Image != "" {
		wg.Go(func() { done(r.redis.Terminate(ctx), 1, 0) })
	}
	wg.Wait()
	if r.redis != nil && r.redis.Image == "" {
		done(testenv.DeleteRedisPrefix(ctx, r.redis.URL, "testdb:"+r.id+":"), 0, 0)
	}
	if ok, _ := testenv.DockerAvailable(ctx); ok {
		leftovers, err := testenv.RemoveRun(ctx, r.runLabel())
		done(err, leftovers, 0)
	}
	if r.tmpDir != "" {
		done(os.RemoveAll(r.tmpDir), 0, 0)
	}
	err := errors.Join(errs...)
	detail := fmt.Sprintf("removed %d containers", removed)
	if existing {
		detail = fmt.Sprintf("dropped %d databases and the run's Redis keys", dropped)
	}
	r.report.phase("cleanup", start, err, detail)
	if err != nil {
		r.printf("cleanup: %v", err)
	} else if len(r.targets) > 0 || r.redis != nil {
		r.printf("cleanup: %s (%s)", detail, time.Since(start).Round(time.Millisecond))
	}
}

// WriteSnapshot migrates a throwaway database to the latest version and writes its snapshot to
// opts.SnapshotFile: what `mage schemaDump` commits so reviewers see each schema change. It uses
// the first of opts.Majors (any: the snapshot is the same on every supported major).
func WriteSnapshot(ctx context.Context, opts Options) error {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	r := &run{opts: opts, report: &Report{}, id: "dump"}
	defer r.cleanup()
	if err := r.startPostgres(ctx); err != nil {
		return err
	}
	cfg, err := r.createDatabase(ctx, r.targets[0], "testdb_dump", "")
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
	conn, err := postgres.Connect(ctx, cfg)
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
