package lint

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"visiona-backend/internal/migfile"
)

var update = flag.Bool("update", false, "rewrite testdata/lint/*/bad.golden from the current output")

const fixtures = "../../testdata/lint"

// needParser skips a test in a build without cgo, where PostgreSQL's parser is not compiled in.
func needParser(t *testing.T) {
	t.Helper()
	if _, _, _, err := parse("select 1"); err != nil {
		t.Skip(err)
	}
}

func checkFS(t *testing.T, fsys fstest.MapFS) []Finding {
	t.Helper()
	needParser(t)
	src, err := migfile.LoadSource(fsys)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := Check(src)
	if err != nil {
		t.Fatal(err)
	}
	return findings
}

func checkDir(t *testing.T, dir string, opts ...Option) []Finding {
	t.Helper()
	needParser(t)
	src, err := migfile.LoadSource(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	findings, err := Check(src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return findings
}

func render(t *testing.T, findings []Finding) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(findings, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fixtureTarget reads testdata/lint/<rule>/<kind>.target, the target server version a fixture is
// linted for (none: unknown).
func fixtureTarget(t *testing.T, dir, kind string) []Option {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, kind+".target"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseVersion(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return []Option{Target(v)}
}

// Every rule has testdata/lint/<rule>/bad, a migration set that triggers it (its exact output in
// bad.golden), and good, one written the safe way, which lints clean. A version-dependent rule's
// fixture names its target server in bad.target / good.target.
func TestRuleFixtures(t *testing.T) {
	for _, r := range Rules() {
		t.Run(r.Name, func(t *testing.T) {
			dir := filepath.Join(fixtures, r.Name)
			bad := checkDir(t, filepath.Join(dir, "bad"), fixtureTarget(t, dir, "bad")...)
			if !slices.ContainsFunc(bad, func(f Finding) bool { return f.Rule == r.Name }) {
				t.Errorf("bad/ does not trigger %s; got:\n%s", r.Name, render(t, bad))
			}
			for _, f := range bad {
				if f.Severity != mustRule(t, f.Rule).Severity {
					t.Errorf("%s: severity %s, the rule says %s", f, f.Severity, mustRule(t, f.Rule).Severity)
				}
			}
			golden := filepath.Join(dir, "bad.golden")
			got := render(t, bad)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/lint/ -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("bad/ findings differ from %s (-update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			if good := checkDir(t, filepath.Join(dir, "good"), fixtureTarget(t, dir, "good")...); len(good) > 0 {
				t.Errorf("good/ should lint clean; got:\n%s", render(t, good))
			}
		})
	}
}

func mustRule(t *testing.T, name string) Rule {
	t.Helper()
	r, ok := ruleByName(name)
	if !ok {
		t.Fatalf("finding of unknown rule %q", name)
	}
	return r
}

// No fixture folder without its rule: a renamed rule must take its fixtures along.
func TestNoOrphanFixtures(t *testing.T) {
	entries, err := os.ReadDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := ruleByName(e.Name()); e.IsDir() && !ok {
			t.Errorf("testdata/lint/%s names no rule", e.Name())
		}
	}
}

func TestRulesAreDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		if r.Severity != Error && r.Severity != Warning {
			t.Errorf("%s: severity %q", r.Name, r.Severity)
		}
		if r.Doc == "" {
			t.Errorf("%s: no doc", r.Name)
		}
		if row := "| `" + r.Name + "` | " + string(r.Severity) + " | " + r.Doc + " |"; !strings.Contains(string(readme), row) {
			t.Errorf("README.md lacks the row\n%s\n(regenerate the table from Rules)", row)
		}
	}
}

// Positions are the statement's first keyword past leading comments, or the ALTER TABLE
// subcommand's; columns count characters, lines survive CRLF.
func TestPositions(t *testing.T) {
	up := "-- Ünïcödé comment before everything\n/* block\n   comment */ create table v (id int);\n" +
		"\n-- between statements\n  create index t_id_idx on t (id); alter table t add column x int not null;\r\n" +
		"alter table t add column note text, add column ok int not null;\n"
	fsys := fstest.MapFS{
		"000001_create_t.up.sql":   {Data: []byte("create table t (id int); create table u (id int);\n")},
		"000001_create_t.down.sql": {Data: []byte("drop table t;\ndrop table u;\n")},
		"000002_x.up.sql":          {Data: []byte("-- é\nalter table u add column y int not null; select 'é'; alter table u add column z int not null;\n")},
		"000002_x.down.sql":        {Data: []byte("alter table u drop column y, drop column z;\n")},
		"000003_y.up.sql":          {Data: []byte(up)},
		"000003_y.down.sql":        {Data: []byte("select 1;\n")},
	}
	got := render(t, checkFS(t, fsys))
	want := strings.Join([]string{
		"000002_x.up.sql:2:15: error not-null-without-default: ADD COLUMN y NOT NULL without a default to existing table u fails as soon as the table has a row (CI's empty database will not show it); give it a default, or add it nullable, backfill, then enforce NOT NULL",
		"000002_x.up.sql:2:68: error not-null-without-default: ADD COLUMN z NOT NULL without a default to existing table u fails as soon as the table has a row (CI's empty database will not show it); give it a default, or add it nullable, backfill, then enforce NOT NULL",
		"000003_y.up.sql:6:3: error not-concurrently: CREATE INDEX on existing table t without CONCURRENTLY blocks writes to it until the index is built; use CREATE INDEX CONCURRENTLY, alone in a file marked -- migrate:no-transaction",
		"000003_y.up.sql:6:50: error not-null-without-default: ADD COLUMN x NOT NULL without a default to existing table t fails as soon as the table has a row (CI's empty database will not show it); give it a default, or add it nullable, backfill, then enforce NOT NULL",
		"000003_y.up.sql:7:37: error not-null-without-default: ADD COLUMN ok NOT NULL without a default to existing table t fails as soon as the table has a row (CI's empty database will not show it); give it a default, or add it nullable, backfill, then enforce NOT NULL",
		"",
	}, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// The parser's error position counts characters, not bytes.
func TestSyntaxErrorPosition(t *testing.T) {
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("-- ééé\nselect 'ëë' as ü, 1 frm t;\n")},
		"000001_a.down.sql": {Data: []byte("select 1;\n")},
	}
	findings := checkFS(t, fsys)
	if len(findings) != 1 {
		t.Fatalf("want one finding, got:\n%s", render(t, findings))
	}
	f := findings[0]
	if f.Rule != "syntax-error" || f.Line != 2 || f.Column != 25 || !strings.Contains(f.Message, `"t"`) {
		t.Errorf("got %s, want a syntax error at 2:25 (the t after frm)", f)
	}
}

func TestFindingString(t *testing.T) {
	f := Finding{File: "migrations/000003_x.up.sql", Line: 12, Column: 5, Rule: "not-concurrently", Severity: Error, Message: "CREATE INDEX ..."}
	if got, want := f.String(), "migrations/000003_x.up.sql:12:5: error not-concurrently: CREATE INDEX ..."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRenderSortsByFileAndLine(t *testing.T) {
	in := []Finding{
		{File: "b.sql", Line: 1, Column: 1, Rule: "r", Severity: Warning, Message: "m"},
		{File: "a.sql", Line: 10, Column: 1, Rule: "r", Severity: Error, Message: "m"},
		{File: "a.sql", Line: 2, Column: 7, Rule: "r", Severity: Error, Message: "m"},
		{File: "a.sql", Line: 2, Column: 3, Rule: "r", Severity: Error, Message: "m"},
	}
	got := render(t, in)
	want := "a.sql:2:3: error r: m\na.sql:2:7: error r: m\na.sql:10:1: error r: m\nb.sql:1:1: warning r: m\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if in[0].File != "b.sql" {
		t.Error("Render reordered its argument")
	}
	if !HasErrors(in) || HasErrors(in[:1]) {
		t.Error("HasErrors")
	}
}

// A suppression is per file: the same rule in another file is still reported.
func TestSuppressionIsPerFile(t *testing.T) {
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("create table t (id int, a int);\n")},
		"000001_a.down.sql": {Data: []byte("drop table t;\n")},
		"000002_b.up.sql":   {Data: []byte("alter table t alter column a set not null; -- lint:ignore set-not-null t is tiny\n")},
		"000002_b.down.sql": {Data: []byte("alter table t alter column a drop not null;\n")},
		"000003_c.up.sql":   {Data: []byte("alter table t alter column id set not null;\n")},
		"000003_c.down.sql": {Data: []byte("alter table t alter column id drop not null;\n")},
	}
	findings := checkFS(t, fsys)
	if len(findings) != 1 || findings[0].File != "000003_c.up.sql" || findings[0].Rule != "set-not-null" {
		t.Errorf("want only 000003's set-not-null, got:\n%s", render(t, findings))
	}
}

