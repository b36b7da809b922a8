package migfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"visiona-backend/migrations"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestLoadSourceOrdersAndPairs(t *testing.T) {
	fsys := fstest.MapFS{
		"000010_later.up.sql":    file("CREATE TABLE b (id int);"),
		"000010_later.down.sql":  file("DROP TABLE b;"),
		"000002_first.up.sql":    file("-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON a (id);"),
		"000002_first.down.sql":  file("DROP INDEX CONCURRENTLY i;"),
		"embed.go":               file("package migrations"),
		"migrations.sum":         file("whatever"),
		"lint.conf":              file("baseline = 3"),
		"subdir/ignored.txt":     file("x"),
		"000003_middle.up.sql":   file("-- a comment\nSELECT 1; -- migrate:no-transaction\n"),
		"000003_middle.down.sql": file("SELECT 1;"),
	}
	src, err := LoadSource(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range src.Migrations() {
		got = append(got, m.Label())
	}
	if want := "000002_first 000003_middle 000010_later"; strings.Join(got, " ") != want {
		t.Fatalf("order = %q, want %q", strings.Join(got, " "), want)
	}
	first, _ := src.Find(2)
	if !first.UpNoTx || first.DownNoTx {
		t.Errorf("000002: UpNoTx=%v DownNoTx=%v, want true false (the marker is on the up file only)", first.UpNoTx, first.DownNoTx)
	}
	if middle, _ := src.Find(3); middle.UpNoTx {
		t.Error("000003: a marker after the first statement must not switch the transaction off")
	}
	if src.Latest() != 10 || src.NextVersion() != 11 || src.Previous(10) != 3 || src.Previous(2) != 0 {
		t.Errorf("Latest=%d NextVersion=%d Previous(10)=%d Previous(2)=%d", src.Latest(), src.NextVersion(), src.Previous(10), src.Previous(2))
	}
	if _, ok := src.Find(4); ok {
		t.Error("Find(4) found a migration that does not exist")
	}
}

// Every folder under testdata/broken is a set strict discovery must reject, naming the file.
func TestLoadSourceRejectsBrokenSets(t *testing.T) {
	cases := map[string]struct{ file, reason string }{
		"missing_down":      {"000002_second.up.sql", "has no down file"},
		"missing_up":        {"000002_second.down.sql", "has no up file"},
		"duplicate_version": {"000002_", "version 2 is also used by"},
		"duplicate_up":      {"1_first.up.sql", "duplicate up file for version 1"},
		"misnamed":          {"000002-second.up.sql", "not a migration name"},
		"editor_backup":     {"000001_first.up.sql~", "editor backup"},
		"empty_file":        {"000002_second.up.sql", "has no SQL"},
		"comments_only":     {"000002_second.up.sql", "has no SQL"},
		"version_zero":      {"000000_zero.", "version must be a number from 1 up"},
	}
	dirs, err := os.ReadDir("../../testdata/broken")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		seen++
		want, ok := cases[d.Name()]
		if !ok {
			t.Errorf("testdata/broken/%s has no expectation in this test", d.Name())
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			_, err := LoadSource(os.DirFS(filepath.Join("../../testdata/broken", d.Name())))
			var se *SourceError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalidSource) {
				t.Fatalf("err = %v, want a *SourceError", err)
			}
			if !strings.HasPrefix(se.File, want.file) || !strings.Contains(se.Reason, want.reason) {
				t.Errorf("err = %q, want file %q… and reason containing %q", err, want.file, want.reason)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
	if seen != len(cases) {
		t.Errorf("found %d scenario folders, expected %d", seen, len(cases))
	}
}

// The repository's own migrations must always load: this guards every pull request.
func TestEmbeddedMigrationsLoad(t *testing.T) {
	src, err := LoadSource(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySums(src, migrations.FS); err != nil {
		t.Fatalf("%v (run `go run mage.go migrateHash`)", err)
	}
	migs := src.Migrations()
	if len(migs) < 5 {
		t.Fatalf("only %d migrations embedded", len(migs))
	}
	for i, m := range migs {
		if m.Version != uint(i+1) {
			t.Errorf("%s: versions should run 1, 2, 3… without gaps; got %d at position %d", m.Label(), m.Version, i+1)
		}
	}
}

// The folder on disk must be clean too: the binary embeds only *.sql, so an editor backup or a
// stray file there would otherwise go unnoticed until someone runs create.
func TestMigrationsFolderOnDiskLoads(t *testing.T) {
	if _, err := LoadSource(os.DirFS("../../migrations")); err != nil {
		t.Fatal(err)
	}
}

func TestLineColumn(t *testing.T) {
	body := []byte("CREATE TABLE a (id int);\n-- é comment\nSELEC 1;\n")
	// PostgreSQL counts characters, not bytes: 'é' is one.
	pos := len([]rune("CREATE TABLE a (id int);\n-- é comment\n")) + 1
	if line, col := LineColumn(body, pos); line != 3 || col != 1 {
		t.Errorf("lineColumn = %d:%d, want 3:1", line, col)
	}
	// Past the body (the body left a statement open): the end of its last line.
	if line, col := LineColumn(body, len([]rune(string(body)))+5); line != 3 || col != 9 {
		t.Errorf("a position past the body maps to %d:%d, want 3:9", line, col)
	}
}

func TestSumsCatchEveryKindOfChange(t *testing.T) {
	base := fstest.MapFS{
		"000001_a.up.sql": file("CREATE TABLE a (id int);"), "000001_a.down.sql": file("DROP TABLE a;"),
		"000002_b.up.sql": file("CREATE TABLE b (id int);"), "000002_b.down.sql": file("DROP TABLE b;"),
		"000003_c.up.sql": file("CREATE TABLE c (id int);"), "000003_c.down.sql": file("DROP TABLE c;"),
	}
	src, err := LoadSource(base)
	if err != nil {
		t.Fatal(err)
	}
	sums := src.Sums()
	parsed, err := ParseSums(sums.String())
	if err != nil || parsed.Total != sums.Total || len(parsed.Files) != 6 {
		t.Fatalf("ParseSums(String()) = %+v, %v", parsed, err)
	}
	withSum := func(fsys fstest.MapFS) fstest.MapFS {
		out := fstest.MapFS{SumFile: file(sums.String())}
		for k, v := range fsys {
			out[k] = v
		}
		return out
	}
	if err := VerifySums(src, withSum(base)); err != nil {
		t.Fatalf("unchanged set: %v", err)
	}
	cases := map[string]struct {
		change  func(fstest.MapFS)
		file    string
		problem string
	}{
		"edited":  {func(f fstest.MapFS) { f["000002_b.up.sql"] = file("CREATE TABLE b (id bigint);") }, "000002_b.up.sql", "edited"},
		"removed": {func(f fstest.MapFS) { delete(f, "000003_c.up.sql"); delete(f, "000003_c.down.sql") }, "000003_c.up.sql", "removed"},
		"added": {func(f fstest.MapFS) {
			f["000004_d.up.sql"], f["000004_d.down.sql"] = file("CREATE TABLE d (id int);"), file("DROP TABLE d;")
		}, "000004_d.up.sql", "added"},
		"renumbered": {func(f fstest.MapFS) {
			f["000004_b.up.sql"], f["000004_b.down.sql"] = f["000002_b.up.sql"], f["000002_b.down.sql"]
			delete(f, "000002_b.up.sql")
			delete(f, "000002_b.down.sql")
		}, "000002_b.up.sql", "removed"},
		"inserted in the middle": {func(f fstest.MapFS) {
			f["000002_a2.up.sql"], f["000002_a2.down.sql"] = f["000002_b.up.sql"], f["000002_b.down.sql"]
			f["000003_b.up.sql"], f["000003_b.down.sql"] = f["000002_b.up.sql"], f["000002_b.down.sql"]
			f["000004_c.up.sql"], f["000004_c.down.sql"] = f["000003_c.up.sql"], f["000003_c.down.sql"]
			for _, n := range []string{"000002_b", "000003_c"} {
				delete(f, n+".up.sql")
				delete(f, n+".down.sql")
			}
		}, "000002_b.up.sql", "removed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			changed := fstest.MapFS{}
			for k, v := range base {
				changed[k] = v
			}
			c.change(changed)
			src, err := LoadSource(changed)
			if err != nil {
				t.Fatal(err)
			}
			err = VerifySums(src, withSum(changed))
			var ce *ChecksumError
			if !errors.As(err, &ce) || ce.File != c.file || ce.Problem != c.problem || !errors.Is(err, ErrChecksum) {
				t.Fatalf("err = %v, want %s %s", err, c.file, c.problem)
			}
		})
	}
	if err := VerifySums(src, base); err == nil || !strings.Contains(err.Error(), "missing sum file") {
		t.Errorf("no sum file: err = %v", err)
	}
}

// Every name golang-migrate accepts for an existing file is accepted; create's strict name is
// what StrictName checks.
func TestLoadSourceAcceptsGolangMigrateNames(t *testing.T) {
	fsys := fstest.MapFS{
		"20190226002946_create-user.up.sql":    {Data: []byte("create table users (id int);\n")},
		"20190226002946_create-user.down.sql":  {Data: []byte("drop table users;\n")},
		"20190301000000_AddUserEmail.up.sql":   {Data: []byte("alter table users add column email text;\n")},
		"20190301000000_AddUserEmail.down.sql": {Data: []byte("alter table users drop column email;\n")},
		"20190302000000_with.dots.up.psql":     {Data: []byte("select 1;\n")},
		"20190302000000_with.dots.down.psql":   {Data: []byte("select 1;\n")},
		"20190303000000_.up.sql":               {Data: []byte("select 2;\n")},
		"20190303000000_.down.sql":             {Data: []byte("select 2;\n")},
	}
	src, err := LoadSource(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range src.Migrations() {
		names = append(names, m.Name)
	}
	if want := []string{"create-user", "AddUserEmail", "with.dots", ""}; !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
	for name, strict := range map[string]bool{"000001_add_users.up.sql": true, "000001_add_users.down.sql": true,
		"20190226002946_create-user.up.sql": false, "1_AddUser.up.sql": false, "1_x.up.psql": false} {
		if StrictName(name) != strict {
			t.Errorf("StrictName(%q) = %v, want %v", name, !strict, strict)
		}
	}
}
