package schema

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"visiona-backend/internal/db"
)

// What each migration of the walk does to the relations that existed before it is measured, not
// predicted: inside its own transaction, just before its COMMIT, a query reads the locks its
// backend holds (pg_locks keeps them until the commit releases them; see db.WithObserver), and
// before and after it the walk reads every relation's relfilenode, which a rewrite replaces.

// RelationEffect is what one migration did to one relation that existed before it.
type RelationEffect struct {
	Relation string `json:"relation"` // schema.name; an index's, a TOAST table's own names are shown as "toast of schema.table"
	Kind     string `json:"kind"`     // table, partitioned table, index, materialized view, toast, sequence, view, ...
	// Mode is the strongest lock it held on the relation (PostgreSQL's names: ACCESS EXCLUSIVE,
	// SHARE, ...); Modes all of them, strongest first. Empty when no lock was observed.
	Mode      string   `json:"mode,omitempty"`
	Modes     []string `json:"modes,omitempty"`
	Rewritten bool     `json:"rewritten"` // its relfilenode changed: new files, every row copied (or TRUNCATE)
	Dropped   bool     `json:"dropped,omitempty"`
}

// MigrationLocks is one migration, in one direction, of the walk's up and down phases.
type MigrationLocks struct {
	Direction db.Direction  `json:"direction"`
	Version   uint          `json:"version"`
	Name      string        `json:"name"`
	File      string        `json:"file"`
	Duration  time.Duration `json:"duration_ns"`
	// LocksObserved is false for a no-transaction file: its statements run outside any
	// transaction of the tool's, so their locks are gone before anything can read them; its
	// rewrites are still measured.
	LocksObserved bool             `json:"locks_observed"`
	Relations     []RelationEffect `json:"relations"`
	// Heavy: an ACCESS EXCLUSIVE lock on a table that is still there after it (no reads, no
	// writes until the commit), or a rewrite.
	Heavy bool `json:"heavy"`
	// Lint is what the lint predicted for the file (its lock and rewrite rules), LintDiffers
	// where the measurement says otherwise. Both empty when no predictions were given.
	Lint        []Prediction `json:"lint,omitempty"`
	LintDiffers []string     `json:"lint_differs,omitempty"`
}

// Prediction is a static lint finding about a file, as far as locks and rewrites go.
type Prediction struct {
	Rule    string `json:"rule"`
	Line    int    `json:"line"`
	Rewrite bool   `json:"rewrite"` // the rule says the statement rewrites a table
	// Blocking: the rule says the statement holds a lock that blocks writes (SHARE or
	// stronger) on an existing table.
	Blocking bool `json:"blocking"`
}

// WithPredictions gives the walk the lint's predictions, by file name (db.Migration.UpFile,
// DownFile): each measured migration then says where the measurement differs.
func WithPredictions(p map[string][]Prediction) RoundTripOption {
	return func(c *roundTripConfig) error {
		c.predictions = p
		return nil
	}
}

// firstNormalOID: PostgreSQL's own objects have smaller OIDs, so what a migration created has one
// at least as large, and the catalog reads of the walk and of the tool never count.
const firstNormalOID = 16384

// locksQuery runs inside each migration's transaction: the relation locks its backend holds, as
// "oid:mode" pairs.
const locksQuery = `SELECT coalesce(string_agg(l.relation::pg_catalog.int8::text || ':' || l.mode, ','), '')
	FROM pg_catalog.pg_locks l
	WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND l.relation >= 16384::oid`

// relationsSQL reads the relations the walk follows, with what names them: an index its table, a
// TOAST table the table it belongs to.
const relationsSQL = `SELECT c.oid::int8, c.relfilenode::int8, c.relkind::text, n.nspname::text, c.relname::text,
	coalesce(i.indrelid, 0)::int8, coalesce(t.oid, 0)::int8
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_catalog.pg_class t ON c.relkind = 't' AND t.reltoastrelid = c.oid
WHERE c.oid >= ` + "16384" + ` AND n.nspname <> '` + logSchema + `'`