// Text that looks like a suppression inside a string or a function body is not a comment.
func TestSuppressionOnlyInComments(t *testing.T) {
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("create table t (id int);\n")},
		"000001_a.down.sql": {Data: []byte("drop table t;\n")},
		"000002_b.up.sql":   {Data: []byte("comment on table t is '-- lint:ignore not-concurrently no';\ncreate index t_id_idx on t (id);\n")},
		"000002_b.down.sql": {Data: []byte("-- migrate:no-transaction\ndrop index concurrently if exists t_id_idx;\n")},
	}
	findings := checkFS(t, fsys)
	if len(findings) != 1 || findings[0].Rule != "not-concurrently" {
		t.Errorf("want the not-concurrently finding, got:\n%s", render(t, findings))
	}
}

// A down runs against the schema its up left: a table its up created exists (it may hold rows).
func TestDownSeesItsUp(t *testing.T) {
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("create table t (id int);\n")},
		"000001_a.down.sql": {Data: []byte("create index t_id_idx on t (id);\ndrop table t;\n")},
		"000002_b.up.sql":   {Data: []byte("alter table t rename to u;\n")},
		"000002_b.down.sql": {Data: []byte("alter table u rename to t;\n")},
		"000003_c.up.sql":   {Data: []byte("create table t (id int);\ncreate index t_id_idx on t (id);\ncreate index u_id_idx on u (id);\n")},
		"000003_c.down.sql": {Data: []byte("drop table t;\ndrop index u_id_idx;\n")},
	}
	var got []string
	for _, f := range checkFS(t, fsys) {
		got = append(got, f.File+" "+f.Rule)
	}
	want := []string{"000001_a.down.sql not-concurrently", "000002_b.up.sql rename", "000003_c.up.sql not-concurrently", "000003_c.down.sql not-concurrently"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The repository's own migrations parse, and every finding is one the rules define. Whether they
// lint clean is `mage lint`'s question; the findings are logged here for whoever reads -v.
func TestRepoMigrations(t *testing.T) {
	needParser(t)
	findings, err := CheckDir("../../migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		mustRule(t, f.Rule)
		if f.Rule == "syntax-error" {
			t.Errorf("%s", f)
		}
		if !strings.HasPrefix(f.File, filepath.Join("..", "..", "migrations")+string(filepath.Separator)) {
			t.Errorf("CheckDir did not put the directory in front: %s", f.File)
		}
	}
	t.Logf("migrations/: %d finding(s)\n%s", len(findings), render(t, findings))
}

// Type changes PostgreSQL makes without a rewrite are not reported; the rest are.
func TestColumnTypeChangeRewrites(t *testing.T) {
	cases := []struct {
		from, to string
		rewrite  bool
	}{
		{"varchar(10)", "varchar(20)", false},
		{"varchar(10)", "varchar(10)", false},
		{"varchar(10)", "varchar", false},
		{"varchar(10)", "text", false},
		{"text", "varchar", false},
		{"numeric(10,2)", "numeric(12,2)", false},
		{"numeric(10,2)", "numeric", false},
		{"varchar(20)", "varchar(10)", true},
		{"text", "varchar(10)", true},
		{"varchar", "varchar(10)", true},
		{"numeric(10,2)", "numeric(12,3)", true},
		{"numeric", "numeric(12,2)", true},
		{"integer", "bigint", true},
		{"text[]", "varchar[]", true},
		{"varchar(10) /* USING */", "text using c || ''", true},
	}
	for _, tc := range cases {
		from, _, _ := strings.Cut(tc.from, " ")
		fsys := fstest.MapFS{
			"000001_a.up.sql":   {Data: []byte("create table t (c " + from + ");\n")},
			"000001_a.down.sql": {Data: []byte("drop table t;\n")},
			"000002_b.up.sql":   {Data: []byte("alter table t alter column c type " + tc.to + ";\n")},
			"000002_b.down.sql": {Data: []byte("select 1;\n")},
		}
		findings := checkFS(t, fsys)
		if got := slices.ContainsFunc(findings, func(f Finding) bool { return f.Rule == "column-type-change" }); got != tc.rewrite {
			t.Errorf("%s to %s: reported %v, want %v", tc.from, tc.to, got, tc.rewrite)
		}
	}
}

// CREATE TABLE IF NOT EXISTS of a table an earlier migration created changes nothing: the table
// still exists, with its rows.
func TestCreateTableIfNotExistsKeepsExisting(t *testing.T) {
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("create table t (id int);\n")},
		"000001_a.down.sql": {Data: []byte("drop table t;\n")},
		"000002_b.up.sql":   {Data: []byte("create table if not exists t (id int);\ncreate index t_id_idx on t (id);\n")},
		"000002_b.down.sql": {Data: []byte("-- migrate:no-transaction\ndrop index concurrently if exists t_id_idx;\n")},
	}
	if findings := checkFS(t, fsys); len(findings) != 1 || findings[0].Rule != "not-concurrently" {
		t.Errorf("want not-concurrently, got:\n%s", render(t, findings))
	}
}

