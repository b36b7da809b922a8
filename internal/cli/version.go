package cli

import (
	"fmt"

	"visiona-backend/internal/migfile"
	"visiona-backend/internal/version"
)

// buildReport is what `migrate -version` prints: the binary's build and the migrations it embeds,
// so a deploy can compare them with the database's `migrate version` before it migrates.
type buildReport struct {
	version.Build
	Lint       bool               `json:"lint"` // the lint needs cgo (PostgreSQL's parser is C)
	Migrations embeddedMigrations `json:"migrations"`
}

type embeddedMigrations struct {
	Count         int    `json:"count"`
	LatestVersion uint   `json:"latest_version"`
	LatestName    string `json:"latest_name"` // NNNNNN_name, as in the file names
	Sum           string `json:"sum"`         // the migrations.sum total, which covers every file
}

// printVersion reports b and the embedded migrations. The set is checked as it is before every
// up and down: a binary whose migrations do not match their sums fails here too, with the same code.
func (r *runner) printVersion(b version.Build, args []string) error {
	r.out.command = "-version"
	if len(args) > 0 {
		return usageErr("-version takes no command, got %q", args[0])
	}
	src, err := migfile.LoadSource(r.env.Migrations)
	if err != nil {
		return err
	}
	if err := migfile.VerifySums(src, r.env.Migrations); err != nil {
		return err
	}
	rep := buildReport{Build: b, Lint: b.CGO, Migrations: embeddedMigrations{
		Count: len(src.Migrations()), LatestVersion: src.Latest(), Sum: src.Sums().Total,
	}}
	if last, ok := src.Find(src.Latest()); ok {
		rep.Migrations.LatestName = last.Label()
	}
	r.out.doc.Build = &rep

	w := &r.out.text
	fmt.Fprintf(w, "migrate %s\n", b.Version)
	switch {
	case b.Commit == "":
		fmt.Fprintln(w, "commit      none recorded (go run, a build outside a git clone or in a git worktree, or -buildvcs=false; `go run mage.go build` in a clone records it)")
	case b.Dirty:
		fmt.Fprintf(w, "commit      %s (%s), built with uncommitted changes\n", b.Commit, b.CommitTime.UTC().Format("2006-01-02T15:04:05Z"))
	default:
		fmt.Fprintf(w, "commit      %s (%s)\n", b.Commit, b.CommitTime.UTC().Format("2006-01-02T15:04:05Z"))
	}
	fmt.Fprintf(w, "go          %s %s\n", b.Go, b.Platform())
	if rep.Lint {
		fmt.Fprintln(w, "lint        yes (built with cgo: PostgreSQL's parser)")
	} else {
		fmt.Fprintln(w, "lint        no (built without cgo; `migrate lint` needs PostgreSQL's parser, which is C)")
	}
	if rep.Migrations.Count == 0 {
		fmt.Fprintln(w, "migrations  none embedded")
	} else {
		fmt.Fprintf(w, "migrations  %d embedded, latest %s\n", rep.Migrations.Count, rep.Migrations.LatestName)
	}
	fmt.Fprintf(w, "sum         %s\n", rep.Migrations.Sum)
	return nil
}
