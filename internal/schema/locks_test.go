package schema_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"visiona-backend/internal/db"
	"visiona-backend/internal/lint"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/schema"
)

// TestRoundTripLocksMeasured walks testdata/roundtrip/locks_measured (see its README.md) and
// checks what each migration was measured to lock and rewrite among the relations that existed
// before it, and where the lint's predictions differ.
func TestRoundTripLocksMeasured(t *testing.T) {
	t.Parallel()
	fsys := os.DirFS(filepath.Join(fixtures, "locks_measured"))
	src, err := migfile.LoadSource(fsys)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := lint.Predictions(src)
	if err != nil {
		t.Fatal(err)
	}
	report, err := schema.RoundTrip(context.Background(), newDB(t), fsys, schema.WithPredictions(pred))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(report.Locks, "", "  ")
	t.Logf("heavy:\n%s", schema.FormatHeavy(report.Locks))

	type want struct {
		heavy     bool
		items     string // the strongest lock on public.items; "-" for none
		rewritten bool   // public.items rewritten
		observed  bool
		others    int    // relations listed besides public.items and its own indexes and TOAST
		differs   string // in the one lint difference; "" for none
	}
	cases := map[string]want{
		// Nothing existed before it: nothing to lock.
		"up 1": {items: "-", observed: true},
		// A volatile default: every row gets its own value, so the table is rewritten.
		"up 2":   {heavy: true, items: "ACCESS EXCLUSIVE", rewritten: true, observed: true},
		"down 2": {heavy: true, items: "ACCESS EXCLUSIVE", observed: true},
		// CREATE INDEX blocks writes, not reads: SHARE, not heavy.
		"up 3":   {items: "SHARE", observed: true},
		"down 3": {heavy: true, items: "ACCESS EXCLUSIVE", observed: true},
		"up 4":   {heavy: true, items: "ACCESS EXCLUSIVE", rewritten: true, observed: true},
		"down 4": {heavy: true, items: "ACCESS EXCLUSIVE", rewritten: true, observed: true},
		// cidr to inet is binary-coercible: no rewrite, although the lint predicts one.
		"up 5":   {heavy: true, items: "ACCESS EXCLUSIVE", observed: true, differs: "predicted a rewrite; none happened"},
		"down 5": {heavy: true, items: "ACCESS EXCLUSIVE", rewritten: true, observed: true},
		// A new table locks nothing that existed.
		"up 6": {items: "-", observed: true},
		// Dropping a table: ACCESS EXCLUSIVE on a table that is gone after, not heavy.
		"down 6": {items: "-", observed: true, others: 4}, // tags, its key, its TOAST table and TOAST index
		// No transaction: locks not observable; CREATE INDEX CONCURRENTLY rewrites nothing.
		"up 7":   {items: "-"},
		"down 7": {items: "-"},
		"down 1": {items: "ACCESS EXCLUSIVE", observed: true},
	}
	if len(report.Locks) != len(cases) {
		t.Fatalf("%d migrations measured, want %d:\n%s", len(report.Locks), len(cases), out)
	}
	for _, ml := range report.Locks {
		key := fmt.Sprintf("%s %d", ml.Direction, ml.Version)
		w, ok := cases[key]
		if !ok {
			t.Errorf("unexpected %s", key)
			continue
		}
		got := want{heavy: ml.Heavy, items: "-", observed: ml.LocksObserved}
		for _, e := range ml.Relations {
			switch {
			case e.Relation == "public.items":
				got.items, got.rewritten = e.Mode, e.Rewritten
			case strings.HasPrefix(e.Relation, "public.items_") || strings.HasSuffix(e.Relation, "of public.items"):
			default:
				got.others++
			}
			if strings.Contains(e.Relation, db.VersionTable) || strings.Contains(e.Relation, "roundtrip_log") {
				t.Errorf("%s: the tool's own relation %s is listed", key, e.Relation)
			}
		}
		if len(ml.LintDiffers) > 1 {
			t.Errorf("%s: lint differs %q, want one at most", key, ml.LintDiffers)
		} else if len(ml.LintDiffers) == 1 {
			got.differs = ml.LintDiffers[0]
		}
		if w.differs != "" && strings.Contains(got.differs, w.differs) {
			got.differs = w.differs
		}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", key, got, w)
		}
	}
	if t.Failed() {
		t.Logf("%s", out)
	}
	text := schema.FormatHeavy(report.Locks)
	for _, line := range []string{
		"up   000002_add_items_score",
		"ACCESS EXCLUSIVE on public.items; rewrote public.items, public.items_pkey; lint: volatile-default (line 1)",
		"differs from the lint: the lint's column-type-change (line 1) predicted a rewrite; none happened",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("FormatHeavy lacks %q:\n%s", line, text)
		}
	}
	if strings.Contains(text, "000006") || strings.Contains(text, "000001") || strings.Contains(text, "up   000003") {
		t.Errorf("FormatHeavy names a migration that is not heavy:\n%s", text)
	}
}

