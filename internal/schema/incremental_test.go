package schema_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"visiona-backend/internal/config"
	"visiona-backend/internal/schema"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

// trackFixture adds to fixture what makes definitions print other objects' names: views on
// views, defaults calling a function and a sequence, a policy calling a function, functions
// taking a table's row type and an enum's array type, inheritance and partitions, and comments
// on every family of units.
const trackFixture = fixture + `
create table public.parent (id int, note text);
create table public.child (extra int) inherits (public.parent);
create table public.events (id int, at date not null) partition by range (at);
create table public.events_2020 partition of public.events for values from ('2020-01-01') to ('2021-01-01');
create view public.item_codes as select id, qty from public.items;
create view public.item_codes2 as select * from public.item_codes;
create function public.double(x integer) returns integer language sql as 'select x * 2';
create table public.calc (a integer default public.double(2), b bigint default nextval('public.counter'));
create policy items_positive on public.items using (public.double(qty) > 0);
create rule notes_noop as on update to public.notes do instead nothing;
create function public.take_item(i public.items) returns text language sql as 'select i.name';
create function public.take_moods(m public.mood[]) returns integer language sql as 'select 1';
create function public.take_items(i public.items[]) returns integer language sql as 'select 1';
create materialized view public.item_totals as select count(*) as n from public.items;
create index item_totals_n on public.item_totals (n);
create table public.ident (id integer generated always as identity, b integer);
create table public.owned (id serial primary key);
create unique index items_code_idx on public.items (code);
alter table public.items replica identity using index items_code_idx;
comment on view public.item_codes is 'Codes.';
comment on function public.double(integer) is 'Twice.';
comment on type public.mood is 'Feelings.';
comment on column public.pair.a is 'First.';
comment on schema app is 'Application.';
comment on constraint positive_check on domain public.positive is 'Positive.';
comment on trigger items_touch on public.items is 'Touch.';
comment on index public.items_name_idx is 'Name index.';
comment on sequence public.counter is 'Counter.';
`

// trackCase is DDL run after trackFixture; full: the log cannot be trusted for it, so the
// tracker must take a full snapshot.
type trackCase struct {
	name string
	sql  string
	full bool
}

