// Package db is the migrator that mage, cmd/migrate and the server's auto-migrate share: it runs
// the migration files (internal/migfile) through golang-migrate v4's engine with its own pgx
// driver, keeps the version and history tables, resets local databases, and reports typed errors.
// Connections come from internal/postgres.
package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/logger"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/postgres"
)

// Direction of a migration step.
type Direction string

// Directions.
const (
	Up   Direction = "up"
	Down Direction = "down"
)

// Result is one migration applied or reverted.
type Result struct {
	Version   uint          `json:"version"`
	Name      string        `json:"name"`
	Direction Direction     `json:"direction"`
	Duration  time.Duration `json:"duration_ns"`
}

// VersionInfo is where a database stands.
type VersionInfo struct {
	Version uint `json:"version"` // 0: nothing applied
	Dirty   bool `json:"dirty"`
	Latest  uint `json:"latest"`  // newest migration file
	Pending int  `json:"pending"` // migrations up would apply
	Ahead   bool `json:"ahead"`   // the database is at a version no file has
	// Recover, for a dirty database, is how to get out: what to check, and which command to run.
	Recover string `json:"recover,omitempty"`
	// InvalidIndexes are indexes PostgreSQL marks INVALID (schema.name): what a failed or
	// interrupted CREATE INDEX CONCURRENTLY leaves behind. They are kept up to date on every write
	// and used by no query; drop them (see InvalidIndexDrop) before building them again.
	InvalidIndexes []string `json:"invalid_indexes,omitempty"`
}

// InvalidIndexDrop is the statement that removes the invalid indexes.
func (v VersionInfo) InvalidIndexDrop() string {
	return dropIndexes(v.InvalidIndexes)
}

// MigrationStatus is one migration file and whether the database has it.
type MigrationStatus struct {
	Version uint   `json:"version"`
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
	Current bool   `json:"current"`
	// From the history table, for applied migrations.
	AppliedAt time.Time     `json:"applied_at,omitzero"`
	AppliedBy string        `json:"applied_by,omitempty"`
	Duration  time.Duration `json:"duration_ns,omitempty"`
	Adopted   bool          `json:"adopted,omitempty"`
	// Changed: the file's checksum differs from the one recorded when it was applied.
	Changed bool `json:"changed,omitempty"`
}

// Status lists every migration against the database.
type Status struct {
	VersionInfo
	Migrations []MigrationStatus `json:"migrations"`
	// Unknown are migrations the database has applied that no file describes.
	Unknown []HistoryEntry `json:"unknown,omitempty"`
}

// Migrator runs the migrations of one source against one database. Build it with New; every method
// opens its own connection, so a Migrator is safe to keep and to share between goroutines.
type Migrator struct {
	db          config.DB
	fsys        fs.FS
	src         *migfile.Source
	log         *slog.Logger
	lockTimeout time.Duration
	// PostgreSQL's lock_timeout and statement_timeout inside each migration; 0: none.
	migrationLockTimeout time.Duration
	statementTimeout     time.Duration
	singleTx             bool
	stepwise             bool
	preflight            Preflight
	onApplied            func(Result)
	observer             *Observer // see observe.go
}

// Option configures a Migrator.
type Option func(*Migrator) error

// WithLogger sends the Migrator's log lines to l.
func WithLogger(l *slog.Logger) Option {
	return func(m *Migrator) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidArgument)
		}
		m.log = l
		return nil
	}
}

// WithLockTimeout bounds the wait for another migrator's lock.
func WithLockTimeout(d time.Duration) Option {
	return func(m *Migrator) error {
		if d <= 0 {
			return fmt.Errorf("%w: lock timeout must be positive, got %s", ErrInvalidArgument, d)
		}
		m.lockTimeout = d
		return nil
	}
}

// WithMigrationTimeouts sets PostgreSQL's lock_timeout and statement_timeout inside each
// migration (0 disables one); the defaults come from config.DB.
func WithMigrationTimeouts(lock, statement time.Duration) Option {
	return func(m *Migrator) error {
		if lock < 0 || statement < 0 {
			return fmt.Errorf("%w: migration timeouts must not be negative", ErrInvalidArgument)
		}
		m.migrationLockTimeout, m.statementTimeout = lock, statement
		return nil
	}
}

