package testdb

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDB runs the tests written against visionA's schema and nothing of the tool's own.
func TestFindSuitesSelectsOnlyTheDBTestFiles(t *testing.T) {
	s, err := FindSuites("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"./internal/store", "./internal/session", "./internal/health", "./migrations"} {
		if !slices.Contains(s.Packages, pkg) {
			t.Errorf("packages %v lack %s", s.Packages, pkg)
		}
	}
	for _, pkg := range []string{"./internal/reliability", "./internal/schema", "./internal/testdb"} {
		if slices.Contains(s.Packages, pkg) {
			t.Errorf("packages %v hold the tool's own %s", s.Packages, pkg)
		}
	}
	// internal/postgres holds both: its dbtest files and its own connection tests; the migrator's stay out.
	if slices.Contains(s.Tests, "TestStockGolangMigrateSharesTheVersionTable") {
		t.Errorf("tests %v hold a migrator test", s.Tests)
	}
	if len(s.Tests) < 10 || !strings.HasPrefix(s.RunPattern(), "^(") {
		t.Errorf("suites %+v", s)
	}
}

func TestFindSuitesRefusesANameThatWouldRunTwice(t *testing.T) {
	dir := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/a_dbtest_test.go", "//go:build dbtest\n\npackage a\n\nimport \"testing\"\n\nfunc TestShared(t *testing.T) {}\nfunc Testlower(t *testing.T) {}\n")
	write("a/a_test.go", "package a\n\nimport \"testing\"\n\nfunc TestOwn(t *testing.T) {}\n")
	s, err := FindSuites(dir)
	if err != nil || !slices.Equal(s.Tests, []string{"TestShared"}) || !slices.Equal(s.Packages, []string{"./a"}) {
		t.Fatalf("FindSuites = %+v, %v; want TestShared in ./a", s, err)
	}
	write("b/b_dbtest_test.go", "//go:build dbtest\n\npackage b\n\nimport \"testing\"\n\nfunc TestOther(t *testing.T) {}\n")
	write("b/b_test.go", "package b\n\nimport \"testing\"\n\nfunc TestShared(t *testing.T) {}\n")
	if _, err := FindSuites(dir); err == nil || !strings.Contains(err.Error(), "TestShared") {
		t.Fatalf("err = %v, want one naming TestShared", err)
	}
}

func TestParseMajors(t *testing.T) {
	for in, want := range map[string][]int{"14": {14}, "18,14": {18, 14}, " 14, 18 14 ": {14, 18}, "all": {14, 15, 16, 17, 18}, "ALL": {14, 15, 16, 17, 18}} {
		if got, err := ParseMajors("-postgres", in); err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseMajors(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "13", "19", "14,x", "14.2", ","} {
		if _, err := ParseMajors("-postgres", in); err == nil || !strings.Contains(err.Error(), "-postgres") {
			t.Errorf("ParseMajors(%q) = %v, want an error naming -postgres", in, err)
		}
	}
	lookup := func(v string) func(string) (string, bool) {
		return func(string) (string, bool) { return v, v != "" }
	}
	if got, _ := MajorsFromEnv("", lookup("18")); !slices.Equal(got, []int{18}) {
		t.Errorf("from the environment: %v", got)
	}
	if got, _ := MajorsFromEnv("15", lookup("18")); !slices.Equal(got, []int{15}) {
		t.Errorf("the flag wins: %v", got)
	}
	if got, err := MajorsFromEnv("", lookup("")); got != nil || err != nil {
		t.Errorf("neither: %v, %v; want nil", got, err)
	}
	if majorOf("18.4 (Debian 18.4-1)") != 18 || majorOf("14.23") != 14 || majorOf("x") != 0 {
		t.Error("majorOf")
	}
}