// Baseline silences the migrations up to its version but still learns the schema from them.
func TestBaseline(t *testing.T) {
	needParser(t)
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("create table t (id int);\n")},
		"000001_a.down.sql": {Data: []byte("drop table t;\n")},
		"000002_b.up.sql":   {Data: []byte("create index t_id_idx on t (id);\n")},
		"000002_b.down.sql": {Data: []byte("-- migrate:no-transaction\ndrop index concurrently if exists t_id_idx;\n")},
		"000003_c.up.sql":   {Data: []byte("alter table t add column a int not null;\n")},
		"000003_c.down.sql": {Data: []byte("alter table t drop column a;\n")},
	}
	src, err := migfile.LoadSource(fsys)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := Check(src, Baseline(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || findings[0].File != "000003_c.up.sql" || findings[0].Rule != "not-null-without-default" {
		t.Errorf("want only 000003's not-null-without-default (t exists since 000001), got:\n%s", render(t, findings))
	}
}

// A name golang-migrate accepts but `migrate create` would not write is a warning for new files
// only: the history before the baseline keeps its names.
func TestStrictNameAfterBaseline(t *testing.T) {
	const dir = "../../testdata/lint/strict-name/bad"
	if all := checkDir(t, dir); len(all) != 4 {
		t.Fatalf("want a strict-name warning for each of the 4 files, got:\n%s", render(t, all))
	}
	findings := checkDir(t, dir, Baseline(20190226002946))
	var files []string
	for _, f := range findings {
		if f.Rule != ruleStrictName || f.Severity != Warning {
			t.Errorf("unexpected finding %s", f)
		}
		files = append(files, f.File)
	}
	if want := []string{"20190301101500_Add_Email.up.sql", "20190301101500_Add_Email.down.sql"}; !slices.Equal(files, want) {
		t.Errorf("after the baseline: findings for %v, want %v", files, want)
	}
}

// lint:ignore speaks of one statement (the one it trails, else the one below it); lint:ignore-file
// of the whole file; an ignore that silences nothing is an error.
func TestSuppressionScope(t *testing.T) {
	up := "create index t_a_idx on t (a); -- lint:ignore not-concurrently t is tiny\n" +
		"-- lint:ignore not-concurrently t is tiny\n" +
		"create index t_b_idx on t (b);\n" +
		"create index t_c_idx on t (c);\n" +
		"-- lint:ignore set-not-null nothing here sets not null\n" +
		"create index t_d_idx on t (d); -- lint:ignore not-concurrently t is tiny\n"
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("create table t (id bigint primary key, a int, b int, c int, d int);\n")},
		"000001_a.down.sql": {Data: []byte("drop table t;\n")},
		"000002_b.up.sql":   {Data: []byte(up)},
		"000002_b.down.sql": {Data: []byte("-- lint:ignore-file not-concurrently t is tiny\ndrop index t_a_idx;\ndrop index t_b_idx;\ndrop index t_c_idx, t_d_idx;\n")},
		"000003_c.up.sql":   {Data: []byte("-- lint:ignore-file rename nothing is renamed here\nselect 1;\n")},
		"000003_c.down.sql": {Data: []byte("select 1;\n")},
	}
	var got []string
	for _, f := range checkFS(t, fsys) {
		got = append(got, fmt.Sprintf("%s:%d %s", f.File, f.Line, f.Rule))
	}
	want := []string{"000002_b.up.sql:4 not-concurrently", "000002_b.up.sql:5 unused-ignore", "000003_c.up.sql:1 unused-ignore"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// In a no-transaction file the tool opens no transaction, so the file's own BEGIN/COMMIT is not
// transaction-control's business.
func TestTransactionControlNotInNoTransactionFile(t *testing.T) {
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("-- migrate:no-transaction\nbegin;\ncreate table t (id bigint primary key);\ncommit;\n")},
		"000001_a.down.sql": {Data: []byte("begin;\ndrop table t;\ncommit;\n")},
	}
	var got []string
	for _, f := range checkFS(t, fsys) {
		got = append(got, f.File+" "+f.Rule)
	}
	want := []string{"000001_a.down.sql transaction-control", "000001_a.down.sql transaction-control",
		"000001_a.up.sql concurrently-in-transaction", "000001_a.up.sql no-transaction-if-exists"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The target server's version makes the version-dependent rules exact.
func TestTargetVersion(t *testing.T) {
	needParser(t)
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("create table t (id bigint primary key, a int, constraint t_a_nn check (a is not null));\n")},
		"000001_a.down.sql": {Data: []byte("drop table t;\n")},
		"000002_b.up.sql":   {Data: []byte("alter table t add column s text default 'x';\nalter table t alter column a set not null;\n")},
		"000002_b.down.sql": {Data: []byte("alter table t drop column s;\n")},
		"000003_c.up.sql":   {Data: []byte("-- migrate:no-transaction\ncreate index concurrently if not exists t_a_idx on t (a);\n")},
		"000003_c.down.sql": {Data: []byte("-- migrate:no-transaction\ndrop index concurrently if exists t_a_idx;\n")},
		"000004_d.up.sql":   {Data: []byte("alter table t add constraint t_s_nn not null s not valid;\n")},
		"000004_d.down.sql": {Data: []byte("alter table t drop constraint t_s_nn;\n")},
	}
	src, err := migfile.LoadSource(fsys)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		target string
		want   []string
	}{
		{"", []string{"000004_d.up.sql parser-older-than-syntax"}},
		{"10", []string{"000002_b.up.sql volatile-default", "000002_b.up.sql set-not-null", "000004_d.up.sql syntax-error"}},
		{"14.3", []string{"000003_c.up.sql pg14-concurrently-corruption", "000004_d.up.sql syntax-error"}},
		{"14", []string{"000004_d.up.sql syntax-error"}},
		{"14.23", []string{"000004_d.up.sql syntax-error"}},
		{"18", []string{"000004_d.up.sql parser-older-than-syntax"}},
	}
	for _, tc := range cases {
		t.Run("target="+cmp.Or(tc.target, "none"), func(t *testing.T) {
			var opts []Option
			if tc.target != "" {
				v, err := ParseVersion(tc.target)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, Target(v))
			}
			findings, err := Check(src, opts...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				got = append(got, f.File+" "+f.Rule)
				if f.Rule == "syntax-error" && !strings.Contains(f.Message, "needs PostgreSQL 18") {
					t.Errorf("target %s: %s does not name both versions", tc.target, f)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("target %q: got %q, want %q", tc.target, got, tc.want)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"14": {14, -1}, "14.3": {14, 3}, " 18 ": {18, -1}} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "9", "x", "14.x", "14.-1", "fourteen"} {
		if _, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) accepted", in)
		}
	}
}

// What a down changes stays in the down: the next up sees the schema the ups built.
func TestDownDoesNotLeak(t *testing.T) {
	fsys := fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("create table t (id bigint primary key, a int);\n")},
		"000001_a.down.sql": {Data: []byte("drop table t;\n")},
		"000002_b.up.sql":   {Data: []byte("alter table t add column b int;\n")},
		"000002_b.down.sql": {Data: []byte("alter table t add constraint t_a_nn check (a is not null);\nalter table t drop column b;\n")},
		"000003_c.up.sql":   {Data: []byte("alter table t alter column a set not null;\n")},
		"000003_c.down.sql": {Data: []byte("alter table t alter column a drop not null;\n")},
	}
	var got []string
	for _, f := range checkFS(t, fsys) {
		got = append(got, f.File+" "+f.Rule)
	}
	want := []string{"000002_b.down.sql constraint-not-valid", "000003_c.up.sql set-not-null"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
