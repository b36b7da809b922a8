package testdb

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// dbtestTag is the build tag of the suites written against visionA's schema.
const dbtestTag = "dbtest"

// Suites are the tests written against visionA's schema: the Test functions of the _test.go files
// that build only with the dbtest tag. TestDB runs exactly these; the packages' other tests are
// the tool's own and run in `mage test`, so that `mage ci` runs every test once.
type Suites struct {
	Packages []string // ./relative/dir, sorted
	Tests    []string // test function names, sorted
}

// RunPattern is go test's -run value selecting exactly the suites' top-level tests.
func (s Suites) RunPattern() string { return "^(" + strings.Join(s.Tests, "|") + ")$" }

// FindSuites lists the dbtest suites under repoDir. A dbtest test whose name is also a test's
// built without the tag in another listed package would run twice (one -run covers every
// package): that is an error naming both.
func FindSuites(repoDir string) (Suites, error) {
	withTag := build.Default
	withTag.BuildTags = append(slices.Clone(withTag.BuildTags), dbtestTag)
	dbtests := map[string][]string{} // package dir -> dbtest test names
	others := map[string][]string{}  // package dir -> tests built without the tag
	err := filepath.WalkDir(repoDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != repoDir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		dir := filepath.Dir(path)
		inDBTest, err := withTag.MatchFile(dir, name)
		if err != nil {
			return err
		}
		inDefault, err := build.Default.MatchFile(dir, name)
		if err != nil {
			return err
		}
		if !inDBTest && !inDefault {
			return nil
		}
		tests, err := testFuncs(path)
		if err != nil {
			return err
		}
		if inDBTest && !inDefault {
			dbtests[dir] = append(dbtests[dir], tests...)
		} else {
			others[dir] = append(others[dir], tests...)
		}
		return nil
	})
	if err != nil {
		return Suites{}, fmt.Errorf("find the dbtest suites: %w", err)
	}
	var s Suites
	owner := map[string]string{}
	for dir, tests := range dbtests {
		rel, err := filepath.Rel(repoDir, dir)
		if err != nil {
			return Suites{}, err
		}
		s.Packages = append(s.Packages, "./"+filepath.ToSlash(rel))
		for _, t := range tests {
			owner[t] = rel
			s.Tests = append(s.Tests, t)
		}
	}
	for dir := range dbtests {
		for _, t := range others[dir] {
			if pkg, ok := owner[t]; ok {
				rel, _ := filepath.Rel(repoDir, dir)
				return Suites{}, fmt.Errorf("test %s is a dbtest in ./%s and a plain test in ./%s: TestDB selects by name, so it would run both; rename one", t, pkg, rel)
			}
		}
	}
	slices.Sort(s.Packages)
	slices.Sort(s.Tests)
	s.Tests = slices.Compact(s.Tests)
	return s, nil
}

// testFuncs returns the names of the file's top-level tests (func TestXxx(t *testing.T)), by
// go test's rule: "Test" followed by nothing or a non-lowercase letter; TestMain is not one.
func testFuncs(path string) ([]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || fn.Type.Params.NumFields() != 1 || fn.Name.Name == "TestMain" {
			continue
		}
		rest, ok := strings.CutPrefix(fn.Name.Name, "Test")
		if !ok {
			continue
		}
		if r, _ := utf8.DecodeRuneInString(rest); rest == "" || !unicode.IsLower(r) {
			names = append(names, fn.Name.Name)
		}
	}
	return names, nil
}
