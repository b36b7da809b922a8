package schema_test

import (
	"errors"
	"strings"
	"testing"

	"visiona-backend/internal/schema"
)

// tricky has what the text form must survive: multi-line definitions with blank lines and
// indentation inside, names with spaces and quotes, an empty definition.
var tricky = &schema.Snapshot{Objects: []schema.Object{
	{Kind: "comment", Name: `column public."Odd Name".x`, Def: "First line.\n\n  indented after a blank line\nlast"},
	{Kind: "function", Name: "public.f(integer, text)", Def: "CREATE OR REPLACE FUNCTION public.f(integer, text)\n RETURNS integer\n LANGUAGE sql\nAS $function$\n\tselect 1;\n\n\tselect 2\n$function$"},
	{Kind: "schema", Name: "app", Def: ""},
	{Kind: "table", Name: `public."Odd Name"`, Def: "permanent table"},
	{Kind: "view", Name: "public.v", Def: " SELECT 1 AS x;"},
}}

func TestParseRoundTrip(t *testing.T) {
	text := tricky.String()
	back, err := schema.Parse(text)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, text)
	}
	if !back.Equal(tricky) || back.String() != text {
		t.Fatalf("round trip differs:\n%s\n---\n%s", text, back)
	}
	if strings.Contains(text, " \n") {
		t.Errorf("String writes trailing blanks:\n%q", text)
	}

	// What an editor or a reviewer may do to a committed file: CRLF, a header comment, blank
	// lines between objects, trailing blanks.
	edited := "# migrations/schema.snapshot: written by mage schemaDump\n" +
		strings.ReplaceAll(strings.ReplaceAll(text, "\nschema app\n", "\n\nschema app   \n"), "\n", "\r\n")
	again, err := schema.Parse(edited)
	if err != nil {
		t.Fatalf("Parse edited: %v\n%s", err, edited)
	}
	if !again.Equal(tricky) {
		t.Errorf("edited text parses differently:\n%s", schema.FormatDiff(schema.Diff(tricky, again)))
	}

	if empty, err := schema.Parse(""); err != nil || empty.Len() != 0 || empty.String() != "" {
		t.Errorf("Parse(\"\") = %v, %v", empty, err)
	}
}

// TestParseRoundTripMigrated: the real schema's text (functions, comments) reads back equal.
func TestParseRoundTripMigrated(t *testing.T) {
	t.Parallel()
	conn := connect(t, migrated(t))
	exec(t, conn, fixture)
	s := take(t, conn)
	back, err := schema.Parse(s.String())
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(s) || back.String() != s.String() {
		t.Fatalf("Parse(String()) differs:\n%s", schema.FormatDiff(schema.Diff(s, back)))
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"    text NOT NULL\n", "line 1: a definition line before any object"},
		{"column public.t.a\n\ttext\n", "line 2: definition lines are indented by exactly four spaces"},
		{"column public.t.a\n  text\n", "line 2: definition lines are indented by exactly four spaces"},
		{"Column public.t.a\n", "line 1: want \"kind name\""},
		{"column\n", "line 1: want \"kind name\""},
		{"column public.t.a\n    text\ncolumn public.t.a\n    int\n", "column public.t.a appears twice"},
	} {
		_, err := schema.Parse(tc.text)
		if !errors.Is(err, schema.ErrInvalidSnapshot) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want ErrInvalidSnapshot with %q", tc.text, err, tc.want)
		}
	}
}

func TestEqual(t *testing.T) {
	a := &schema.Snapshot{Objects: []schema.Object{{Kind: "table", Name: "public.b", Def: "permanent table"}, {Kind: "column", Name: "public.b.x", Def: "text"}}}
	b := &schema.Snapshot{Objects: []schema.Object{{Kind: "column", Name: "public.b.x", Def: "text"}, {Kind: "table", Name: "public.b", Def: "permanent table"}}}
	if !a.Equal(b) || len(schema.Diff(a, b)) != 0 {
		t.Error("the same objects in another order are not equal")
	}
	if a.String() != b.String() {
		t.Error("String depends on the order of a hand-built snapshot")
	}
	var none *schema.Snapshot
	if !none.Equal(&schema.Snapshot{}) || none.String() != "" || none.Len() != 0 {
		t.Error("a nil snapshot is not an empty one")
	}
	if a.Equal(none) {
		t.Error("a snapshot equals nil")
	}
}

func TestDiffAndFormat(t *testing.T) {
	want := &schema.Snapshot{Objects: []schema.Object{
		{Kind: "column", Name: "public.models.labels", Def: "text[] NOT NULL DEFAULT '{}'::text[]"},
		{Kind: "column", Name: "public.models.name", Def: "text NOT NULL"},
		{Kind: "function", Name: "public.f()", Def: "CREATE FUNCTION public.f()\nAS $$\nbegin\n  a;\n  b;\n  c;\n  d;\n  e;\nend\n$$"},
		{Kind: "table", Name: "public.models", Def: "permanent table"},
	}}
	got := &schema.Snapshot{Objects: []schema.Object{
		{Kind: "column", Name: "public.models.labels", Def: "text[]"},
		{Kind: "column", Name: "public.models.name", Def: "text NOT NULL"},
		{Kind: "function", Name: "public.f()", Def: "CREATE FUNCTION public.f()\nAS $$\nbegin\n  a;\n  b;\n  c;\n  d;\n  E;\nend\n$$"},
		{Kind: "index", Name: "public.devices_serial_live_key", Def: "CREATE UNIQUE INDEX devices_serial_live_key ON public.devices USING btree (serial)"},
	}}
	changes := schema.Diff(want, got)
	wantOps := []string{"column public.models.labels changed", "function public.f() changed", "index public.devices_serial_live_key left behind", "table public.models missing"}
	var ops []string
	for _, c := range changes {
		ops = append(ops, c.Kind+" "+c.Name+" "+c.Op)
	}
	if strings.Join(ops, "\n") != strings.Join(wantOps, "\n") {
		t.Errorf("Diff:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(wantOps, "\n"))
	}

	const wantText = `column public.models.labels: changed
    - text[] NOT NULL DEFAULT '{}'::text[]
    + text[]
function public.f(): changed
      ...
        c;
        d;
    -   e;
    +   E;
      end
      $$
index public.devices_serial_live_key: left behind
    + CREATE UNIQUE INDEX devices_serial_live_key ON public.devices USING btree (serial)
table public.models: missing
    - permanent table
`
	if text := schema.FormatDiff(changes); text != wantText {
		t.Errorf("FormatDiff:\n%s\nwant:\n%s", text, wantText)
	}
	if schema.FormatDiff(nil) != "" {
		t.Error("FormatDiff of no changes is not empty")
	}
}
