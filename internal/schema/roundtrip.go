package schema

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/lint"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/postgres"
)

// RoundTripOption configures RoundTrip.
type RoundTripOption func(*roundTripConfig) error

type roundTripConfig struct {
	snapshot []Option
	migrator []db.Option
	onStep   func(Step)
	order    ColumnOrder
	keepOn   bool // -keep-going
	from     uint // prove only the migrations after this version
	// predictions: the lint's, by file name, to compare the measured locks with (locks.go).
	predictions map[string][]lint.Prediction
	noLocks     bool // a switch for tests: no lock measurement (its cost, side by side)
	// Switches for tests (export_test.go).
	fullSnapshots bool // no DDL log: a full snapshot after every step
	crossCheck    bool // a full snapshot after every step too, any difference an error
}

// WithSnapshotOptions passes opts to every Take of the walk (e.g. WithExcludedTables).
func WithSnapshotOptions(opts ...Option) RoundTripOption {
	return func(c *roundTripConfig) error {
		c.snapshot = append(c.snapshot, opts...)
		return nil
	}
}

// WithMigratorOptions passes opts to db.New (a logger, a lock timeout). RoundTrip installs its
// own db.WithStepwise and db.WithProgress after them, so a progress function passed here is never
// called: follow the walk with
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

// ColumnOrder says what a column_order finding does: a table whose columns, those the two
// schemas both have, are in another order. After a DROP COLUMN undone by ADD COLUMN the column
// is back, but at the end: positional INSERTs (INSERT INTO t VALUES ...), INSERT ... SELECT *,
// COPY without a column list and functions returning the table's row type then route values
// into the wrong columns on the rolled-back database, silently when the types are compatible.
type ColumnOrder string

// The ColumnOrder modes. ColumnOrderWarn is the default: PostgreSQL cannot put a column back in
// place, so most downs of a DROP COLUMN cannot restore the order short of rebuilding the table,
// which is a heavier hazard on a live table than the one it removes; the finding is reported so
// that code relying on position can be checked, and teams whose code does can make it fail.
const (
	ColumnOrderFail   ColumnOrder = "fail"   // a finding like any other: the proof fails
	ColumnOrderWarn   ColumnOrder = "warn"   // reported as a warning; the proof passes
	ColumnOrderIgnore ColumnOrder = "ignore" // not reported
)

// ParseColumnOrder reads a ColumnOrder mode by its name.
func ParseColumnOrder(s string) (ColumnOrder, error) {
	switch m := ColumnOrder(s); m {
	case ColumnOrderFail, ColumnOrderWarn, ColumnOrderIgnore:
		return m, nil
	}
	return "", fmt.Errorf("%w: column order %q: want fail, warn or ignore", ErrInvalidOption, s)
}

// WithColumnOrder sets what a column order finding does (default ColumnOrderWarn).
func WithColumnOrder(mode ColumnOrder) RoundTripOption {
	return func(c *roundTripConfig) error {
		if _, err := ParseColumnOrder(string(mode)); err != nil {
			return err
		}
		c.order = mode
		return nil
	}
}

// WithKeepGoing makes RoundTrip report every migration whose down does not reverse its up
// instead of stopping at the first: after a mismatch the walk carries on from the schema the
// down actually left, so each later down is judged on what it changes. The reapply walk is
// skipped when a down failed (its ups would run on a schema no up walk built).
func WithKeepGoing() RoundTripOption {
	return func(c *roundTripConfig) error {
		c.keepOn = true
		return nil
	}
}

