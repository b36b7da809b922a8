package schema

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// The tracker's state logic, without a database: units as the catalog reads would return them.

func obj(kind, name, def string) Object { return Object{Kind: kind, Name: name, Def: def} }

// table is the unit of a table with one column per name.
func table(name string, cols ...string) *readUnit {
	u := &readUnit{name: "r " + name, objs: []Object{obj(KindTable, name, "TABLE")}}
	for _, c := range cols {
		u.objs = append(u.objs, obj(KindColumn, name+"."+c, "text"))
	}
	slices.SortFunc(u.objs, compareObjects)
	return u
}

// stateOf is the state of a full read of units.
func stateOf(t *testing.T, units map[unitID]*readUnit) *state {
	t.Helper()
	st, err := stateFrom(units)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var (
	idA = unitID{'r', 100}
	idB = unitID{'r', 200}
	idF = unitID{'f', 300}
)

func TestStateApplyReplacesTouchedUnits(t *testing.T) {
	st := stateOf(t, map[unitID]*readUnit{idA: table("public.a", "x"), idB: table("public.b", "y")})
	bBefore := st.units["r public.b"]

	// a gains a column; b is not touched, so stays as it is whatever was read.
	d, ok := st.apply(map[unitID]bool{idA: true}, map[unitID]*readUnit{idA: table("public.a", "x", "z")})
	if !ok {
		t.Fatal("apply refused a plain change")
	}
	if len(d) != 1 || len(d["r public.a"].before) != 2 || len(d["r public.a"].after) != 3 {
		t.Errorf("delta %v, want only r public.a, 2 objects to 3", d)
	}
	if !slices.Equal(st.units["r public.b"], bBefore) {
		t.Error("an untouched unit changed")
	}

	// b touched and not read: it is gone.
	d, ok = st.apply(map[unitID]bool{idB: true}, nil)
	if !ok || len(d) != 1 || d["r public.b"].after != nil || d["r public.b"].before == nil {
		t.Errorf("drop: delta %v, ok %t", d, ok)
	}
	if _, ok := st.units["r public.b"]; ok {
		t.Error("a dropped unit is still in the state")
	}
	if _, ok := st.names[idB]; ok {
		t.Error("a dropped unit's ID is still in the state")
	}

	// Touched, read back the same: no change.
	if d, ok := st.apply(map[unitID]bool{idA: true}, map[unitID]*readUnit{idA: table("public.a", "x", "z")}); !ok || len(d) != 0 {
		t.Errorf("no change: delta %v, ok %t", d, ok)
	}
}

func TestStateApplyRename(t *testing.T) {
	st := stateOf(t, map[unitID]*readUnit{idA: table("public.a", "x")})
	d, ok := st.apply(map[unitID]bool{idA: true}, map[unitID]*readUnit{idA: table("public.renamed", "x")})
	if !ok {
		t.Fatal("apply refused a rename")
	}
	if got := slices.Sorted(maps.Keys(d)); !slices.Equal(got, []string{"r public.a", "r public.renamed"}) {
		t.Errorf("delta units %v", got)
	}
	if d["r public.a"].after != nil || d["r public.renamed"].before != nil {
		t.Errorf("delta %v: want public.a gone and public.renamed new", d)
	}
	if st.names[idA] != "r public.renamed" {
		t.Errorf("names[%v] = %q", idA, st.names[idA])
	}
}

// A unit read under the name of a unit that was not touched means the log missed a rename or a
// drop: apply refuses, and leaves the state as it was.
func TestStateApplyRefusesNameClash(t *testing.T) {
	st := stateOf(t, map[unitID]*readUnit{idA: table("public.a", "x"), idB: table("public.b", "y")})
	before := maps.Clone(st.units)
	if _, ok := st.apply(map[unitID]bool{idA: true}, map[unitID]*readUnit{idA: table("public.b", "x")}); ok {
		t.Fatal("apply accepted a unit taking an untouched unit's name")
	}
	if !maps.EqualFunc(st.units, before, slices.Equal) || st.names[idA] != "r public.a" {
		t.Error("a refused apply changed the state")
	}
	// Two units read under one name: refused too.
	if _, ok := st.apply(map[unitID]bool{idA: true, idB: true},
		map[unitID]*readUnit{idA: table("public.c", "x"), idB: table("public.c", "y")}); ok {
		t.Error("apply accepted two units with one name")
	}
}

func TestStateFromRefusesDuplicates(t *testing.T) {
	if _, err := stateFrom(map[unitID]*readUnit{idA: table("public.a"), idB: table("public.a")}); !errors.Is(err, ErrInvalidSnapshot) {
		t.Errorf("two units, one name: %v", err)
	}
	dup := table("public.b", "x")
	dup.name = "r public.other"
	if _, err := stateFrom(map[unitID]*readUnit{idA: table("public.b", "x"), idB: dup}); !errors.Is(err, ErrInvalidSnapshot) {
		t.Errorf("one object in two units: %v", err)
	}
}

func TestStateChanges(t *testing.T) {
	old := stateOf(t, map[unitID]*readUnit{idA: table("public.a", "x"), idB: table("public.b")})
	next := stateOf(t, map[unitID]*readUnit{idA: table("public.a", "x", "y"), idF: {name: "f public.f()", objs: []Object{obj(KindFunction, "public.f()", "body")}}})
	d := old.changes(next)
	if got := slices.Sorted(maps.Keys(d)); !slices.Equal(got, []string{"f public.f()", "r public.a", "r public.b"}) {
		t.Fatalf("changed units %v", got)
	}
	if d["r public.b"].after != nil || d["f public.f()"].before != nil || len(d["r public.a"].after) != 3 {
		t.Errorf("delta %v", d)
	}
	if len(old.changes(old)) != 0 {
		t.Error("a state differs from itself")
	}
	snap := next.snapshot()
	if snap.Len() != 4 || !slices.IsSortedFunc(snap.Objects, compareObjects) {
		t.Errorf("snapshot %v", snap.Objects)
	}
}

func TestStateToRead(t *testing.T) {
	a := table("public.a", "x")
	a.indexes = []uint32{101}
	st := stateOf(t, map[unitID]*readUnit{idA: a, idB: table("public.b"), idF: {name: "f public.f()", objs: []Object{obj(KindFunction, "public.f()", "body")}}})

	// A dropped index of a that nothing else touched: a is read again, by the second round trip.
	touched, more := st.toRead(&logRead{dropped: []unitID{{'r', 101}}})
	if !touched[idA] || len(touched) != 1 || !slices.Equal(more['r'], []uint32{idA.oid}) {
		t.Errorf("dropped index: touched %v, more %v", touched, more)
	}
	// The same with a touched by the log: walkStepSQL reads it, no second read.
	touched, more = st.toRead(&logRead{units: []unitID{idA}, dropped: []unitID{{'r', 101}}})
	if !touched[idA] || len(more) != 0 {
		t.Errorf("dropped index of a touched table: touched %v, more %v", touched, more)
	}
	// A function touched, b dropped: the function takes the second read, b is only removed.
	touched, more = st.toRead(&logRead{units: []unitID{idF}, dropped: []unitID{idB}})
	if !touched[idF] || !touched[idB] || !slices.Equal(more['f'], []uint32{idF.oid}) || len(more['r']) != 0 {
		t.Errorf("function and drop: touched %v, more %v", touched, more)
	}
	// An unknown dropped relation (created and dropped within the step): nothing to read.
	if touched, more := st.toRead(&logRead{dropped: []unitID{{'r', 999}}}); len(touched) != 0 || len(more) != 0 {
		t.Errorf("unknown drop: touched %v, more %v", touched, more)
	}
}

// DROP IDENTITY drops the identity sequence without a drop event: the state removes it when its
// table's column is no longer an identity column.
func TestStateDropLostIdentities(t *testing.T) {
	idSeq := unitID{'r', 500}
	tbl := &readUnit{name: "r public.t", objs: []Object{
		obj(KindColumn, "public.t.id", "bigint NOT NULL GENERATED ALWAYS AS IDENTITY"),
		obj(KindTable, "public.t", "TABLE"),
	}}
	seq := &readUnit{name: "r public.t_id_seq", objs: []Object{obj(KindSequence, "public.t_id_seq", "AS bigint IDENTITY OF public.t.id")}}
	st := stateOf(t, map[unitID]*readUnit{idA: tbl, idSeq: seq})
	if got := st.identity["r public.t"]; len(got) != 1 || got[0].column != "public.t.id" || got[0].name != "r public.t_id_seq" {
		t.Fatalf("identity map %v", st.identity)
	}

	// Still an identity column: the sequence stays.
	d, _ := st.apply(map[unitID]bool{idA: true}, map[unitID]*readUnit{idA: tbl})
	d["r public.t"] = change{before: tbl.objs, after: tbl.objs}
	st.dropLostIdentities(d)
	if _, ok := st.units["r public.t_id_seq"]; !ok {
		t.Fatal("the sequence of an identity column was removed")
	}

	plain := &readUnit{name: "r public.t", objs: []Object{obj(KindColumn, "public.t.id", "bigint NOT NULL"), obj(KindTable, "public.t", "TABLE")}}
	d, ok := st.apply(map[unitID]bool{idA: true}, map[unitID]*readUnit{idA: plain})
	if !ok {
		t.Fatal("apply refused")
	}
	st.dropLostIdentities(d)
	if _, ok := st.units["r public.t_id_seq"]; ok {
		t.Error("the sequence of a column that lost its identity is still in the state")
	}
	if c, ok := d["r public.t_id_seq"]; !ok || c.after != nil || len(c.before) != 1 {
		t.Errorf("delta %v: want the sequence removed", d)
	}
}

func TestColumnTable(t *testing.T) {
	for col, want := range map[string]string{
		"public.t.id":           "public.t",
		`public."a.b".c`:        `public."a.b"`,
		`"s.x"."t"".y".col`:     `"s.x"."t"".y"`,
		`public.t."odd.column"`: "public.t",
	} {
		if got, ok := columnTable(col); !ok || got != want {
			t.Errorf("columnTable(%q) = %q, %t; want %q", col, got, ok, want)
		}
	}
	if _, ok := columnTable("nodot"); ok {
		t.Error("a name without a dot has a table")
	}
}

func TestLogRead(t *testing.T) {
	text := func(s string) pgtype.Text { return pgtype.Text{String: s, Valid: true} }
	lr := &logRead{}
	for _, row := range []struct {
		tag  string
		code pgtype.Text
		oid  pgtype.Uint32
		info pgtype.Text
	}{
		{"unit", text("r"), pgtype.Uint32{Uint32: 7, Valid: true}, pgtype.Text{}},
		{"dropped", text("f"), pgtype.Uint32{Uint32: 8, Valid: true}, pgtype.Text{}},
		{"last", pgtype.Text{}, pgtype.Uint32{}, text("42")},
		{"triggers", pgtype.Text{}, pgtype.Uint32{}, text("2")},
		{"shared", pgtype.Text{}, pgtype.Uint32{}, text("3 99 1 5")},
		{"distrust", pgtype.Text{}, pgtype.Uint32{}, pgtype.Text{}},
	} {
		if err := lr.add(row.tag, row.code, row.oid, row.info); err != nil {
			t.Fatalf("%s: %v", row.tag, err)
		}
	}
	if !slices.Equal(lr.units, []unitID{{'r', 7}}) || !slices.Equal(lr.dropped, []unitID{{'f', 8}}) || lr.lastID != 42 {
		t.Errorf("read %+v", lr)
	}
	if ok, why := lr.trusted("3 99 1 5"); !ok {
		t.Errorf("not trusted: %s", why)
	}
	if ok, _ := lr.trusted("3 100 1 5"); ok {
		t.Error("trusted after roles changed")
	}
	lr.distrust = "ALTER SCHEMA s"
	if ok, why := lr.trusted("3 99 1 5"); ok || why != "the log cannot be trusted after ALTER SCHEMA s" {
		t.Errorf("distrust: %t %q", ok, why)
	}
	lr.distrust, lr.triggers = "", 1
	if ok, _ := lr.trusted("3 99 1 5"); ok {
		t.Error("trusted with an event trigger gone")
	}
	for _, bad := range []struct {
		tag  string
		code pgtype.Text
		oid  pgtype.Uint32
	}{{"unit", text("rr"), pgtype.Uint32{Uint32: 1, Valid: true}}, {"dropped", text("r"), pgtype.Uint32{}}, {"nonsense", text("r"), pgtype.Uint32{}}} {
		if err := lr.add(bad.tag, bad.code, bad.oid, pgtype.Text{}); err == nil {
			t.Errorf("row %s %v %v accepted", bad.tag, bad.code, bad.oid)
		}
	}
}

func TestMoveObjects(t *testing.T) {
	x, y, z := obj(KindColumn, "public.t.x", "int"), obj(KindColumn, "public.t.y", "int"), obj(KindColumn, "public.t.z", "int")
	y2 := obj(KindColumn, "public.t.y", "bigint")
	tab := obj(KindTable, "public.t", "TABLE")
	// The target holds x, y; the step moved y to y2 and added z: x, which the step did not touch, stays.
	got := moveObjects([]Object{x, y, tab}, []Object{y, tab}, []Object{y2, z, tab})
	if want := []Object{tab, x, y2, z}; !slices.Equal(got, slices.SortedFunc(slices.Values(want), compareObjects)) {
		t.Errorf("moveObjects = %v", got)
	}
	if got := moveObjects([]Object{x, tab}, []Object{x, tab}, nil); got != nil {
		t.Errorf("to a unit that did not exist: %v", got)
	}
	if got := moveObjects(nil, nil, []Object{tab}); !slices.Equal(got, []Object{tab}) {
		t.Errorf("a new unit: %v", got)
	}
}
