package schema_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"visiona-backend/internal/db"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/schema"
	"visiona-backend/migrations"
)

// TestMigratedDatabasesSnapshotAlike: two databases migrated the same way give the same text,
// without the bookkeeping table.
func TestMigratedDatabasesSnapshotAlike(t *testing.T) {
	t.Parallel()
	a := take(t, connect(t, migrated(t)))
	b := take(t, connect(t, migrated(t)))
	if a.String() != b.String() {
		t.Fatalf("two databases migrated the same way differ:\n%s", schema.FormatDiff(schema.Diff(a, b)))
	}
	if strings.Contains(a.String(), db.VersionTable) {
		t.Errorf("the snapshot mentions %s:\n%s", db.VersionTable, a)
	}
	if a.Len() < 50 {
		t.Errorf("the migrated schema has only %d objects:\n%s", a.Len(), a)
	}
}

// TestRoundTripMigrations is what mage testDB checks: every migration of the repository
// reverses, walking up with a snapshot after each step, down comparing each, and up again.
func TestRoundTripMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := newDB(t)
	var steps []schema.Step
	report, err := schema.RoundTrip(ctx, cfg, migrations.FS, schema.WithStepFunc(func(s schema.Step) { steps = append(steps, s) }))
	if err != nil {
		var rt *schema.RoundTripError
		if errors.As(err, &rt) {
			t.Fatalf("%v\n%s", err, rt.Diff())
		}
		t.Fatal(err)
	}
	src, err := migfile.LoadSource(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	n := len(src.Migrations())
	if report.Steps != n || report.Snapshots != 3*n+1 || len(steps) != 3*n {
		t.Errorf("report: %d migrations, %d snapshots, %d steps; want %d, %d, %d", report.Steps, report.Snapshots, len(steps), n, 3*n+1, 3*n)
	}
	if report.Baseline.Len() != 0 {
		t.Errorf("the snapshot at version 0 is not empty:\n%s", report.Baseline)
	}
	for i, s := range steps {
		wantPhase, wantVersion := schema.PhaseUp, uint(i+1)
		switch {
		case i >= 2*n:
			wantPhase, wantVersion = schema.PhaseReapply, uint(i-2*n+1)
		case i >= n:
			wantPhase, wantVersion = schema.PhaseDown, uint(2*n-i)
		}
		if s.Phase != wantPhase || s.Version != wantVersion || !s.Matched || s.Snapshot <= 0 {
			t.Errorf("step %d = %+v, want phase %s version %d matched", i, s, wantPhase, wantVersion)
		}
	}
	if now := take(t, connect(t, cfg)); !report.Final.Equal(now) || !now.Equal(take(t, connect(t, migrated(t)))) {
		t.Error("the final snapshot is not the schema of a migrated database")
	}
	t.Logf("%d migrations: up %s, down %s, reapply %s (total %s); %d snapshots in %s (%s each)",
		n, report.Up, report.Down, report.Reapply, report.Total(), report.Snapshots, report.SnapshotTime, report.SnapshotTime/time.Duration(report.Snapshots))
}

// TestRoundTripBroken walks each fixture of testdata/roundtrip (see its README.md) and
// requires the first mismatch at the migration whose down is wrong, naming the object.
func TestRoundTripBroken(t *testing.T) {
	const dir = "../../testdata/roundtrip"
	cases := map[string]struct {
		version uint
		name    string
		kind    string
		object  string
		op      string
	}{
		"down_forgets_index":        {2, "add_devices_serial_index", "index", "public.devices_serial_idx", schema.OpLeftBehind},
		"down_drops_extra_column":   {2, "add_models_source", "column", "public.models.labels", schema.OpMissing},
		"irreversible_type_change":  {2, "widen_users_nickname", "column", "public.users.nickname", schema.OpChanged},
		"down_forgets_typed_table":  {2, "untype_pairs", "table", "public.pairs", schema.OpChanged},
		"down_forgets_view_default": {2, "default_device_name", "column", "public.device_names.name", schema.OpLeftBehind},
	}
	// Folders whose walk is checked by other tests.
	others := map[string]bool{"identity_dropped_by_down": true, "down_moves_column": true, "locks_measured": true}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, e := range entries {
		if e.IsDir() && !others[e.Name()] {
			folders = append(folders, e.Name())
		}
	}
	if want := slices.Sorted(maps.Keys(cases)); !slices.Equal(folders, want) {
		t.Fatalf("testdata/roundtrip has folders %v, the test knows %v: add the new one to both", folders, want)
	}
	for folder, tc := range cases {
		t.Run(folder, func(t *testing.T) {
			t.Parallel()
			var steps []schema.Step
			report, err := schema.RoundTrip(context.Background(), newDB(t), os.DirFS(filepath.Join(dir, folder)),
				schema.WithStepFunc(func(s schema.Step) { steps = append(steps, s) }))
			var rt *schema.RoundTripError
			if !errors.As(err, &rt) || !errors.Is(err, schema.ErrNotReversible) {
				t.Fatalf("RoundTrip: %v, want a *RoundTripError", err)
			}
			if rt.Phase != schema.PhaseDown || rt.Version != tc.version || rt.Name != tc.name {
				t.Errorf("blamed %s of %06d_%s, want down of %06d_%s", rt.Phase, rt.Version, rt.Name, tc.version, tc.name)
			}
			if len(rt.Changes) != 1 || rt.Changes[0].Kind != tc.kind || rt.Changes[0].Name != tc.object || rt.Changes[0].Op != tc.op {
				t.Errorf("changes, want only %s %s %s:\n%s", tc.kind, tc.object, tc.op, rt.Diff())
			}
			head := tc.kind + " " + tc.object + ": " + tc.op
			if !strings.HasPrefix(rt.Diff(), head+"\n") {
				t.Errorf("diff does not start with %q:\n%s", head, rt.Diff())
			}
			downFile := "000002_" + tc.name + ".down.sql"
			if msg := err.Error(); !strings.Contains(msg, downFile) || !strings.Contains(msg, tc.object) {
				t.Errorf("error %q does not name %s and %s", msg, downFile, tc.object)
			}
			// The walk stopped at the first mismatch: up 1-3, down 3 (matched), down 2 (blamed).
			last := steps[len(steps)-1]
			if len(steps) != 5 || last.Version != tc.version || last.Matched || report.Steps != 3 {
				t.Errorf("steps %+v, report %+v", steps, report)
			}
			t.Log(err)
		})
	}
}

