// Package lint checks migration SQL for statements that fail, lock or lose data on a production
// database that CI's empty one cannot reveal: an index built without CONCURRENTLY on a live table, a
// constraint validated under a write lock, a column that rewrites the table, a COMMIT inside a
// migration. It reads SQL with PostgreSQL's own parser (pg_query_go embeds it), never with patterns.
//
// Findings are values; printing them is the caller's job (Render). A finding that does not apply
// is silenced in its file with a comment that says why:
//
//	-- lint:ignore not-concurrently devices holds a few hundred rows; the lock lasts milliseconds
package lint

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"visiona-backend/internal/migfile"
)

// Severity says whether a finding fails the lint (Error) or deserves a look (Warning).
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one problem at one place of one migration file. Line and Column count from 1; Column
// counts characters, not bytes.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	Column   int      `json:"column"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String is the finding on one line, file:line:column first so editors and CI annotations jump to
// it: "migrations/000003_x.up.sql:12:5: error not-concurrently: CREATE INDEX on ...".
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s %s: %s", f.File, f.Line, f.Column, f.Severity, f.Rule, f.Message)
}

// HasErrors reports whether any finding has severity Error: the lint fails on those only.
func HasErrors(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Severity == Error })
}

// Render writes the findings one a line, sorted by file, line and column.
func Render(findings []Finding, w io.Writer) error {
	sorted := slices.Clone(findings)
	slices.SortStableFunc(sorted, compareFindings)
	for _, f := range sorted {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	return nil
}

func compareFindings(a, b Finding) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
		cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Message, b.Message))
}

// Option adjusts Check and CheckDir.
type Option func(*options)

type options struct {
	baseline uint
	target   Version
}

// Baseline leaves out the findings of migrations up to version v: they are still read, for the
// schema they build, but not reported. For a history that predates the lint and may not be edited
// (migrations.sum records it; a suppression comment would be an edit).
func Baseline(v uint) Option { return func(o *options) { o.baseline = v } }

// Target makes the version-dependent rules exact for the PostgreSQL the migrations will run on:
// which defaults rewrite a table (all of them before 11), the CONCURRENTLY bug of 14.0-14.3, and
// whether syntax newer than the lint's parser is a warning (the target accepts it) or an error.
// Without it, the lint assumes a supported release (14 or later) at its latest minor.
func Target(v Version) Option { return func(o *options) { o.target = v } }

// Check lints every migration of src, in version order: each up file against the tables the
// earlier ups created, each down file against the schema its up left. Finding.File is the file's
// name within the source (000003_x.up.sql); CheckDir puts the directory in front.
//
// SQL the parser rejects is a syntax-error finding, not an error: an error means the lint itself
// could not run.
func Check(src *migfile.Source, opts ...Option) ([]Finding, error) {
	if src == nil {
		return nil, errors.New("lint: no migration source")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := newSchema()
	var out []Finding
	for _, m := range src.Migrations() {
		up, err := parseFile(m.UpFile, m.Up, true, m.UpNoTx, o.target)
		if err != nil {
			return nil, err
		}
		down, err := parseFile(m.DownFile, m.Down, false, m.DownNoTx, o.target)
		if err != nil {
			return nil, err
		}
		// The down runs against the schema its up leaves; the next up continues from there too.
		check(up, s)
		check(down, s.clone())
		if m.Version > o.baseline {
			out = append(out, nameFindings(m.UpFile, m.DownFile)...)
			out = append(out, up.result()...)
			out = append(out, down.result()...)
		}
	}
	return out, nil
}

// nameFindings reports the files whose names are not the strict form (migfile.StrictName).
func nameFindings(files ...string) []Finding {
	r, _ := ruleByName(ruleStrictName)
	var out []Finding
	for _, name := range files {
		if !migfile.StrictName(name) {
			out = append(out, Finding{File: name, Line: 1, Column: 1, Rule: r.Name, Severity: r.Severity,
				Message: "not named as `migrate create` names files (<version>_<lowercase_snake_title>.up.sql / .down.sql): rename it before it is applied anywhere"})
		}
	}
	return out
}

// CheckDir loads the migrations in dir (strictly, as the migrator does) and lints them; each
// Finding.File is dir/name, as written to the terminal.
func CheckDir(dir string, opts ...Option) ([]Finding, error) {
	src, err := migfile.LoadSource(os.DirFS(dir))
	if err != nil {
		return nil, err
	}
	findings, err := Check(src, opts...)
	for i := range findings {
		findings[i].File = filepath.Join(dir, findings[i].File)
	}
	return findings, err
}