// Preflight inspects a file about to run in a transaction. It may return the body to run instead
// (same length and lines, so errors still point at the file), or a failure saying why the file
// must not run at all; the database is then left as it is.
type Preflight func(file string, body []byte) ([]byte, *migfile.SQLFailure)

// WithPreflight checks each transactional file just before it runs; internal/lint.PrepareFile is
// the one the doors use, to keep transaction control out of the tool's transaction.
func WithPreflight(p Preflight) Option {
	return func(m *Migrator) error {
		if p == nil {
			return fmt.Errorf("%w: nil preflight", ErrInvalidArgument)
		}
		m.preflight = p
		return nil
	}
}

// WithSingleTransaction runs all the migrations of a call in one transaction: one commit instead of
// one per migration, and all or nothing. For fresh databases (CI, TestDB, a local reset); a long
// history then holds its locks until the end, and no-transaction files are refused.
func WithSingleTransaction() Option {
	return func(m *Migrator) error {
		m.singleTx = true
		return nil
	}
}

// WithProgress calls fn for each migration once it is committed, in order; the same Results also
// come back from the call that ran them. Quick migrations go to the server several to a query, so
// their calls come in bursts, and by the time of a call the database may already be past that
// migration: use WithStepwise where it must not be.
func WithProgress(fn func(Result)) Option {
	return func(m *Migrator) error {
		if fn == nil {
			return fmt.Errorf("%w: nil progress function", ErrInvalidArgument)
		}
		m.onApplied = fn
		return nil
	}
}

// WithStepwise sends migrations to the server one per query, so a WithProgress function sees the
// database at exactly each migration's version (the round-trip proof snapshots it there). Slower
// on long histories: a round trip per migration.
func WithStepwise() Option {
	return func(m *Migrator) error {
		m.stepwise = true
		return nil
	}
}