// TestRoundTripReapplyDiffers: every down matches, but an up that depends on when it runs
// builds a different schema the second time; the reapply walk blames it.
func TestRoundTripReapplyDiffers(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"000001_create_t.up.sql":   {Data: []byte("create table t (a int);\n")},
		"000001_create_t.down.sql": {Data: []byte("drop table t;\n")},
		"000002_stamp_t.up.sql":    {Data: []byte("do $$ begin execute format('comment on table t is %L', clock_timestamp()::text); end $$;\n")},
		"000002_stamp_t.down.sql":  {Data: []byte("comment on table t is null;\n")},
		"000003_add_t_b.up.sql":    {Data: []byte("alter table t add column b int;\n")},
		"000003_add_t_b.down.sql":  {Data: []byte("alter table t drop column b;\n")},
	}
	_, err := schema.RoundTrip(context.Background(), newDB(t), fsys)
	var rt *schema.RoundTripError
	if !errors.As(err, &rt) {
		t.Fatalf("RoundTrip: %v, want a *RoundTripError", err)
	}
	if rt.Phase != schema.PhaseReapply || rt.Version != 2 || len(rt.Changes) != 1 || rt.Changes[0].Name != "table public.t" || rt.Changes[0].Op != schema.OpChanged {
		t.Errorf("got %+v", rt)
	}
	if !strings.HasPrefix(err.Error(), "000002_stamp_t.up.sql, applied again after every down, builds a different schema (1 object differs):\ncomment table public.t: changed\n") {
		t.Errorf("error text:\n%v", err)
	}
}

func TestRoundTripNoMigrations(t *testing.T) {
	t.Parallel()
	report, err := schema.RoundTrip(context.Background(), newDB(t), fstest.MapFS{"README.md": {Data: []byte("none yet")}})
	if err != nil || report.Steps != 0 || report.Snapshots != 1 || report.Final.Len() != 0 {
		t.Fatalf("RoundTrip with no migrations: %+v, %v", report, err)
	}
}

func TestRoundTripRefusesMigratedDatabase(t *testing.T) {
	t.Parallel()
	_, err := schema.RoundTrip(context.Background(), migrated(t), migrations.FS)
	if !errors.Is(err, schema.ErrAlreadyMigrated) {
		t.Fatalf("RoundTrip on a migrated database: %v, want ErrAlreadyMigrated", err)
	}
}

// BenchmarkTake snapshots the repository's migrated schema.
func BenchmarkTake(b *testing.B) {
	conn := connect(b, migrated(b))
	ctx := context.Background()
	for b.Loop() {
		if _, err := schema.Take(ctx, conn); err != nil {
			b.Fatal(err)
		}
	}
}

const fixtures = "../../testdata/roundtrip"

// TestRoundTripIdentityDroppedByDown: ALTER TABLE ... DROP IDENTITY drops the identity sequence
// without a sql_drop event; the correct down must pass, with nothing for a full snapshot to
// correct.
func TestRoundTripIdentityDroppedByDown(t *testing.T) {
	t.Parallel()
	report, err := schema.RoundTrip(context.Background(), newDB(t), os.DirFS(filepath.Join(fixtures, "identity_dropped_by_down")))
	if err != nil {
		t.Fatalf("a correct down was reported: %v", err)
	}
	if report.LogWrong != 0 || report.Confirmed != 0 || len(report.Findings) != 0 {
		t.Errorf("report %+v: want no mismatch even before confirming", report)
	}
}

