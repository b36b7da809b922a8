package schema_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"visiona-backend/internal/db"
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
	src, err := db.LoadSource(migrations.FS)
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
		"down_forgets_index":       {2, "add_devices_serial_index", "index", "public.devices_serial_idx", schema.OpLeftBehind},
		"down_drops_extra_column":  {2, "add_models_source", "column", "public.models.labels", schema.OpMissing},
		"irreversible_type_change": {2, "widen_users_nickname", "column", "public.users.nickname", schema.OpChanged},
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, e := range entries {
		if e.IsDir() {
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