// relation is one row of relationsSQL, resolved.
type relation struct {
	name     string // schema.name, or "toast of ..." for TOAST
	kind     string
	relkind  string
	filenode int64
	excluded bool // the tool's bookkeeping (or a table WithExcludedTables names), and what belongs to it
}

// readRelations reads every relation the walk follows, by OID.
func readRelations(ctx context.Context, tr *tracker) (map[int64]relation, error) {
	rows, err := tr.conn.Query(ctx, relationsSQL)
	if err != nil {
		return nil, fmt.Errorf("read relfilenodes: %w", err)
	}
	type raw struct {
		filenode           int64
		relkind, nsp, name string
		table, toastOf     int64
	}
	raws := map[int64]raw{}
	for rows.Next() {
		var oid int64
		var r raw
		if err := rows.Scan(&oid, &r.filenode, &r.relkind, &r.nsp, &r.name, &r.table, &r.toastOf); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read relfilenodes: %w", err)
		}
		raws[oid] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read relfilenodes: %w", err)
	}
	excluded := func(r raw) bool {
		for _, e := range tr.excluded {
			if e == r.name || e == r.nsp+"."+r.name {
				return true
			}
		}
		return false
	}
	// owner is the table a relation belongs to: itself, an index's table, a TOAST table's table.
	owner := func(r raw) raw {
		if r.table != 0 {
			if t, ok := raws[r.table]; ok {
				r = t
			}
		}
		if r.toastOf != 0 {
			if t, ok := raws[r.toastOf]; ok {
				r = t
			}
		}
		return r
	}
	out := make(map[int64]relation, len(raws))
	for oid, r := range raws {
		o := owner(r)
		rel := relation{name: r.nsp + "." + r.name, kind: relKindName(r.relkind), relkind: r.relkind, filenode: r.filenode, excluded: excluded(o)}
		switch {
		case r.relkind == "t":
			rel.name = "toast of " + o.nsp + "." + o.name
		case r.table != 0 && raws[r.table].relkind == "t":
			rel.name, rel.kind = "toast index of "+o.nsp+"."+o.name, "toast index"
		}
		out[oid] = rel
	}
	return out, nil
}

func relKindName(k string) string {
	switch k {
	case "r":
		return "table"
	case "p":
		return "partitioned table"
	case "i":
		return "index"
	case "I":
		return "partitioned index"
	case "m":
		return "materialized view"
	case "t":
		return "toast"
	case "S":
		return "sequence"
	case "v":
		return "view"
	case "f":
		return "foreign table"
	case "c":
		return "composite type"
	}
	return k
}

// lockModes are pg_locks' modes, weakest first, with the names the documentation gives them.
var lockModes = [...][2]string{
	{"AccessShareLock", "ACCESS SHARE"},
	{"RowShareLock", "ROW SHARE"},
	{"RowExclusiveLock", "ROW EXCLUSIVE"},
	{"ShareUpdateExclusiveLock", "SHARE UPDATE EXCLUSIVE"},
	{"ShareLock", "SHARE"},
	{"ShareRowExclusiveLock", "SHARE ROW EXCLUSIVE"},
	{"ExclusiveLock", "EXCLUSIVE"},
	{"AccessExclusiveLock", "ACCESS EXCLUSIVE"},
}

// modeStrength is a mode's rank (SHARE is 5, the first that blocks writes), 0 for none.
func modeStrength(mode string) int {
	for i, m := range lockModes {
		if m[1] == mode {
			return i + 1
		}
	}
	return 0
}

const shareStrength = 5

// parseLocks reads locksQuery's value: the modes held, by OID.
func parseLocks(v []byte) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(v) == 0 {
		return out, nil
	}
	for _, pair := range strings.Split(string(v), ",") {
		oidText, mode, ok := strings.Cut(pair, ":")
		oid, err := strconv.ParseInt(oidText, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("read the migration's locks: unexpected %q", pair)
		}
		for _, m := range lockModes {
			if m[0] == mode {
				mode = m[1]
			}
		}
		out[oid] = append(out[oid], mode)
	}
	return out, nil
}

// lockMeter follows the walk's up and down phases: the relations before each migration, and the
// locks its transaction reported.
type lockMeter struct {
	before   map[int64]relation
	observed *observation // the locks of the migration that just committed, if it ran in a transaction
}

