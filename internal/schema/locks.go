package schema

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/db"
	"visiona-backend/internal/lint"
)

// What each migration of the walk does to the relations that existed before it is measured, not
// predicted: inside its own transaction, just before its COMMIT, a query reads the locks its
// backend holds (pg_locks keeps them until the commit releases them; see db.WithObserver), and
// the walk compares the relfilenode of each relation before and after it: a rewrite replaces it.
// Only a relation the transaction locked can get a new relfilenode, so after each migration the
// walk re-reads just those and the ones it created (all of them after a no-transaction file): the
// cost of a step stays that of what it changed, not of the size of the schema.

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
	Lint        []lint.Prediction `json:"lint,omitempty"`
	LintDiffers []string          `json:"lint_differs,omitempty"`
}

// WithPredictions gives the walk the lint's predictions, by file name (migfile.Migration.UpFile,
// DownFile): each measured migration then says where the measurement differs.
func WithPredictions(p map[string][]lint.Prediction) RoundTripOption {
	return func(c *roundTripConfig) error {
		c.predictions = p
		return nil
	}
}

// locksQuery runs inside each migration's transaction: the relation locks its backend holds, as
// "oid:mode" pairs. PostgreSQL's own objects have OIDs below 16384 (FirstNormalObjectId), so the
// catalog reads of the tool and of the migration itself never count.
const locksQuery = `SELECT coalesce(string_agg(l.relation::pg_catalog.int8::text || ':' || l.mode, ','), '')
	FROM pg_catalog.pg_locks l
	WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation' AND l.granted AND l.relation >= 16384::oid`

// relationsSQL reads the relations the walk follows whose OID is larger than $1 (created since the
// last read) or among $2 (the locked ones: nothing else can get a new relfilenode, be renamed or be
// dropped in a transaction), with an index's table. Both conditions go through pg_class's OID
// index, so a step reads what it touched, not the whole catalog. A TOAST table's name is
// pg_toast_<the OID of its table>, which PostgreSQL keeps across rewrites.
const relationsSQL = `SELECT c.oid::int8, c.relfilenode::int8, c.relkind::text, n.nspname::text, c.relname::text,
	coalesce(i.indrelid, 0)::int8
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
WHERE (c.oid > $1::pg_catalog.oid OR c.oid = ANY($2::pg_catalog.oid[])) AND c.oid >= 16384
	AND n.nspname <> '` + logSchema + `'`

// relationCountSQL counts them all, to check the cache against.
const relationCountSQL = `SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid >= 16384 AND n.nspname <> '` + logSchema + `'`

// rawRelation is one row of relationsSQL.
type rawRelation struct {
	filenode           int64
	relkind, nsp, name string
	table              int64 // an index's table
}

// relCache is every relation the walk follows, by OID, kept up to date migration by migration.
type relCache struct {
	rels   map[int64]rawRelation
	maxOID int64
}

// readRelations brings the cache up to date: in full when full is set or it is empty, otherwise
// only the relations created since and those in locked. A count that does not match (an OID
// counter that wrapped around, say) makes it read everything.
func readRelations(ctx context.Context, tr *tracker, old relCache, locked []uint32, full bool) (relCache, error) {
	full = full || old.rels == nil
	next := relCache{rels: map[int64]rawRelation{}}
	since := uint32(0)
	if !full {
		since = uint32(old.maxOID)
		next.maxOID = old.maxOID
		for oid, r := range old.rels {
			next.rels[oid] = r
		}
		for _, oid := range locked {
			delete(next.rels, int64(oid)) // back below if it still exists
		}
	}
	if locked == nil {
		locked = []uint32{}
	}
	b := &pgx.Batch{}
	b.Queue(relationsSQL, since, locked)
	b.Queue(relationCountSQL)
	br := tr.conn.SendBatch(ctx, b)
	rows, err := br.Query()
	if err == nil {
		for rows.Next() {
			var oid int64
			var r rawRelation
			if err = rows.Scan(&oid, &r.filenode, &r.relkind, &r.nsp, &r.name, &r.table); err != nil {
				break
			}
			next.rels[oid] = r
			next.maxOID = max(next.maxOID, oid)
		}
		rows.Close()
		err = cmp.Or(err, rows.Err())
	}
	var total int64
	if err == nil {
		err = br.QueryRow().Scan(&total)
	}
	err = cmp.Or(err, br.Close())
	if err != nil {
		return relCache{}, fmt.Errorf("read relfilenodes: %w", err)
	}
	if int64(len(next.rels)) != total {
		if full {
			return relCache{}, fmt.Errorf("read relfilenodes: %d relations read of %d", len(next.rels), total)
		}
		return readRelations(ctx, tr, old, locked, true)
	}
	return next, nil
}

// relation is a cached relation as the report names it.
type relation struct {
	name     string // schema.name, or "toast of ..." for TOAST
	kind     string
	relkind  string
	filenode int64
	excluded bool // the tool's bookkeeping (or a table WithExcludedTables names), and what belongs to it
}