// WithFrom proves only the migrations after version v: RoundTrip first migrates to v without
// snapshots, then walks from there (v = 0: every migration). v must be a migration's version.
func WithFrom(v uint) RoundTripOption {
	return func(c *roundTripConfig) error {
		c.from = v
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
	// FullSnapshots is how many of Snapshots read the whole schema (the one at version 0, the
	// one at the end of each walk, and those of steps the DDL log could not be trusted for);
	// the others read only what the log said changed.
	FullSnapshots int `json:"full_snapshots"`
	// Fallback, when set, says why the walk was done a second time with a full snapshot after
	// every step: a full snapshot at the end of a walk found a change the DDL log had missed.
	// Steps were then reported twice to WithStepFunc, from the first phase again.
	Fallback string `json:"fallback,omitempty"`
	// Findings: every migration that did not round-trip (one at most without WithKeepGoing),
	// in the order found. Warnings: column order findings in ColumnOrderWarn mode.
	Findings []*RoundTripError `json:"findings"`
	Warnings []*RoundTripError `json:"warnings"`
	// LogWrong counts the mismatches the incremental snapshot showed that a full snapshot, taken
	// to confirm them before reporting, did not: the DDL log was wrong there. Confirmed counts
	// those it confirmed. No finding rests on the log alone.
	LogWrong  int `json:"log_wrong"`
	Confirmed int `json:"confirmed"`
	// From: the version the walk started from (WithFrom). ReapplySkipped: a down failed under
	// WithKeepGoing, so the reapply walk did not run.
	From           uint `json:"from"`
	ReapplySkipped bool `json:"reapply_skipped,omitempty"`
	// Locks: what each migration of the up and the down walk locked and rewrote among the
	// relations that existed before it, measured (locks.go), in the order they ran.
	Locks []*MigrationLocks `json:"locks"`
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
// Snapshots after the first are incremental when the connecting role is a superuser: RoundTrip
// installs a DDL log (event triggers, see incremental.go) and after each step re-reads only the
// tables, types, functions, schemas and extensions the step touched, and those whose definitions
// print the name of something it touched. A step costs what it changes, not the size of the
// schema, so the walk is linear in the number of migrations, and the schema after each step is
// the one a full snapshot would read. Steps the log cannot be trusted for (see incremental.go)
// take a full snapshot, and so does the last step of each walk, which must also equal the
// incremental one: if it does not, the log missed a change (a migration updating the catalogs by
// hand), and the walk goes back to version 0 and is done again with a full snapshot after every
// step (RoundTripReport.Fallback). Without superuser, every snapshot is full. The walk's
// snapshots leave out the log's own schema (visiona_roundtrip_log), so Baseline and Final are
// what Take reads once it is gone.
//
// The database is left at the latest version on success, and wherever the walk stopped on
// error: use a throwaway database. The DDL log is removed in every case. Snapshots go through
// one dedicated connection.
func RoundTrip(ctx context.Context, cfg config.DB, fsys fs.FS, opts ...RoundTripOption) (report *RoundTripReport, err error) {
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
	if rc.order == "" {
		rc.order = ColumnOrderWarn
	}
	w := &walk{ctx: ctx, rc: rc, report: &RoundTripReport{From: rc.from}}
	w.reset()
	mopts := append(slices.Clone(rc.migrator), db.WithStepwise(), db.WithProgress(w.step))
	if !rc.noLocks {
		mopts = append(mopts, db.WithObserver(w.observer()))
	}
	m, err := db.New(cfg, fsys, mopts...)
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
	if rc.from > 0 {
		if _, ok := w.src.Find(rc.from); !ok {
			return nil, fmt.Errorf("%w: -from %d: no migration has that version", ErrInvalidOption, rc.from)
		}
		w.passive = true
		_, err := m.Goto(ctx, rc.from)
		w.passive = false
		if err != nil {
			return nil, fmt.Errorf("migrate to %d, where the proof starts: %w", rc.from, err)
		}
	}
	conn, err := postgres.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tr, err := newTracker(ctx, conn, rc.snapshot, !rc.fullSnapshots)
	if err != nil {
		return nil, err
	}
	w.tr = tr
	defer func() {
		// mage testDB clones the database for the test suites: nothing of the log may stay in
		// it, whatever happened. A cancelled context closes the connection: use another.
		if !tr.installed {
			return
		}
		if conn.IsClosed() {
			other, cerr := postgres.Connect(context.WithoutCancel(ctx), cfg)
			if cerr != nil {
				err = errors.Join(err, fmt.Errorf("remove the DDL log: %w", cerr))
				return
			}
			defer other.Close(context.WithoutCancel(ctx))
			tr.conn = other
		}
		err = errors.Join(err, tr.stopLogging(context.WithoutCancel(ctx)))
	}()

	err = w.walkAll(m, nil)
	var missed *logMissedError
	if errors.As(err, &missed) && !rc.crossCheck {
		err = w.redo(m, missed)
	}
	if err == nil && len(w.report.Findings) > 0 {
		err = findingsError(w.report.Findings)
	}
	return w.report, err
}

// findingsError is the error of a walk that found mismatches: the finding itself when there is
// one, all of them joined when -keep-going found more.
func findingsError(fs []*RoundTripError) error {
	if len(fs) == 1 {
		return fs[0]
	}
	errs := make([]error, len(fs))
	for i, f := range fs {
		errs[i] = f
	}
	return errors.Join(errs...)
}

// count is how many migrations the walk proves: those after the version it starts from.
func (w *walk) count() int {
	n := 0
	for _, m := range w.src.Migrations() {
		if m.Version > w.rc.from {
			n++
		}
	}
	return n
}

// downToStart walks down to the version the proof starts from.
func (w *walk) downToStart(m *db.Migrator) func(context.Context) ([]db.Result, error) {
	if w.rc.from == 0 {
		return m.DownAll
	}
	return func(ctx context.Context) ([]db.Result, error) { return m.Goto(ctx, w.rc.from) }
}

// walk is the state of one RoundTrip, advanced by the Migrator's progress calls.
type walk struct {
	ctx    context.Context // the caller's: snapshots still run while a phase is being stopped
	rc     *roundTripConfig
	tr     *tracker
	src    *migfile.Source
	report *RoundTripReport

	phase   Phase
	stop    context.CancelFunc // stops the Migrator between two migrations
	passive bool               // migrations run without snapshots (going back to version 0 to start again)
	order   []uint             // versions in the order the up walk applied them
	index   map[uint]int       // version to its position in order
	// deltas[i] is what order[i]'s up changed, unit by unit: the schema recorded after it is
	// the one before it with deltas[i] applied. Storing changes instead of whole schemas keeps
	// the walk linear.
	deltas []delta
	// target is the recorded schema the down and reapply walks must be at, by unit name; it
	// moves by deltas. suspect is the units where target and the live state differ as maps
	// although the schemas matched (a unit's objects found under another unit name): compared
	// again at every step. Normally empty.
	target  map[string][]Object
	suspect map[string]bool
	failure error // the first mismatch or failed snapshot; the walk stops there
	meter   lockMeter
}

// reset forgets a walk, to start one again.
func (w *walk) reset() {
	w.phase, w.stop, w.passive = "", nil, false
	w.order, w.index, w.deltas = nil, map[uint]int{}, nil
	w.target, w.suspect, w.failure = nil, map[string]bool{}, nil
}

// walkAll snapshots version 0, which must equal want if set, then walks up, down and up again.
func (w *walk) walkAll(m *db.Migrator, want *Snapshot) error {
	r := w.report
	start := time.Now()
	_, err := w.tr.full(w.ctx, "version 0")
	r.SnapshotTime += time.Since(start)
	if err != nil {
		return fmt.Errorf("snapshot at version 0: %w", err)
	}
	r.Snapshots++
	r.FullSnapshots++
	base := w.tr.st.snapshot()
	if want != nil && !want.Equal(base) {
		return fmt.Errorf("%w: walking down to version 0 to start again did not restore the schema at version 0, and the DDL log missed changes, so no down can be blamed (%s):\n%s",
			ErrNotReversible, r.Fallback, FormatDiff(Diff(want, base)))
	}
	r.Baseline = base
	if w.count() == 0 {
		// Nothing to walk: the schema at version 0 is also the final one.
		r.Final = base
		return nil
	}

	if r.Up, err = w.run(PhaseUp, m.Up); err != nil {
		return err
	}
	r.Steps = len(w.order)
	w.target = maps.Clone(w.tr.st.units)
	if r.Down, err = w.run(PhaseDown, w.downToStart(m)); err != nil {
		return err
	}
	if len(r.Findings) > 0 {
		r.ReapplySkipped = true
		r.Final = w.tr.st.snapshot()
		return nil
	}
	if r.Reapply, err = w.run(PhaseReapply, m.Up); err != nil {
		return err
	}
	r.Final = w.tr.st.snapshot()
	return nil
}

// redo walks again with full snapshots after the DDL log was found to have missed a change:
// back to version 0 without snapshots, then the whole walk as if there were no log. The
// schema at version 0 must be the one the first walk started from; if it is not, some down
// did not reverse its up, but which one the log cannot tell.
func (w *walk) redo(m *db.Migrator, missed *logMissedError) error {
	w.report.Fallback = missed.Error()
	if err := w.tr.stopLogging(w.ctx); err != nil {
		return err
	}
	info, err := m.Version(w.ctx)
	if err != nil {
		return err
	}
	if info.Version != w.rc.from {
		w.passive = true
		_, err := w.downToStart(m)(w.ctx)
		w.passive = false
		if err != nil {
			return fmt.Errorf("walk down to start again with full snapshots: %w", err)
		}
	}
	base := w.report.Baseline
	w.reset()
	w.report.Findings, w.report.Warnings, w.report.Locks = nil, nil, nil
	return w.walkAll(m, base)
}

// run walks one phase. A failure found by step cancels the phase's context, which the Migrator
// honours between migrations; that failure, not the interruption, is the phase's result.
func (w *walk) run(phase Phase, op func(context.Context) ([]db.Result, error)) (time.Duration, error) {
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	w.phase, w.stop = phase, cancel
	if err := w.startMeasure(); err != nil {
		return 0, err
	}
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
	if w.passive || w.failure != nil {
		return // going back to version 0, or the Migrator has not seen the cancellation yet
	}
	label := fmt.Sprintf("%s %06d_%s", res.Direction, res.Version, res.Name)
	if err := w.measure(res); err != nil {
		w.fail(fmt.Errorf("measure the locks of %s: %w", label, err))
		return
	}
	start := time.Now()
	d, err := w.snapshot(res)
	took := time.Since(start)
	w.report.SnapshotTime += took
	if err != nil {
		var missed *logMissedError
		if !errors.As(err, &missed) {
			err = fmt.Errorf("snapshot after %s: %w", label, err)
		}
		w.fail(err)
		return
	}
	w.report.Snapshots++

	matched := true
	switch w.phase {
	case PhaseUp:
		w.index[res.Version] = len(w.order)
		w.order = append(w.order, res.Version)
		w.deltas = append(w.deltas, d)
	case PhaseDown, PhaseReapply:
		i, ok := w.index[res.Version]
		if !ok {
			w.fail(fmt.Errorf("walk %s: migration %06d_%s was not applied by the up walk", w.phase, res.Version, res.Name))
			return
		}
		// The target moves to the schema recorded before order[i]'s up (down), or after it
		// (reapply), object by object: after a -keep-going mismatch the target holds what the
		// down actually left, and only what order[i] changed moves.
		moved := w.deltas[i]
		for name, c := range moved {
			from, to := c.after, c.before
			if w.phase == PhaseReapply {
				from, to = c.before, c.after
			}
			if objs := moveObjects(w.target[name], from, to); objs == nil {
				delete(w.target, name)
			} else {
				w.target[name] = objs
			}
		}
		changes, err := w.confirm(w.compare(moved, d))
		if err != nil {
			w.fail(fmt.Errorf("snapshot after %s: %w", label, err))
			return
		}
		var order []Change
		changes = slices.DeleteFunc(changes, func(c Change) bool {
			if c.Kind == KindColumnOrder && w.rc.order != ColumnOrderFail {
				order = append(order, c)
				return true
			}
			return false
		})
		mig, _ := w.src.Find(res.Version)
		finding := func(cs []Change) *RoundTripError {
			return &RoundTripError{Phase: w.phase, Version: res.Version, Name: res.Name, UpFile: mig.UpFile, DownFile: mig.DownFile, Changes: cs}
		}
		if len(order) > 0 && w.rc.order == ColumnOrderWarn {
			w.report.Warnings = append(w.report.Warnings, finding(order))
		}
		if len(changes) > 0 {
			matched = false
			f := finding(changes)
			w.report.Findings = append(w.report.Findings, f)
			if !w.rc.keepOn {
				w.fail(f)
			}
		}
		if w.failure == nil && (len(changes) > 0 || len(order) > 0) {
			// Carry on from the schema as it is: later steps are judged on what they change.
			w.adoptLive(append(changes, order...))
		}
	}
	if w.rc.onStep != nil {
		w.rc.onStep(Step{Phase: w.phase, Version: res.Version, Name: res.Name, Migrate: res.Duration, Snapshot: took, Matched: matched})
	}
}

// snapshot brings the tracker up to date after res and returns what res changed. The last step
// of each walk also takes a full snapshot and requires it to equal the incremental one (every
// step, with the cross-check switch).
func (w *walk) snapshot(res db.Result) (delta, error) {
	mig, _ := w.src.Find(res.Version)
	noTx := mig.UpNoTx
	if res.Direction == db.Down {
		noTx = mig.DownNoTx
	}
	d, err := w.tr.step(w.ctx, noTx)
	if err != nil {
		return nil, err
	}
	full := w.tr.lastFull
	if !full && (w.lastOfPhase(res.Version) || w.rc.crossCheck) {
		missed, err := w.tr.full(w.ctx, "checkpoint")
		if err != nil {
			return nil, err
		}
		full = true
		if len(missed) > 0 {
			// The state before the full snapshot was wrong, so is d: stop.
			var was, is []Object
			for _, c := range missed {
				was, is = append(was, c.before...), append(is, c.after...)
			}
			return nil, &logMissedError{phase: w.phase, after: fmt.Sprintf("%06d_%s", res.Version, res.Name),
				changes: Diff(&Snapshot{Objects: was}, &Snapshot{Objects: is}), crossCheck: w.rc.crossCheck}
		}
	}
	if full {
		w.report.FullSnapshots++
	}
	return d, nil
}

// lastOfPhase reports whether v is the last migration of the current walk.
func (w *walk) lastOfPhase(v uint) bool {
	switch w.phase {
	case PhaseUp:
		return len(w.order)+1 == w.count()
	case PhaseDown:
		return len(w.order) > 0 && v == w.order[0]
	default:
		i, ok := w.index[v]
		return ok && i == len(w.order)-1
	}
}

// compare checks the live schema against the target after a step. Outside the units the step
// changed, those the target just moved by and the suspect ones, the two were equal as maps
// before the step and neither moved, so comparing the objects of those units compares the whole
// schemas: the changes are what Diff(target, live) would list.
func (w *walk) compare(moved, stepped delta) []Change {
	keys := maps.Clone(w.suspect)
	for name := range moved {
		keys[name] = true
	}
	for name := range stepped {
		keys[name] = true
	}
	var want, got []Object
	for name := range keys {
		want = append(want, w.target[name]...)
		got = append(got, w.tr.st.units[name]...)
	}
	changes := Diff(&Snapshot{Objects: want}, &Snapshot{Objects: got})
	if len(changes) == 0 {
		w.suspect = map[string]bool{}
		for name := range keys {
			if !slices.Equal(w.target[name], w.tr.st.units[name]) {
				w.suspect[name] = true
			}
		}
	}
	return changes
}

// confirm re-reads the whole schema when the incremental state shows a mismatch, so that no
// finding rests on the DDL log alone, and returns the changes between the target and the schema
// as it is. A full snapshot after the step needs no confirmation.
func (w *walk) confirm(changes []Change) ([]Change, error) {
	if len(changes) == 0 || w.tr.lastFull {
		return changes, nil
	}
	start := time.Now()
	_, err := w.tr.full(w.ctx, "confirm a mismatch")
	w.report.SnapshotTime += time.Since(start)
	if err != nil {
		return nil, err
	}
	w.report.Snapshots++
	w.report.FullSnapshots++
	var want []Object
	for _, objs := range w.target {
		want = append(want, objs...)
	}
	confirmed := Diff(&Snapshot{Objects: want}, w.tr.st.snapshot())
	if !slices.Equal(confirmed, changes) {
		w.report.LogWrong++
	} else {
		w.report.Confirmed++
	}
	w.suspect = map[string]bool{}
	for name := range w.target {
		if !slices.Equal(w.target[name], w.tr.st.units[name]) {
			w.suspect[name] = true
		}
	}
	for name := range w.tr.st.units {
		if _, ok := w.target[name]; !ok {
			w.suspect[name] = true
		}
	}
	return confirmed, nil
}

// adoptLive makes the target the live schema in the units of changes: the walk goes on from
// the schema as it is.
func (w *walk) adoptLive(changes []Change) {
	objUnit := map[string]string{}
	for name, objs := range w.tr.st.units {
		for _, o := range objs {
			objUnit[o.Kind+" "+o.Name] = name
		}
	}
	for name, objs := range w.target {
		for _, o := range objs {
			if _, ok := objUnit[o.Kind+" "+o.Name]; !ok {
				objUnit[o.Kind+" "+o.Name] = name
			}
		}
	}
	for _, c := range changes {
		name, ok := objUnit[c.Kind+" "+c.Name]
		if !ok {
			continue
		}
		if live, ok := w.tr.st.units[name]; ok {
			w.target[name] = slices.Clone(live)
		} else {
			delete(w.target, name)
		}
		delete(w.suspect, name)
	}
}

// moveObjects applies a unit's change from -> to onto objs: the objects of from are removed,
// those of to put in their place; objs' other objects stay, unless to is nil: a unit that did not
// exist has nothing left. When objs equals from, the result is to. nil for no objects.
func moveObjects(objs, from, to []Object) []Object {
	if to == nil {
		return nil // the unit did not exist: whatever was in it went with it
	}
	drop := map[string]bool{}
	for _, o := range from {
		drop[o.Kind+" "+o.Name] = true
	}
	for _, o := range to {
		drop[o.Kind+" "+o.Name] = true
	}
	var out []Object
	for _, o := range objs {
		if !drop[o.Kind+" "+o.Name] {
			out = append(out, o)
		}
	}
	out = append(out, to...)
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, compareObjects)
	return out
}

func (w *walk) fail(err error) {
	w.failure = err
	w.stop()
}

// logMissedError: a full snapshot found changes the incremental state did not have.
type logMissedError struct {
	phase      Phase
	after      string
	changes    []Change // Diff(incremental, full)
	crossCheck bool
}

func (e *logMissedError) Error() string {
	what := "the DDL log missed changes"
	if e.crossCheck {
		what = "cross-check: the incremental snapshot differs from a full one"
	}
	return fmt.Sprintf("after %s %s, %s (%d objects):\n%s", e.phase, e.after, what, len(e.changes), strings.TrimSuffix(FormatDiff(e.changes), "\n"))
}