// TestRoundTripLocksUnpredicted: a SHARE lock (an index build) that no lint rule predicts is a
// difference; here the lint's predictions are left out.
func TestRoundTripLocksUnpredicted(t *testing.T) {
	t.Parallel()
	fsys := os.DirFS(filepath.Join(fixtures, "locks_measured"))
	report, err := schema.RoundTrip(context.Background(), newDB(t), fsys, schema.WithPredictions(map[string][]lint.Prediction{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, ml := range report.Locks {
		if ml.Direction == db.Up && ml.Version == 3 {
			if len(ml.LintDiffers) != 1 || ml.LintDiffers[0] != "took SHARE on public.items; the lint predicted no lock blocking writes" {
				t.Errorf("up 3 without predictions: differs %q", ml.LintDiffers)
			}
			return
		}
	}
	t.Fatal("up 3 was not measured")
}

// BenchmarkRoundTripLocks: the proof of 200 migrations with and without the lock measurement,
// interleaved so both see the same load. Each migration creates a table with an index and alters
// an earlier one, so the catalog grows as a real history's does.
func BenchmarkRoundTripLocks(b *testing.B) {
	fsys := fstest.MapFS{}
	const n = 200
	for i := 1; i <= n; i++ {
		up := fmt.Sprintf("CREATE TABLE t%d (id bigint PRIMARY KEY, name text);\nCREATE INDEX t%d_name_idx ON t%d (name);\n", i, i, i)
		down := fmt.Sprintf("DROP TABLE t%d;\n", i)
		if i > 1 {
			up += fmt.Sprintf("ALTER TABLE t%d ADD COLUMN c%d int;\n", i-1, i)
			down = fmt.Sprintf("ALTER TABLE t%d DROP COLUMN c%d;\n", i-1, i) + down
		}
		fsys[fmt.Sprintf("%06d_m%d.up.sql", i, i)] = &fstest.MapFile{Data: []byte(up)}
		fsys[fmt.Sprintf("%06d_m%d.down.sql", i, i)] = &fstest.MapFile{Data: []byte(down)}
	}
	var with, without time.Duration
	first := true
	for b.Loop() {
		first = !first // which goes first alternates: the second of a pair runs on a warmer server
		for _, measured := range []bool{first, !first} {
			cfg := newDB(b)
			var opts []schema.RoundTripOption
			if !measured {
				opts = append(opts, schema.WithoutLocks())
			}
			start := time.Now()
			report, err := schema.RoundTrip(context.Background(), cfg, fsys, opts...)
			if err != nil {
				b.Fatal(err)
			}
			if measured {
				with += time.Since(start)
				if len(report.Locks) != 2*n {
					b.Fatalf("%d migrations measured, want %d", len(report.Locks), 2*n)
				}
			} else {
				without += time.Since(start)
			}
		}
	}
	b.ReportMetric(with.Seconds()/float64(b.N), "s-with-locks/op")
	b.ReportMetric(without.Seconds()/float64(b.N), "s-without/op")
	b.ReportMetric(float64(with)/float64(without), "ratio")
}