func trackCases() []trackCase {
	cases := []trackCase{
		// Renames change how other units print the renamed object.
		{"rename table", `alter table items rename to things`, false},
		{"rename column used by a view, a constraint and a policy", `alter table items rename column qty to quantity`, false},
		{"rename column used by a unique constraint and an index", `alter table items rename column code to sku`, false},
		{"rename identity column referenced by a foreign key", `alter table items rename column id to item_id`, false},
		{"move table to another schema", `alter table items set schema app`, false},
		{"rename sequence used by a default", `alter sequence counter rename to counter2`, false},
		{"rename function used by a default and a policy", `alter function double(integer) rename to twice`, false},
		{"move function", `alter function double(integer) set schema app`, false},
		{"rename enum used by a column and a function", `alter type mood rename to feeling`, false},
		{"rename enum value", `alter type mood rename value 'ok' to 'fine'`, false},
		{"rename domain", `alter domain positive rename to positive_int`, false},
		{"rename composite attribute with a comment", `alter type pair rename attribute a to first`, false},
		{"rename index", `alter index items_name_idx rename to items_by_name`, false},
		{"rename replica identity index", `alter index items_code_idx rename to items_by_code`, false},
		{"rename constraint", `alter table items rename constraint items_qty_check to items_qty_positive`, false},
		{"rename view used by a view", `alter view item_codes rename to item_skus`, false},
		{"rename trigger", `alter trigger items_touch on items rename to items_touched`, false},
		{"rename policy", `alter policy items_positive on items rename to items_pos`, false},
		{"rename rule", `alter rule notes_noop on notes rename to notes_nothing`, false},
		{"change identity column type", `alter table ident alter column id type bigint`, false},
		// Drops cascade to objects in other units.
		{"drop table cascade", `drop table items cascade`, false},
		{"drop function cascade", `drop function touch() cascade`, false},
		{"drop type cascade", `drop type mood cascade`, false},
		{"drop schema cascade", `drop schema app cascade`, false},
		{"drop index", `drop index items_name_idx`, false},
		{"drop replica identity index", `alter table items replica identity default; drop index items_code_idx`, false},
		{"drop sequence cascade", `drop sequence counter cascade`, false},
		{"drop view cascade", `drop view item_codes cascade`, false},
		{"drop trigger", `drop trigger items_touch on items`, false},
		{"drop policy", `drop policy items_positive on items`, false},
		{"drop rule", `drop rule notes_noop on notes`, false},
		{"drop materialized view", `drop materialized view item_totals`, false},
		{"drop domain constraint with a comment", `alter domain positive drop constraint positive_check`, false},
		// Replacing and commenting.
		{"replace function body", "create or replace function touch() returns trigger language plpgsql as $$\nbegin\n\tnew.name := 'x';\n\treturn new;\nend\n$$", false},
		{"replace view adding a column", `create or replace view item_codes as select id, qty, name from items`, false},
		{"comment on materialized view", `comment on materialized view item_totals is 'Totals.'`, false},
		{"comment on policy and rule", `comment on policy items_positive on items is 'P.'; comment on rule notes_noop on notes is 'R.'`, false},
		{"comment on table constraint", `comment on constraint items_qty_check on items is 'Q.'`, false},
		{"comment on schema", `comment on schema app is 'App.'`, false},
		{"drop comment on domain constraint", `comment on constraint positive_check on domain positive is null`, false},
		// Several units at once, and DDL the log sees through functions.
		{"several tables", `alter table items add column a int; alter table notes add column b int; create table extra (x int primary key); comment on table calc is 'C.'`, false},
		{"table created in a DO block", `do $$ begin execute 'create table made_in_do (a int)'; end $$`, false},
		{"table created by a function", `create function make() returns void language plpgsql as $$ begin execute 'create table made_by_fn (a int)'; end $$; select make()`, false},
		{"foreign key to another schema", `create table app.refs (item bigint references public.items (id))`, false},
		{"create partition", `create table events_2021 partition of events for values from ('2021-01-01') to ('2022-01-01')`, false},
		{"create inheriting table", `create table child2 () inherits (parent)`, false},
		{"no-op DDL", `grant select on items to public; alter table items owner to current_user; refresh materialized view item_totals`, false},
		{"extension", `create extension pg_trgm`, false},
		// The log cannot be trusted: the tracker reads everything.
		{"rename schema", `alter schema app rename to app2`, true},
		{"partitioned index", `create index events_at_idx on events (at)`, true},
		{"detach partition", `alter table events detach partition events_2020`, true},
		{"column added to a parent table", `alter table parent add column more int`, true},
		{"extension member released", `create extension pg_trgm; alter extension pg_trgm drop function similarity(text, text)`, true},
	}
	for _, k := range kindCases() {
		cases = append(cases, trackCase{name: "kind: " + k.name, sql: k.sql})
	}
	return cases
}

// withoutLog is s without the DDL log's schema, which Take sees during a round trip.
func withoutLog(s *schema.Snapshot) *schema.Snapshot {
	out := &schema.Snapshot{}
	for _, o := range s.Objects {
		name := o.Name
		if o.Kind == schema.KindComment {
			_, name, _ = strings.Cut(name, " ")
		}
		if name == schema.LogSchema || strings.HasPrefix(name, schema.LogSchema+".") {
			continue
		}
		out.Objects = append(out.Objects, o)
	}
	return out
}