type observation struct {
	version uint
	dir     db.Direction
	locks   []byte
}

// observer is the db.Observer that hands each migration's locks to the walk.
func (w *walk) observer() db.Observer {
	return db.Observer{Query: locksQuery, Func: func(r db.Result, v []byte) {
		w.meter.observed = &observation{version: r.Version, dir: r.Direction, locks: slices.Clone(v)}
	}}
}

// measuring reports whether the current phase is one whose migrations are measured: the up
// walk and the down walk; the reapply walk runs the same ups again.
func (w *walk) measuring() bool {
	return !w.passive && (w.phase == PhaseUp || w.phase == PhaseDown)
}

// startMeasure reads the relations before a measured phase's first migration.
func (w *walk) startMeasure() error {
	w.meter.observed = nil
	if !w.measuring() {
		return nil
	}
	rels, err := readRelations(w.ctx, w.tr)
	if err != nil {
		return err
	}
	w.meter.before = rels
	return nil
}

// measure records what res did to the relations that existed before it.
func (w *walk) measure(res db.Result) error {
	obs := w.meter.observed
	w.meter.observed = nil
	if !w.measuring() {
		return nil
	}
	after, err := readRelations(w.ctx, w.tr)
	if err != nil {
		return err
	}
	before := w.meter.before
	w.meter.before = after
	mig, _ := w.src.Find(res.Version)
	ml := &MigrationLocks{Direction: res.Direction, Version: res.Version, Name: res.Name, File: mig.UpFile, Duration: res.Duration, Relations: []RelationEffect{}}
	if res.Direction == db.Down {
		ml.File = mig.DownFile
	}
	locks := map[int64][]string{}
	if obs != nil && obs.version == res.Version && obs.dir == res.Direction {
		ml.LocksObserved = true
		if locks, err = parseLocks(obs.locks); err != nil {
			return err
		}
	}
	// A relation gone by OID whose name and kind are back was rebuilt: an index ALTER COLUMN
	// TYPE re-created, the TOAST table of a rewritten table (a rewrite swaps it for a new one).
	rebuilt := map[string]bool{}
	for _, rel := range after {
		rebuilt[rel.kind+" "+rel.name] = true
	}
	for oid, rel := range before {
		if rel.excluded {
			continue
		}
		now, still := after[oid]
		e := RelationEffect{Relation: rel.name, Kind: rel.kind, Dropped: !still,
			Rewritten: still && rel.filenode != 0 && now.filenode != rel.filenode}
		if !still && rebuilt[rel.kind+" "+rel.name] {
			e.Dropped, e.Rewritten = false, rel.filenode != 0
		}
		modes := locks[oid]
		slices.SortFunc(modes, func(a, b string) int { return modeStrength(b) - modeStrength(a) })
		modes = slices.Compact(modes)
		if len(modes) > 0 {
			e.Mode, e.Modes = modes[0], modes
		}
		if e.Mode == "" && !e.Rewritten {
			continue
		}
		if e.Rewritten || (e.Mode == "ACCESS EXCLUSIVE" && !e.Dropped && isTable(rel.relkind)) {
			ml.Heavy = true
		}
		ml.Relations = append(ml.Relations, e)
	}
	slices.SortFunc(ml.Relations, func(a, b RelationEffect) int { return strings.Compare(a.Relation, b.Relation) })
	if w.rc.predictions != nil {
		ml.Lint = append([]Prediction{}, w.rc.predictions[ml.File]...) // not nil: the lint was asked
		ml.LintDiffers = lintDiffers(ml)
	}
	w.report.Locks = append(w.report.Locks, ml)
	return nil
}

func isTable(relkind string) bool { return relkind == "r" || relkind == "p" || relkind == "m" }

func isTableKind(kind string) bool {
	return kind == "table" || kind == "partitioned table" || kind == "materialized view"
}

