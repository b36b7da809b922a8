package schema

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
)

// RoundTripOption configures RoundTrip.
type RoundTripOption func(*roundTripConfig) error

type roundTripConfig struct {
	snapshot []Option
	migrator []db.Option
	onStep   func(Step)
}

// WithSnapshotOptions passes opts to every Take of the walk (e.g. WithExcludedTables).
func WithSnapshotOptions(opts ...Option) RoundTripOption {
	return func(c *roundTripConfig) error {
		c.snapshot = append(c.snapshot, opts...)
		return nil
	}
}

// WithMigratorOptions passes opts to db.New (a logger, a lock timeout). RoundTrip installs its
// own db.WithProgress after them, so one passed here is never called: follow the walk with
// WithStepFunc instead.
func WithMigratorOptions(opts ...db.Option) RoundTripOption {
	return func(c *roundTripConfig) error {
		c.migrator = append(c.migrator, opts...)
		return nil
	}
}

// WithStepFunc calls fn after each migration of each phase has run and been snapshotted, as
// it happens: for progress output.
func WithStepFunc(fn func(Step)) RoundTripOption {
	return func(c *roundTripConfig) error {
		if fn == nil {
			return fmt.Errorf("%w: nil step func", ErrInvalidOption)
		}
		c.onStep = fn
		return nil
	}
}

// Step is one migration of a RoundTrip walk.
type Step struct {
	Phase    Phase         `json:"phase"`
	Version  uint          `json:"version"`
	Name     string        `json:"name"`
	Migrate  time.Duration `json:"migrate_ns"`  // the migration, as db.Result reports it
	Snapshot time.Duration `json:"snapshot_ns"` // the snapshot taken after it
	// Matched: in PhaseDown and PhaseReapply, the snapshot equals the one recorded on the way
	// up (always true in PhaseUp, which records).
	Matched bool `json:"matched"`
}

// RoundTripReport is what a RoundTrip did. On error it holds what was done until then.
type RoundTripReport struct {
	Steps        int           `json:"steps"`     // migrations applied, reverted and applied again
	Snapshots    int           `json:"snapshots"` // taken, the one before any migration included
	Up           time.Duration `json:"up_ns"`     // wall time of each phase, snapshots included
	Down         time.Duration `json:"down_ns"`
	Reapply      time.Duration `json:"reapply_ns"`
	SnapshotTime time.Duration `json:"snapshot_ns"` // of which taking snapshots, all phases
	Baseline     *Snapshot     `json:"-"`           // the schema at version 0
	Final        *Snapshot     `json:"-"`           // the schema at the latest version
}

// Total is the time of the three phases.
func (r *RoundTripReport) Total() time.Duration { return r.Up + r.Down + r.Reapply }

// RoundTrip proves that every down migration reverses its up. On a database at version 0 it
// snapshots the schema, migrates up one step at a time recording a snapshot after each, then
// down one step at a time requiring each snapshot to equal the one recorded before that
// migration's up (so at version 0, the schema it started from: nothing but the bookkeeping on a
// fresh database), then up again to the latest requiring each snapshot to equal the first
// walk's. The first mismatch stops the walk and is a *RoundTripError (ErrNotReversible) naming
// the migration and what differs; walking down from the latest, the first down that fails to
// restore its snapshot is the one to blame, since every later down restored its own.
//
// The database is left at the latest version on success, and wherever the walk stopped on
// error: use a throwaway database. Snapshots go through one dedicated connection; each step
// costs one snapshot, so the walk is linear in the number of migrations.
func RoundTrip(ctx context.Context, cfg config.DB, fsys fs.FS, opts ...RoundTripOption) (*RoundTripReport, error) {
	rc := &roundTripConfig{}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil round trip option", ErrInvalidOption)
		}
		if err := o(rc); err != nil {
			return nil, err
		}
	}
	if _, err := newOptions(rc.snapshot); err != nil {
		return nil, err
	}
	w := &walk{ctx: ctx, snapOpts: rc.snapshot, onStep: rc.onStep, index: map[uint]int{}, report: &RoundTripReport{}}
	m, err := db.New(cfg, fsys, append(slices.Clone(rc.migrator), db.WithProgress(w.step))...)
	if err != nil {
		return nil, err
	}
	w.src = m.Source()
	info, err := m.Version(ctx)
	if err != nil {
		return nil, err
	}
	if info.Version != 0 || info.Dirty {
		return nil, fmt.Errorf("%w: %s is at version %d (dirty: %t); a round trip starts from version 0, in a throwaway database", ErrAlreadyMigrated, cfg.SafeTarget(), info.Version, info.Dirty)
	}
	conn, err := db.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	w.conn = conn

	r := w.report
	start := time.Now()
	base, err := Take(ctx, conn, w.snapOpts...)
	r.SnapshotTime += time.Since(start)
	if err != nil {
		return r, fmt.Errorf("snapshot at version 0: %w", err)
	}
	r.Snapshots++
	r.Baseline = base
	w.snaps = []*Snapshot{base}
	if len(w.src.Migrations()) == 0 {
		// Nothing to walk: the schema at version 0 is also the final one.
		r.Final = base
		return r, nil
	}

	if r.Up, err = w.run(PhaseUp, m.Up); err != nil {
		return r, err
	}
	r.Steps = len(w.order)
	if r.Down, err = w.run(PhaseDown, m.DownAll); err != nil {
		return r, err
	}
	if r.Reapply, err = w.run(PhaseReapply, m.Up); err != nil {
		return r, err
	}
	r.Final = w.snaps[len(w.snaps)-1]
	return r, nil
}

