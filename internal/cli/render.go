package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"visiona-backend/internal/db"
	"visiona-backend/internal/lines"
	"visiona-backend/internal/lint"
)

// printer collects a command's results and writes them once, as text or as one JSON document.
type printer struct {
	w       io.Writer
	json    bool
	command string
	target  string
	text    bytes.Buffer
	doc     report
}

// report is the -json document. Field names are part of the interface: add, never rename.
type report struct {
	Command    string               `json:"command"`
	Target     string               `json:"target,omitempty"`
	OK         bool                 `json:"ok"`
	ExitCode   int                  `json:"exit_code"`
	Error      string               `json:"error,omitempty"`
	Applied    []jsonResult         `json:"applied,omitempty"`
	Version    *db.VersionInfo      `json:"version,omitempty"`
	Migrations []db.MigrationStatus `json:"migrations,omitempty"`
	Unknown    []db.HistoryEntry    `json:"unknown,omitempty"`
	Created    []string             `json:"created,omitempty"`
	Reset      *db.ResetReport      `json:"reset,omitempty"`
	Lint       *lint.Report         `json:"lint,omitempty"`
	Build      *buildReport         `json:"build,omitempty"`
	Prove      *proveReport         `json:"prove,omitempty"`
	Drift      *driftReport         `json:"drift,omitempty"`
	results    []db.Result
}

type jsonResult struct {
	Version    uint         `json:"version"`
	Name       string       `json:"name"`
	Direction  db.Direction `json:"direction"`
	DurationMS float64      `json:"duration_ms"`
}

func newPrinter(w io.Writer) *printer { return &printer{w: w} }

func progressLine(r db.Result) string {
	return fmt.Sprintf("%-4s %06d %s (%s)", r.Direction, r.Version, r.Name, roundDuration(r.Duration))
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

func (p *printer) version(info db.VersionInfo) {
	p.doc.Version = &info
	if len(p.doc.results) > 0 {
		var total time.Duration
		for _, r := range p.doc.results {
			total += r.Duration
		}
		fmt.Fprintf(&p.text, "%d migration(s) %s in %s\n", len(p.doc.results), pastTense(p.doc.results[0].Direction), roundDuration(total))
	} else if p.command == "up" || p.command == "down" || p.command == "goto" {
		fmt.Fprintln(&p.text, "no change")
	}
	fmt.Fprintln(&p.text, versionLine(info))
	if info.Recover != "" {
		fmt.Fprintf(&p.text, "dirty: %s\n", info.Recover)
	}
	if len(info.InvalidIndexes) > 0 {
		fmt.Fprintf(&p.text, "invalid index: %s (left by a failed CREATE INDEX CONCURRENTLY); remove it: %s\n", strings.Join(info.InvalidIndexes, ", "), info.InvalidIndexDrop())
	}
}

func pastTense(d db.Direction) string {
	if d == db.Down {
		return "reverted"
	}
	return "applied"
}

// versionLine starts with the bare number so scripts can read it with `cut -d' ' -f1`.
func versionLine(info db.VersionInfo) string {
	s := fmt.Sprintf("%d", info.Version)
	if info.Dirty {
		s += " (dirty)"
	}
	switch {
	case info.Ahead:
		s += fmt.Sprintf(" ahead of the files (newest file %06d)", info.Latest)
	case info.Pending == 0:
		s += " (latest)"
	default:
		s += fmt.Sprintf(" (%d pending, latest %d)", info.Pending, info.Latest)
	}
	return s
}

func (p *printer) status(st db.Status) {
	p.doc.Version = &st.VersionInfo
	p.doc.Migrations = st.Migrations
	p.doc.Unknown = st.Unknown
	fmt.Fprintf(&p.text, "database  %s\nversion   %s\n", p.target, versionLine(st.VersionInfo))
	if st.Recover != "" {
		fmt.Fprintf(&p.text, "dirty     %s\n", st.Recover)
	}
	if len(st.InvalidIndexes) > 0 {
		fmt.Fprintf(&p.text, "invalid   %s (left by a failed CREATE INDEX CONCURRENTLY); remove it: %s\n", strings.Join(st.InvalidIndexes, ", "), st.InvalidIndexDrop())
	}
	fmt.Fprintln(&p.text)
	tw := tabwriter.NewWriter(&p.text, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT\tBY\tTOOK")
	for _, m := range st.Migrations {
		state, at, by, took := "pending", "", "", ""
		if m.Applied {
			state = "applied"
			if !m.AppliedAt.IsZero() {
				at, by = m.AppliedAt.UTC().Format("2006-01-02 15:04:05Z"), m.AppliedBy
			}
			if m.Duration > 0 {
				took = roundDuration(m.Duration).String()
			}
		}
		switch {
		case m.Current && st.Dirty:
			state = "dirty"
		case m.Changed:
			state = "applied, file changed since"
		case m.Adopted:
			state = "applied (adopted)"
		}
		fmt.Fprintf(tw, "%06d\t%s\t%s\t%s\t%s\t%s\n", m.Version, m.Name, state, at, by, took)
	}
	for _, h := range st.Unknown {
		fmt.Fprintf(tw, "%06d\t%s\t%s\t%s\t%s\t\n", h.Version, h.Name, "applied, no file", h.AppliedAt.UTC().Format("2006-01-02 15:04:05Z"), h.AppliedBy)
	}
	tw.Flush()
}

// reset reports what a reset did; each phase it reached gets a line.
func (p *printer) reset(r *db.ResetReport) {
	p.doc.Reset = r
	kinds := make([]string, 0, len(r.Dropped))
	for kind, n := range r.Dropped {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, kind))
	}
	slices.Sort(kinds)
	dropped := "nothing"
	if len(kinds) > 0 {
		dropped = fmt.Sprintf("%d objects (%s)", r.DroppedTotal(), strings.Join(kinds, ", "))
	}
	fmt.Fprintf(&p.text, "dropped %s in %s\n", dropped, roundDuration(r.DropDuration))
	if r.MigrateDuration > 0 {
		fmt.Fprintf(&p.text, "migrated to version %d (%d migration(s)) in %s\n", r.Version, len(r.Applied), roundDuration(r.MigrateDuration))
	}
	if len(r.SeedFiles) > 0 {
		fmt.Fprintf(&p.text, "seeded %d rows from %s in %s\n", r.SeedRows, strings.Join(r.SeedFiles, ", "), roundDuration(r.SeedDuration))
	}
}

func (p *printer) created(paths ...string) {
	p.doc.Created = paths
	for _, path := range paths {
		fmt.Fprintf(&p.text, "created %s\n", path)
	}
	p.text.WriteString("next: write the change in the .up.sql file and its exact reverse in the .down.sql file; until both hold SQL, every command that reads the migrations refuses them (exit 9)\n")
}

func (p *printer) fail(code int, err error) {
	p.doc.ExitCode = code
	p.doc.Error = lines.Fold(err.Error())
}

// flush writes the results. In text mode the progress lines went out as they happened; here come
// the summary and listings.
func (p *printer) flush() error {
	if !p.json {
		_, err := p.w.Write(p.text.Bytes())
		return err
	}
	d := p.doc
	d.Command, d.Target, d.OK = p.command, p.target, d.Error == ""
	for _, r := range d.results {
		d.Applied = append(d.Applied, jsonResult{Version: r.Version, Name: r.Name, Direction: r.Direction, DurationMS: float64(r.Duration.Microseconds()) / 1000})
	}
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}