// lintDiffers says where the measurement of ml and the lint's predictions disagree: a table
// rewritten that no rule predicted, a predicted rewrite that did not happen, a lock blocking
// writes on an existing table (short of ACCESS EXCLUSIVE, which every ALTER TABLE takes for an
// instant and the lint reports only when something slow happens under it) that no rule predicted,
// and a predicted blocking lock that was not taken.
func lintDiffers(ml *MigrationLocks) []string {
	var out []string
	predictedRewrite := slices.ContainsFunc(ml.Lint, func(p Prediction) bool { return p.Rewrite })
	predictedBlocking := slices.ContainsFunc(ml.Lint, func(p Prediction) bool { return p.Blocking })
	var rewritten, blocking []string
	for _, e := range ml.Relations {
		if !isTableKind(e.Kind) {
			continue
		}
		if e.Rewritten {
			rewritten = append(rewritten, e.Relation)
		}
		if s := modeStrength(e.Mode); s >= shareStrength && !e.Dropped {
			blocking = append(blocking, e.Mode+" on "+e.Relation)
		}
	}
	if len(rewritten) > 0 && !predictedRewrite {
		out = append(out, fmt.Sprintf("rewrote %s; the lint predicted no rewrite", strings.Join(rewritten, ", ")))
	}
	for _, p := range ml.Lint {
		if p.Rewrite && len(rewritten) == 0 {
			out = append(out, fmt.Sprintf("the lint's %s (line %d) predicted a rewrite; none happened", p.Rule, p.Line))
		}
	}
	if ml.LocksObserved {
		var short []string
		for _, b := range blocking {
			if !strings.HasPrefix(b, "ACCESS EXCLUSIVE ") {
				short = append(short, b)
			}
		}
		if len(short) > 0 && !predictedBlocking {
			out = append(out, fmt.Sprintf("took %s; the lint predicted no lock blocking writes", strings.Join(short, ", ")))
		}
		if predictedBlocking && len(blocking) == 0 {
			for _, p := range ml.Lint {
				if p.Blocking {
					out = append(out, fmt.Sprintf("the lint's %s (line %d) predicted a lock blocking writes on an existing table; none was taken", p.Rule, p.Line))
				}
			}
		}
	}
	return out
}

// FormatHeavy lists the heavy migrations of a report, one a line, and every disagreement with
// the lint: "  up   000002_add_items_score (3ms): ACCESS EXCLUSIVE on public.items; rewrote
// public.items, public.items_pkey; lint: volatile-default". Empty when there is nothing to say.
func FormatHeavy(locks []*MigrationLocks) string {
	var b strings.Builder
	for _, ml := range locks {
		if !ml.Heavy && len(ml.LintDiffers) == 0 {
			continue
		}
		var exclusive, rewrote []string
		for _, e := range ml.Relations {
			if e.Mode == "ACCESS EXCLUSIVE" && !e.Dropped && isTableKind(e.Kind) {
				exclusive = append(exclusive, e.Relation)
			}
			if e.Rewritten && e.Kind != "toast" && e.Kind != "toast index" { // the JSON lists them
				rewrote = append(rewrote, e.Relation)
			}
		}
		var parts []string
		if len(exclusive) > 0 {
			parts = append(parts, "ACCESS EXCLUSIVE on "+strings.Join(exclusive, ", "))
		}
		if len(rewrote) > 0 {
			parts = append(parts, "rewrote "+strings.Join(rewrote, ", "))
		}
		if !ml.LocksObserved {
			parts = append(parts, "locks not observable (no-transaction file)")
		}
		if len(parts) == 0 {
			parts = append(parts, "nothing heavy")
		}
		if ml.Lint != nil {
			var rules []string
			for _, p := range ml.Lint {
				rules = append(rules, fmt.Sprintf("%s (line %d)", p.Rule, p.Line))
			}
			lintText := "no lock or rewrite finding"
			if len(rules) > 0 {
				lintText = strings.Join(slices.Compact(rules), ", ")
			}
			parts = append(parts, "lint: "+lintText)
		}
		fmt.Fprintf(&b, "  %-4s %06d_%s (%s): %s\n", ml.Direction, ml.Version, ml.Name,
			ml.Duration.Round(time.Microsecond*100), strings.Join(parts, "; "))
		for _, d := range ml.LintDiffers {
			fmt.Fprintf(&b, "       differs from the lint: %s\n", d)
		}
	}
	return b.String()
}