// TestRoundTripColumnOrder: a down that re-adds a dropped column restores every column but not
// their order. Warned about by default, failed with ColumnOrderFail, silent with ColumnOrderIgnore.
func TestRoundTripColumnOrder(t *testing.T) {
	fsys := os.DirFS(filepath.Join(fixtures, "down_moves_column"))
	t.Run("warn", func(t *testing.T) {
		t.Parallel()
		report, err := schema.RoundTrip(context.Background(), newDB(t), fsys)
		if err != nil {
			t.Fatal(err)
		}
		if len(report.Warnings) != 1 || report.Warnings[0].Version != 2 || len(report.Warnings[0].Changes) != 1 {
			t.Fatalf("warnings %+v, want one for 000002", report.Warnings)
		}
		c := report.Warnings[0].Changes[0]
		if c.Kind != schema.KindColumnOrder || c.Name != "public.models" || c.Want != "id, name, source" || c.Got != "id, source, name" {
			t.Errorf("warning %+v", c)
		}
	})
	t.Run("fail", func(t *testing.T) {
		t.Parallel()
		_, err := schema.RoundTrip(context.Background(), newDB(t), fsys, schema.WithColumnOrder(schema.ColumnOrderFail))
		var rt *schema.RoundTripError
		if !errors.As(err, &rt) || rt.Version != 2 || len(rt.Changes) != 1 || rt.Changes[0].Kind != schema.KindColumnOrder {
			t.Fatalf("RoundTrip: %v, want a column order finding for 000002", err)
		}
		if !strings.Contains(err.Error(), "column_order public.models: changed\n    - id, name, source\n    + id, source, name") {
			t.Errorf("error text:\n%v", err)
		}
	})
	t.Run("ignore", func(t *testing.T) {
		t.Parallel()
		report, err := schema.RoundTrip(context.Background(), newDB(t), fsys, schema.WithColumnOrder(schema.ColumnOrderIgnore))
		if err != nil || len(report.Warnings) != 0 {
			t.Fatalf("RoundTrip: %v, warnings %+v", err, report.Warnings)
		}
	})
}

// brokenTwice has wrong downs in 000001, 000002 and 000004; 000003's is right.
func brokenTwice() fstest.MapFS {
	return fstest.MapFS{
		"000001_create_t.up.sql":    {Data: []byte("create table t (a int);\ncreate table u (a int);\n")},
		"000001_create_t.down.sql":  {Data: []byte("drop table t;\n")},
		"000002_index_t.up.sql":     {Data: []byte("create index t_a on t (a);\n")},
		"000002_index_t.down.sql":   {Data: []byte("comment on table u is null;\n")},
		"000003_add_t_b.up.sql":     {Data: []byte("alter table t add column b int;\n")},
		"000003_add_t_b.down.sql":   {Data: []byte("alter table t drop column b;\n")},
		"000004_comment_t.up.sql":   {Data: []byte("comment on table t is 'T.';\n")},
		"000004_comment_t.down.sql": {Data: []byte("comment on table t is 'other';\n")},
	}
}

// TestRoundTripKeepGoing: every wrong down is reported in one run, each with only what it got
// wrong, carrying on from the schema the previous wrong down left.
func TestRoundTripKeepGoing(t *testing.T) {
	t.Parallel()
	report, err := schema.RoundTrip(context.Background(), newDB(t), brokenTwice(), schema.WithKeepGoing())
	if !errors.Is(err, schema.ErrNotReversible) {
		t.Fatalf("RoundTrip: %v", err)
	}
	var got []string
	for _, f := range report.Findings {
		for _, c := range f.Changes {
			got = append(got, fmt.Sprintf("%d %s %s %s", f.Version, c.Kind, c.Name, c.Op))
		}
	}
	want := []string{"4 comment table public.t left behind", "2 index public.t_a left behind", "1 column public.u.a left behind", "1 table public.u left behind"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
	if !report.ReapplySkipped {
		t.Error("the reapply walk ran after wrong downs")
	}
	for _, name := range []string{"000004_comment_t.down.sql", "000002_index_t.down.sql", "000001_create_t.down.sql"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// TestRoundTripFrom proves only the migrations after the version given: 000001's wrong down is
// not walked.
func TestRoundTripFrom(t *testing.T) {
	t.Parallel()
	report, err := schema.RoundTrip(context.Background(), newDB(t), brokenTwice(), schema.WithKeepGoing(), schema.WithFrom(1))
	if !errors.Is(err, schema.ErrNotReversible) || report.Steps != 3 || report.From != 1 {
		t.Fatalf("RoundTrip: %v, %+v", err, report)
	}
	var versions []uint
	for _, f := range report.Findings {
		versions = append(versions, f.Version)
	}
	if !slices.Equal(versions, []uint{4, 2}) {
		t.Errorf("findings for %v, want 4 and 2", versions)
	}
	if _, err := schema.RoundTrip(context.Background(), newDB(t), brokenTwice(), schema.WithFrom(7)); !errors.Is(err, schema.ErrInvalidOption) {
		t.Errorf("-from an unknown version: %v", err)
	}
}