// New validates everything it can before touching the database: the configuration and every
// migration file (see migfile.LoadSource).
func New(dbcfg config.DB, fsys fs.FS, opts ...Option) (*Migrator, error) {
	if err := dbcfg.Require(); err != nil {
		return nil, err
	}
	src, err := migfile.LoadSource(fsys)
	if err != nil {
		return nil, err
	}
	m := &Migrator{db: dbcfg, fsys: fsys, src: src, log: logger.Discard(), lockTimeout: dbcfg.LockTimeout,
		migrationLockTimeout: dbcfg.MigrationLockTimeout, statementTimeout: dbcfg.MigrationStatementTimeout}
	if m.lockTimeout <= 0 {
		m.lockTimeout = config.DefaultLockTimeout
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	if m.singleTx && m.observer != nil {
		return nil, fmt.Errorf("%w: an observer cannot run in single-transaction mode: it would see every migration of the run at once", ErrInvalidArgument)
	}
	m.log = m.log.With("target", dbcfg.SafeTarget())
	return m, nil
}

// verify checks the files against migrations.sum before anything runs. A set without a sum file
// (a test's in-memory set) is not checked; the repository's own set always has one, which
// `migrate verify` and mage lint require.
func (m *Migrator) verify() error {
	if _, err := fs.Stat(m.fsys, migfile.SumFile); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return migfile.VerifySums(m.src, m.fsys)
}

// Verify checks the files against migrations.sum; a missing sum file is an error here.
func (m *Migrator) Verify() error { return migfile.VerifySums(m.src, m.fsys) }

// Source is the validated migration set.
func (m *Migrator) Source() *migfile.Source { return m.src }

// Up applies every pending migration. It returns what it applied, in order; when it stops with an
// error after applying some, or while applying one, the error is a *PartialError (see there) and
// the Results are the same as its Applied.
func (m *Migrator) Up(ctx context.Context) ([]Result, error) {
	return m.walk(ctx, &plan{src: m.src, up: true})
}

// Down reverts the last steps migrations; steps must be at least 1 and no more than are applied.
// Results and errors are as Up's.
func (m *Migrator) Down(ctx context.Context, steps int) ([]Result, error) {
	if steps < 1 {
		return nil, fmt.Errorf("%w: down needs a count of 1 or more, got %d", ErrInvalidArgument, steps)
	}
	info, err := m.Version(ctx)
	if err != nil {
		return nil, err
	}
	applied := m.appliedCount(info.Version)
	if steps > applied {
		return nil, fmt.Errorf("%w: down %d, but only %d migration(s) are applied; use down %d or down -all", ErrInvalidArgument, steps, applied, applied)
	}
	// The plan counts from the version found under the lock: another migrator may have moved it
	// since the check above.
	return m.walk(ctx, &plan{src: m.src, back: steps})
}

// DownAll reverts every applied migration. Results and errors are as Up's.
func (m *Migrator) DownAll(ctx context.Context) ([]Result, error) {
	return m.walk(ctx, &plan{src: m.src, to: database.NilVersion})
}

// Goto migrates up or down to version v; 0 means no migration applied. Results and errors are as
// Up's.
func (m *Migrator) Goto(ctx context.Context, v uint) ([]Result, error) {
	if v == 0 {
		return m.DownAll(ctx)
	}
	if _, ok := m.src.Find(v); !ok {
		return nil, m.unknownVersion(v)
	}
	return m.walk(ctx, &plan{src: m.src, to: int(v)})
}

// Force records version v as applied and clean without running anything: the way out of a dirty
// state once a person has checked the database. 0 records no version.
func (m *Migrator) Force(ctx context.Context, v uint) error {
	target := int(v)
	if v == 0 {
		target = database.NilVersion
	} else if _, ok := m.src.Find(v); !ok {
		return m.unknownVersion(v)
	}
	// Force runs no step, so there is no path to plan.
	_, err := m.run(ctx, nil, func(mg *migrate.Migrate) error { return mg.Force(target) })
	return err
}

func (m *Migrator) unknownVersion(v uint) error {
	return fmt.Errorf("%w: %d (the files run from %06d to %06d; see `migrate status`)", ErrUnknownVersion, v, m.firstVersion(), m.src.Latest())
}

func (m *Migrator) firstVersion() uint {
	if migs := m.src.Migrations(); len(migs) > 0 {
		return migs[0].Version
	}
	return 0
}

func (m *Migrator) versionInfo(v int, dirty bool) VersionInfo {
	info := VersionInfo{Dirty: dirty, Latest: m.src.Latest()}
	if v > 0 {
		info.Version = uint(v)
	}
	if _, ok := m.src.Find(info.Version); info.Version > 0 && !ok {
		info.Ahead = true
	}
	applied := m.appliedCount(info.Version)
	if dirty {
		// A dirty version is one whose migration did not finish: it is not applied, and is what to
		// recover from.
		applied = m.appliedCount(m.src.Previous(info.Version))
		info.Recover = m.dirtyRecovery(v)
	}
	info.Pending = m.src.Len() - applied
	return info
}

// appliedCount is how many files are at or below version v.
func (m *Migrator) appliedCount(v uint) int {
	n := 0
	for mig := range m.src.All() {
		if mig.Version <= v {
			n++
		}
	}
	return n
}

func (m *Migrator) withConn(ctx context.Context, fn func(*pgx.Conn, *driver) error) error {
	conn, err := postgres.Connect(ctx, m.db)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	d, err := newDriver(ctx, conn, m.src, driverOptions{lockWait: m.lockTimeout, lockTimeout: m.migrationLockTimeout, statementTimeout: m.statementTimeout, singleTransaction: m.singleTx, syncCommit: m.db.MigrationSyncCommit, stepwise: m.stepwise, preflight: m.preflight, log: m.log, onApplied: m.onApplied, observer: m.observer,
		retries: m.db.MigrationRetries, retryDelay: m.db.MigrationRetryDelay,
		connect: func(ctx context.Context) (*pgx.Conn, error) { return postgres.Connect(ctx, m.db) }})
	if err != nil {
		return err
	}
	defer d.watch.close(context.WithoutCancel(ctx))
	return fn(conn, d)
}

// walk takes the database along p.
func (m *Migrator) walk(ctx context.Context, p *plan) ([]Result, error) { return m.run(ctx, p, p.walk) }

// run drives golang-migrate's engine with our driver (op is the engine's call; p where it leads,
// nil for force, which runs no step) and turns its outcome into our errors.
func (m *Migrator) run(ctx context.Context, p *plan, op func(*migrate.Migrate) error) ([]Result, error) {
	if err := m.verify(); err != nil {
		return nil, err
	}
	var results []Result
	err := m.withConn(ctx, func(_ *pgx.Conn, d *driver) error {
		d.plan = p
		sizeEngineBuffers()
		mg, err := migrate.NewWithInstance("visiona", sourceDriver{m.src}, "visiona-pgx", d)
		if err != nil {
			return fmt.Errorf("start golang-migrate: %w", err)
		}
		// Our Lock gives up first and says why; golang-migrate's own timer is only a backstop.
		mg.LockTimeout = m.lockTimeout + time.Minute
		stop := context.AfterFunc(ctx, func() { mg.GracefulStop <- true })
		defer stop()
		err = op(mg)
		var commitErr error
		if results, commitErr = d.outcome(); commitErr != nil {
			return commitErr
		}
		return m.translate(ctx, err, d)
	})
	return results, m.partial(results, err)
}

// partial wraps a run's error in a *PartialError when the run got as far as its migrations: some
// were applied, or one failed.
func (m *Migrator) partial(applied []Result, err error) error {
	if err == nil {
		return nil
	}
	var me *MigrationError
	var failed *Result
	if errors.As(err, &me) {
		for mig := range m.src.All() {
			if me.File == mig.UpFile || me.File == mig.DownFile {
				failed = &Result{Version: mig.Version, Name: mig.Name, Direction: me.Direction}
				break
			}
		}
	}
	if len(applied) == 0 && failed == nil {
		return err
	}
	return &PartialError{Applied: applied, Failed: failed, Err: err}
}

func (m *Migrator) translate(ctx context.Context, err error, d *driver) error {
	var dirty migrate.ErrDirty
	var short migrate.ErrShortLimit
	switch {
	case err == nil || errors.Is(err, migrate.ErrNoChange):
		if ctx.Err() != nil && !d.arrived() {
			return fmt.Errorf("%w: stopped between migrations at %s; run the command again to continue", ErrInterrupted, versionText(d.current))
		}
		return nil
	case errors.As(err, &dirty):
		idx, _ := invalidIndexes(context.WithoutCancel(ctx), d.conn)
		return &DirtyError{Version: knownVersion(dirty.Version), Recover: withIndexDrop(m.dirtyRecovery(dirty.Version), idx)}
	case errors.As(err, &short):
		return fmt.Errorf("%w: %d fewer migrations than asked could be run; the database is at %s", ErrInvalidArgument, short.Short, versionText(d.current))
	case errors.Is(err, migrate.ErrLockTimeout):
		return &LockTimeoutError{Waited: m.lockTimeout, Holder: d.lockHolder()}
	}
	return err
}

// withIndexDrop puts the removal of invalid indexes first in a dirty database's recovery.
func withIndexDrop(recover string, idx []string) string {
	if len(idx) == 0 {
		return recover
	}
	return fmt.Sprintf("first drop the INVALID index %s a failed CREATE INDEX CONCURRENTLY left (`%s`); then %s", strings.Join(idx, ", "), dropIndexes(idx), recover)
}

// dirtyRecovery says how to leave a dirty version v. The tool cannot know how far the interrupted
// run got, so it names the file to check and the commands to run after.
func (m *Migrator) dirtyRecovery(v int) string {
	mig, ok := m.src.Find(uint(max(v, 0)))
	if !ok {
		return "check the database by hand, then run `migrate force N` with the version it really is at"
	}
	prev := m.src.Previous(mig.Version)
	return fmt.Sprintf("if %s was being applied, undo what of it ran and run `migrate force %d`, then `migrate up`; if it was being reverted to, finish that down by hand and run `migrate force %d`", mig.UpFile, prev, mig.Version)
}