// resolve names the relation oid of c.
func (c relCache) resolve(oid int64, excludedNames []string) relation {
	r := c.rels[oid]
	// The table it belongs to: itself, an index's table, a TOAST table's table.
	o := r
	if t, ok := c.rels[o.table]; ok && o.table != 0 {
		o = t
	}
	toast := o.relkind == "t"
	if toast {
		if owner, err := strconv.ParseInt(strings.TrimPrefix(o.name, "pg_toast_"), 10, 64); err == nil {
			if t, ok := c.rels[owner]; ok {
				o = t
			}
		}
	}
	rel := relation{name: r.nsp + "." + r.name, kind: relKindName(r.relkind), relkind: r.relkind, filenode: r.filenode}
	for _, e := range excludedNames {
		if e == o.name || e == o.nsp+"."+o.name {
			rel.excluded = true
		}
	}
	switch {
	case r.relkind == "t":
		rel.name = "toast of " + o.nsp + "." + o.name
	case toast:
		rel.name, rel.kind = "toast index of "+o.nsp+"."+o.name, "toast index"
	}
	return rel
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
	rels     relCache
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
	return !w.passive && !w.rc.noLocks && (w.phase == PhaseUp || w.phase == PhaseDown)
}

// startMeasure reads the relations before a measured phase's first migration.
func (w *walk) startMeasure() error {
	w.meter.observed = nil
	if !w.measuring() {
		return nil
	}
	rels, err := readRelations(w.ctx, w.tr, relCache{}, nil, true)
	if err != nil {
		return err
	}
	w.meter.rels = rels
	return nil
}

// measure records what res did to the relations that existed before it.
func (w *walk) measure(res db.Result) error {
	obs := w.meter.observed
	w.meter.observed = nil
	if !w.measuring() {
		return nil
	}
	mig, _ := w.src.Find(res.Version)
	ml := &MigrationLocks{Direction: res.Direction, Version: res.Version, Name: res.Name, File: mig.UpFile, Duration: res.Duration, Relations: []RelationEffect{}}
	if res.Direction == db.Down {
		ml.File = mig.DownFile
	}
	locks := map[int64][]string{}
	var err error
	if obs != nil && obs.version == res.Version && obs.dir == res.Direction {
		ml.LocksObserved = true
		if locks, err = parseLocks(obs.locks); err != nil {
			return err
		}
	}
	// Within a transaction only the relations it locked can have changed; without one, any.
	before := w.meter.rels
	var locked []uint32
	for oid := range locks {
		locked = append(locked, uint32(oid))
	}
	slices.Sort(locked)
	after, err := readRelations(w.ctx, w.tr, before, locked, !ml.LocksObserved)
	if err != nil {
		return err
	}
	w.meter.rels = after
	var candidates []int64
	for _, oid := range locked {
		candidates = append(candidates, int64(oid))
	}
	if !ml.LocksObserved {
		candidates = slices.Collect(maps.Keys(before.rels))
	}
	// A relation gone by OID whose name and kind are back was rebuilt: an index ALTER COLUMN
	// TYPE re-created, the TOAST table of a rewritten table (a rewrite swaps it for a new one).
	rebuilt := map[string]bool{}
	for oid := range after.rels {
		if _, existed := before.rels[oid]; !existed {
			rel := after.resolve(oid, w.tr.excluded)
			rebuilt[rel.kind+" "+rel.name] = true
		}
	}
	for _, oid := range candidates {
		if _, existed := before.rels[oid]; !existed {
			continue // created by this migration
		}
		rel := before.resolve(oid, w.tr.excluded)
		if rel.excluded {
			continue
		}
		now, still := after.rels[oid]
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
		ml.Lint = append([]lint.Prediction{}, w.rc.predictions[ml.File]...) // not nil: the lint was asked
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
// rewritten that no rule predicted, a predicted rewrite that did not happen, a SHARE or EXCLUSIVE
// lock on an existing table that no rule predicted (the modes of work that reads the whole table
// while blocking its writes: an index build, a domain check, a concurrent refresh), and a
// predicted lock blocking writes that was not taken. ACCESS EXCLUSIVE, which every ALTER TABLE
// takes, and SHARE ROW EXCLUSIVE, which a foreign key or a trigger takes, are no difference on
// their own: they last an instant unless something slow happens under them, which the lint
// reports.
func lintDiffers(ml *MigrationLocks) []string {
	var out []string
	predictedRewrite := slices.ContainsFunc(ml.Lint, func(p lint.Prediction) bool { return p.Rewrite })
	predictedBlocking := slices.ContainsFunc(ml.Lint, func(p lint.Prediction) bool { return p.Blocking })
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
			if strings.HasPrefix(b, "SHARE on ") || strings.HasPrefix(b, "EXCLUSIVE on ") {
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
			parts = append(parts, "lint: "+lintSummary(ml.Lint))
		}
		fmt.Fprintf(&b, "  %-4s %06d_%s (%s): %s\n", ml.Direction, ml.Version, ml.Name,
			ml.Duration.Round(time.Microsecond*100), strings.Join(parts, "; "))
		for _, d := range ml.LintDiffers {
			fmt.Fprintf(&b, "       differs from the lint: %s\n", d)
		}
	}
	return b.String()
}

// lintSummary names the rules of ps with their lines: "not-concurrently (lines 11, 13)".
func lintSummary(ps []lint.Prediction) string {
	if len(ps) == 0 {
		return "no lock or rewrite finding"
	}
	var rules []string
	lines := map[string][]string{}
	for _, p := range ps {
		if _, ok := lines[p.Rule]; !ok {
			rules = append(rules, p.Rule)
		}
		lines[p.Rule] = append(lines[p.Rule], strconv.Itoa(p.Line))
	}
	out := make([]string, len(rules))
	for i, r := range rules {
		word := "line"
		if len(lines[r]) > 1 {
			word = "lines"
		}
		out[i] = fmt.Sprintf("%s (%s %s)", r, word, strings.Join(lines[r], ", "))
	}
	return strings.Join(out, ", ")
}