// walk is the state of one RoundTrip, advanced by the Migrator's progress calls.
type walk struct {
	ctx      context.Context // the caller's: snapshots still run while a phase is being stopped
	conn     *pgx.Conn
	snapOpts []Option
	onStep   func(Step)
	src      *db.Source
	report   *RoundTripReport

	phase   Phase
	stop    context.CancelFunc // stops the Migrator between two migrations
	order   []uint             // versions in the order the up walk applied them
	index   map[uint]int       // version to its position in order
	snaps   []*Snapshot        // snaps[0] at version 0, snaps[i+1] after order[i]
	failure error              // the first mismatch or failed snapshot; the walk stops there
}

// run walks one phase. A failure found by step cancels the phase's context, which the Migrator
// honours between migrations; that failure, not the interruption, is the phase's result.
func (w *walk) run(phase Phase, op func(context.Context) ([]db.Result, error)) (time.Duration, error) {
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	w.phase, w.stop = phase, cancel
	start := time.Now()
	_, err := op(ctx)
	took := time.Since(start)
	switch {
	case w.failure != nil:
		return took, w.failure
	case err != nil:
		return took, fmt.Errorf("walk %s: %w", phase, err)
	}
	return took, nil
}

// step is the Migrator's progress callback: it runs right after each migration commits.
func (w *walk) step(res db.Result) {
	if w.failure != nil {
		return // the Migrator has not seen the cancellation yet
	}
	start := time.Now()
	got, err := Take(w.ctx, w.conn, w.snapOpts...)
	took := time.Since(start)
	w.report.SnapshotTime += took
	if err != nil {
		w.fail(fmt.Errorf("snapshot after %s %06d_%s: %w", res.Direction, res.Version, res.Name, err))
		return
	}
	w.report.Snapshots++

	matched := true
	switch w.phase {
	case PhaseUp:
		w.index[res.Version] = len(w.order)
		w.order = append(w.order, res.Version)
		w.snaps = append(w.snaps, got)
	case PhaseDown, PhaseReapply:
		i, ok := w.index[res.Version]
		if !ok {
			w.fail(fmt.Errorf("walk %s: migration %06d_%s was not applied by the up walk", w.phase, res.Version, res.Name))
			return
		}
		want := w.snaps[i] // before its up
		if w.phase == PhaseReapply {
			want = w.snaps[i+1] // after its up
		}
		if changes := Diff(want, got); len(changes) > 0 {
			matched = false
			mig, _ := w.src.Find(res.Version)
			w.fail(&RoundTripError{Phase: w.phase, Version: res.Version, Name: res.Name, UpFile: mig.UpFile, DownFile: mig.DownFile, Changes: changes})
		}
	}
	if w.onStep != nil {
		w.onStep(Step{Phase: w.phase, Version: res.Version, Name: res.Name, Migrate: res.Duration, Snapshot: took, Matched: matched})
	}
}

func (w *walk) fail(err error) {
	w.failure = err
	w.stop()
}