// tracked returns a database with trackFixture and setup in it, a connection to run DDL on,
// and a tracker that has taken its first snapshot.
func tracked(t *testing.T, setup string) (*schema.Tracker, func(string)) {
	t.Helper()
	ctx := context.Background()
	cfg := newDB(t)
	ddl := connect(t, cfg)
	exec(t, ddl, trackFixture+setup)
	tr, err := schema.NewTracker(ctx, connect(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return tr, func(sql string) {
		t.Helper()
		exec(t, ddl, sql)
		got, full, reason, err := tr.Step(ctx)
		if err != nil {
			t.Fatalf("after %q: %v", sql, err)
		}
		want := withoutLog(take(t, ddl))
		if changes := schema.Diff(want, got); len(changes) > 0 {
			t.Fatalf("after %q, the incremental snapshot (full: %v %s) differs from Take:\n%s", sql, full, reason, schema.FormatDiff(changes))
		}
	}
}

// TestIncrementalMatchesFull runs each case after trackFixture and requires the tracker's
// snapshot to be exactly Take's, and read incrementally unless the case says otherwise.
func TestIncrementalMatchesFull(t *testing.T) {
	t.Parallel()
	for _, tc := range trackCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := newDB(t)
			ddl := connect(t, cfg)
			exec(t, ddl, trackFixture)
			tr, err := schema.NewTracker(ctx, connect(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := tr.Close(ctx); err != nil {
					t.Error(err)
				}
			}()
			before := withoutLog(take(t, ddl))
			exec(t, ddl, tc.sql)
			got, full, reason, err := tr.Step(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := withoutLog(take(t, ddl))
			if changes := schema.Diff(want, got); len(changes) > 0 {
				t.Fatalf("the incremental snapshot (full: %v %s) differs from Take:\n%s", full, reason, schema.FormatDiff(changes))
			}
			// Another test may create or drop a role meanwhile: that makes any step full.
			if full != tc.full && reason != "roles or tablespaces changed" {
				t.Errorf("full snapshot: %v (%s), want %v", full, reason, tc.full)
			}
			if !strings.Contains(tc.name, "no-op") && before.Equal(want) {
				t.Errorf("the case changes nothing Take sees")
			}
		})
	}
}

// TestIncrementalSequence applies DDL one statement at a time, as migrations would, and checks
// the tracker after each: state carried over steps (an object created, renamed, then dropped;
// a table dropped and created again under the same name) must stay exact.
func TestIncrementalSequence(t *testing.T) {
	t.Parallel()
	_, step := tracked(t, "")
	for _, sql := range []string{
		`create table seq_a (id bigint primary key, name text not null default 'x')`,
		`create index seq_a_name_idx on seq_a (lower(name))`,
		`comment on table seq_a is 'A.'`,
		`alter table seq_a rename to seq_b`,
		`alter table seq_b rename column name to title`,
		`create view seq_v as select title from seq_b`,
		`drop index seq_a_name_idx`,
		`drop table seq_b cascade`,
		`create table seq_b (id bigint primary key)`,
		`drop table seq_b; create table seq_b (id integer primary key)`,
		`create schema seq_s; create table seq_s.t (a int)`,
		`drop schema seq_s cascade`,
		`create type seq_e as enum ('a'); create table seq_c (e seq_e)`,
		`alter type seq_e add value 'b'`,
		`drop type seq_e cascade`,
		`alter table items drop column mood, add column mood2 public.mood`,
		`select 1`,
	} {
		step(sql)
	}
}

// TestIncrementalRoleRename: roles are shared objects, which event triggers do not see, yet a
// policy prints their names.
func TestIncrementalRoleRename(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	role := "visiona_test_role_" + strings.ToLower(rand.Text()[:12])
	cfg := newDB(t)
	admin := connect(t, cfg)
	exec(t, admin, "create role "+role)
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "drop owned by "+role+"_renamed, "+role+" cascade"); err != nil {
			t.Logf("drop owned: %v", err)
		}
		for _, r := range []string{role, role + "_renamed"} {
			if _, err := admin.Exec(context.Background(), "drop role if exists "+r); err != nil {
				t.Logf("drop role: %v", err)
			}
		}
	})
	exec(t, admin, trackFixture+"create policy items_role on public.items to "+role+" using (true)")
	tr, err := schema.NewTracker(ctx, connect(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	exec(t, admin, "alter role "+role+" rename to "+role+"_renamed")
	got, full, _, err := tr.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if changes := schema.Diff(withoutLog(take(t, admin)), got); len(changes) > 0 || !full {
		t.Fatalf("after a role rename: full %v, changes:\n%s", full, schema.FormatDiff(changes))
	}
}

// roundTripModes are the ways RoundTrip can walk; each must reach the same verdict.
var roundTripModes = []struct {
	name string
	opts []schema.RoundTripOption
}{
	{"incremental", nil},
	{"cross-checked", []schema.RoundTripOption{schema.WithCrossCheck()}},
	{"full snapshots", []schema.RoundTripOption{schema.WithFullSnapshots()}},
}

// requireNoLog fails unless RoundTrip removed its DDL log from the database.
func requireNoLog(t *testing.T, cfg config.DB) {
	t.Helper()
	var n int
	err := connect(t, cfg).QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM pg_event_trigger WHERE evtname LIKE 'visiona_roundtrip%') + (SELECT count(*) FROM pg_namespace WHERE nspname = $1)`,
		schema.LogSchema).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("RoundTrip left %d of its DDL log's event triggers and schema behind", n)
	}
}

// TestRoundTripModesAgree walks sets of migrations whose every down is right, in each mode:
// the cross-checked walk proves that the incremental snapshot equals a full one after every
// step of every phase.
func TestRoundTripModesAgree(t *testing.T) {
	t.Parallel()
	sets := map[string]fs.FS{
		"repository": migrations.FS,
		"kinds": testenv.Pairs(
			[2]string{trackFixture, `drop schema app cascade;
drop table if exists public.items, public.notes, public.parent, public.child, public.events, public.calc, public.owned, public.ident cascade;
drop function if exists public.touch, public.double, public.take_item, public.take_moods, public.take_items cascade;
drop type if exists public.mood, public.pair cascade; drop domain if exists public.positive cascade; drop sequence if exists public.counter cascade;
drop table public.pairs; drop type public.pair2, public.span; drop aggregate public.total(integer); drop foreign table public.remote;
drop server visiona_nowhere; drop foreign data wrapper visiona_dummy`},
			[2]string{`alter table items rename to things; alter table things rename column qty to quantity`, `alter table things rename column quantity to qty; alter table things rename to items`},
			[2]string{`alter sequence counter rename to counter2; alter function double(integer) rename to twice`, `alter function twice(integer) rename to double; alter sequence counter2 rename to counter`},
			[2]string{`alter type mood rename to feeling; alter type pair rename attribute a to first`, `alter type pair rename attribute first to a; alter type feeling rename to mood`},
			[2]string{`alter table things set schema app`, `alter table app.things set schema public`},
			[2]string{`create index things_note_idx on app.things (note); comment on index app.things_note_idx is 'Note.'`, `drop index app.things_note_idx`},
			[2]string{`drop index app.items_name_idx`, `create index items_name_idx on app.things (name); comment on index app.items_name_idx is 'Name index.'`},
			[2]string{"create or replace function touch() returns trigger language plpgsql as $$\nbegin\n\treturn null;\nend\n$$", "create or replace function touch() returns trigger language plpgsql as $$\nbegin\n\treturn new;\nend\n$$"},
			[2]string{`create table events_2021 partition of events for values from ('2021-01-01') to ('2022-01-01')`, `drop table events_2021`},
			[2]string{`create index events_at_idx on events (at)`, `drop index events_at_idx`},
			[2]string{`alter schema app rename to app2`, `alter schema app2 rename to app`},
			[2]string{`comment on table app2.things is 'Things.'; comment on column pair.first is null`, `comment on table app2.things is 'Items.'; comment on column pair.first is 'First.'`},
			[2]string{`create extension pg_trgm; create index things_name_trgm on app2.things using gin (name gin_trgm_ops)`, `drop extension pg_trgm cascade`},
			[2]string{`drop function touch() cascade`, "create function public.touch() returns trigger language plpgsql as $$\nbegin\n\treturn null;\nend\n$$;\ncreate trigger items_touch before update on app2.things for each row execute function public.touch();\ncomment on trigger items_touch on app2.things is 'Touch.'"},
		),
	}
	for name, fsys := range sets {
		for _, mode := range roundTripModes {
			t.Run(name+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				cfg := newDB(t)
				report, err := schema.RoundTrip(context.Background(), cfg, fsys, mode.opts...)
				if err != nil {
					t.Fatal(err)
				}
				if report.Fallback != "" {
					t.Errorf("fell back to full snapshots: %s", report.Fallback)
				}
				if now := take(t, connect(t, cfg)); !report.Final.Equal(now) {
					t.Errorf("the final snapshot is not the schema left:\n%s", schema.FormatDiff(schema.Diff(report.Final, now)))
				}
				requireNoLog(t, cfg)
				t.Logf("%d steps, %d snapshots of which %d full, in %s", report.Steps, report.Snapshots, report.FullSnapshots, report.SnapshotTime)
			})
		}
	}
}

// TestRoundTripIncrementalBlame: downs that are wrong in ways an incremental snapshot could
// miss if it only looked where the down itself did; every mode must blame the same migration
// with the same changes.
func TestRoundTripIncrementalBlame(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fsys    fstest.MapFS
		version uint
		changes string // FormatDiff's headers, one per line
	}{
		{
			// The down reverts what it did to a, but forgets b: b is not in the down's log.
			"down forgets an unrelated table it touched",
			testenv.Pairs(
				[2]string{`create table a (id int); create table b (id int)`, `drop table a, b`},
				[2]string{`alter table a add column x int; alter table b add column y int`, `alter table a drop column x`},
				[2]string{`comment on table a is 'A.'`, `comment on table a is null`},
			),
			2, "column public.b.y: left behind",
		},
		{
			"down drops what an earlier migration created",
			testenv.Pairs(
				[2]string{`create table t (id int); create index t_id_idx on t (id)`, `drop table t`},
				[2]string{`create table u (id int)`, `drop table u`},
				[2]string{`alter table t add column z int`, `alter table t drop column z; drop index t_id_idx`},
			),
			3, "index public.t_id_idx: missing",
		},
		{
			"down forgets a comment",
			testenv.Pairs(
				[2]string{`create table t (id int)`, `drop table t`},
				[2]string{`comment on table t is 'T.'`, `select 1`},
				[2]string{`create table u (id int)`, `drop table u`},
			),
			2, "comment table public.t: left behind",
		},
		{
			"down restores the wrong function body",
			testenv.Pairs(
				[2]string{`create function f() returns integer language sql as 'select 1'`, `drop function f()`},
				[2]string{`create or replace function f() returns integer language sql as 'select 2'`, `create or replace function f() returns integer language sql as 'select 3'`},
				[2]string{`create table u (id int)`, `drop table u`},
			),
			2, "function public.f(): changed",
		},
		{
			"down forgets one of several tables",
			testenv.Pairs(
				[2]string{`create table a (id int); create table b (id int); create table c (id int)`, `drop table a, b, c`},
				[2]string{`alter table a add column x int; alter table b add column x int; alter table c add column x int`, `alter table a drop column x; alter table c drop column x`},
				[2]string{`create table u (id int)`, `drop table u`},
			),
			2, "column public.b.x: left behind",
		},
		{
			"down renames back to another name",
			testenv.Pairs(
				[2]string{`create table t (a int); create view v as select a from t`, `drop view v; drop table t`},
				[2]string{`alter table t rename column a to b`, `alter table t rename column b to c`},
				[2]string{`create table u (id int)`, `drop table u`},
			),
			2, "column public.t.a: missing\ncolumn public.t.c: left behind\nview public.v: changed",
		},
		{
			"down drops a table whose foreign key another table had",
			testenv.Pairs(
				[2]string{`create table p (id int primary key); create table c (p int references p)`, `drop table c, p`},
				[2]string{`create table x (id int)`, `drop table x; drop table p cascade; create table p (id int primary key)`},
				[2]string{`create table u (id int)`, `drop table u`},
			),
			2, "constraint public.c.c_p_fkey: missing",
		},
	}
	for _, tc := range cases {
		for _, mode := range roundTripModes {
			t.Run(tc.name+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				cfg := newDB(t)
				_, err := schema.RoundTrip(context.Background(), cfg, tc.fsys, mode.opts...)
				var rt *schema.RoundTripError
				if !errors.As(err, &rt) {
					t.Fatalf("RoundTrip: %v, want a *RoundTripError", err)
				}
				var heads []string
				for _, c := range rt.Changes {
					heads = append(heads, c.Kind+" "+c.Name+": "+c.Op)
				}
				if rt.Phase != schema.PhaseDown || rt.Version != tc.version || strings.Join(heads, "\n") != tc.changes {
					t.Errorf("blamed %s of %d with:\n%s\nwant down of %d with:\n%s", rt.Phase, rt.Version, strings.Join(heads, "\n"), tc.version, tc.changes)
				}
				requireNoLog(t, cfg)
			})
		}
	}
}

// TestRoundTripFallback: a migration that updates the catalogs by hand changes the schema
// without DDL, which the log cannot see. The full snapshot at the end of the up walk finds it,
// and the walk is done again with full snapshots, which proves the round trip or blames the
// right migration.
func TestRoundTripFallback(t *testing.T) {
	t.Parallel()
	const enable = `update pg_catalog.pg_class set relrowsecurity = true where oid = 'public.t'::regclass`
	const disable = `update pg_catalog.pg_class set relrowsecurity = false where oid = 'public.t'::regclass`
	for name, tc := range map[string]struct {
		down    string
		blamed  uint
		changes string
	}{
		"reversed":     {disable, 0, ""},
		"not reversed": {`select 1`, 2, "table public.t: changed"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := newDB(t)
			fsys := testenv.Pairs(
				[2]string{`create table t (id int)`, `drop table t`},
				[2]string{enable, tc.down},
				[2]string{`create table u (id int)`, `drop table u`},
			)
			var steps []schema.Step
			report, err := schema.RoundTrip(context.Background(), cfg, fsys, schema.WithStepFunc(func(s schema.Step) { steps = append(steps, s) }))
			requireNoLog(t, cfg)
			if report == nil || !strings.Contains(report.Fallback, "missed") {
				t.Fatalf("report %+v, err %v: want a fallback", report, err)
			}
			if tc.blamed == 0 {
				if err != nil {
					t.Fatal(err)
				}
				// The walk done again takes full snapshots only; the first walk's first two up
				// steps were incremental (unless another test changed roles meanwhile).
				if report.FullSnapshots < report.Snapshots-2 {
					t.Errorf("%d full snapshots of %d", report.FullSnapshots, report.Snapshots)
				}
				return
			}
			var rt *schema.RoundTripError
			if !errors.As(err, &rt) || rt.Phase != schema.PhaseDown || rt.Version != tc.blamed || len(rt.Changes) != 1 ||
				rt.Changes[0].Kind+" "+rt.Changes[0].Name+": "+rt.Changes[0].Op != tc.changes {
				t.Fatalf("RoundTrip: %v, want down of %d blamed for %s", err, tc.blamed, tc.changes)
			}
		})
	}
}

// TestRoundTripLogDropped: a migration that drops the DDL log's event trigger leaves nothing to
// trust the log with; the walk goes on with full snapshots, and still removes what is left of the
// log at the end.
func TestRoundTripLogDropped(t *testing.T) {
	t.Parallel()
	cfg := newDB(t)
	fsys := testenv.Pairs(
		[2]string{`create table t (id int)`, `drop table t`},
		[2]string{`drop event trigger if exists ` + schema.DDLTrigger, `select 1`},
		[2]string{`create table u (id int)`, `drop table u`},
	)
	report, err := schema.RoundTrip(context.Background(), cfg, fsys)
	if err != nil {
		t.Fatal(err)
	}
	requireNoLog(t, cfg)
	// From the second migration on, every snapshot is full (and the one after the first may be
	// too, if another test changes roles meanwhile).
	if report.Fallback != "" || report.FullSnapshots < report.Snapshots-1 {
		t.Errorf("%d snapshots, %d full, fallback %q", report.Snapshots, report.FullSnapshots, report.Fallback)
	}
}
