// Package peers times our migrate CLI against the tools users would pick instead (golang-migrate,
// goose, dbmate) and against psql, the floor no migration tool can beat, each run as a whole
// process on a throwaway local PostgreSQL with fsync on. It is the peer benchmark harness: `mage bench`
// runs it through cmd/peerbench, and it writes docs/benchmarks.md and docs/benchmarks.png.
//
// What one run does (Run):
//  1. builds the peers at pinned versions with go install into a cache outside the repository,
//     and ours from the working tree;
//  2. generates the same N migrations in every tool's format (WriteSet);
//  3. starts a throwaway PostgreSQL (StartLocal) or uses a given one (Connect);
//  4. times up, version and down of every tool, interleaved, on a fresh database per run (Measure);
//  5. returns the samples; Results summarises them (medians, min–max, peak memory, ratios to ours,
//     the speed targets) as Markdown, a chart and JSON.
package peers

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/template"
	"time"
)

// Config is one harness run.
type Config struct {
	Sizes  []int
	Rounds int
	Quick  bool
	// Only limits the run to these tools (by Tool.Name); empty: all of them.
	Only []string
	// Cache holds the built peers and ours; it must be outside the repository.
	Cache string
	// Repo is the repository root, where ours is built from.
	Repo string
	// PGBin holds initdb, pg_ctl, postgres and psql for the throwaway server.
	PGBin string
	// PostgresURL, when set, is an existing server to use instead of a throwaway one.
	PostgresURL string
	// Command is how the run was started, recorded in the results so they say how to reproduce them.
	Command string
	// FlushDelay makes the throwaway server's every WAL flush wait this much longer, to stand for
	// a slower disk than the machine's (see serverOptions).
	FlushDelay time.Duration
	Options
}

// Run builds everything, measures, and returns the results.
func Run(ctx context.Context, cfg Config, log io.Writer) (*Results, error) {
	if rel, err := filepath.Rel(cfg.Repo, cfg.Cache); err == nil && !strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("the cache %s is inside the repository; choose a directory outside it", cfg.Cache)
	}
	if cfg.FlushDelay > 0 && cfg.PostgresURL != "" {
		return nil, errors.New("-flush-delay needs the throwaway server; unset VISIONA_BENCH_POSTGRES_URL")
	}
	res := &Results{Started: time.Now(), Command: cfg.Command, Quick: cfg.Quick, Sizes: cfg.Sizes, Rounds: cfg.Rounds, FlushDelay: cfg.FlushDelay,
		Host: Host{CPUs: runtime.NumCPU(), Go: runtime.Version(), Kernel: readTrim("/proc/sys/kernel/osrelease"), LoadStart: loadAvg()}}

	bins, err := build(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	tools := Contestants(bins, cfg.Options)
	if len(cfg.Only) > 0 {
		tools = slices.DeleteFunc(tools, func(t Tool) bool { return !slices.Contains(cfg.Only, t.Name) && t.Name != "visiona" })
	}
	res.Tools = tools

	work, err := os.MkdirTemp("", "visiona-peers.")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	sets := map[int]*Set{}
	for _, n := range cfg.Sizes {
		if sets[n], err = WriteSet(filepath.Join(work, fmt.Sprintf("n%d", n)), n); err != nil {
			return nil, err
		}
	}

	var srv *Server
	if cfg.PostgresURL != "" {
		srv, err = Connect(ctx, cfg.PostgresURL)
	} else {
		srv, err = StartLocal(ctx, cfg.PGBin, cfg.FlushDelay, log)
	}
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	res.Host.Postgres = srv.Version
	fmt.Fprintf(log, "peers: PostgreSQL %s on %s:%d (fsync=on, synchronous_commit=on, flush delay %s); %d round(s) of n=%v\n",
		srv.Version, srv.Host, srv.Port, cfg.FlushDelay, cfg.Rounds, cfg.Sizes)

	plan := Plan{Sizes: cfg.Sizes, Rounds: cfg.Rounds, Tools: tools, Sets: sets, WorkDir: work, Rusage: bins.Rusage}
	res.Samples, res.Skipped, err = Measure(ctx, srv, plan, log)
	res.Seconds = time.Since(res.Started).Seconds()
	res.Host.LoadEnd = loadAvg()
	return res, err
}

// build installs the peers into the cache and builds ours and, for psql, finds the client.
func build(ctx context.Context, cfg Config, log io.Writer) (Binaries, error) {
	var b Binaries
	var err error
	for _, p := range []struct {
		peer Peer
		dst  *string
	}{{GolangMigrate, &b.GolangMigrate}, {Goose, &b.Goose}, {Dbmate, &b.Dbmate}} {
		if *p.dst, err = p.peer.Install(ctx, cfg.Cache, log); err != nil {
			return b, err
		}
	}
	fmt.Fprintf(log, "peers: building ours from %s\n", cfg.Repo)
	if b.Ours, b.Rusage, err = BuildOurs(ctx, cfg.Repo, cfg.Cache); err != nil {
		return b, err
	}
	b.Psql = filepath.Join(cfg.PGBin, "psql")
	if _, err := os.Stat(b.Psql); err != nil {
		b.Psql = "psql"
	}
	return b, nil
}

func loadAvg() string {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

//go:embed benchmarks.md.tmpl
var docsFS embed.FS

// DocsNames are the files WriteDocs writes into the docs directory: benchmarks.md and .png, or
// benchmarks-slow-flush.md and .png for a run with a flush delay.
func (r *Results) DocsNames() (markdown, chart string) {
	if r.FlushDelay > 0 {
		return "benchmarks-slow-flush.md", "benchmarks-slow-flush.png"
	}
	return "benchmarks.md", "benchmarks.png"
}

// WriteDocs writes the page (from benchmarks.md.tmpl) and its chart.
func (r *Results) WriteDocs(dir string) error {
	markdown, chart := r.DocsNames()
	tmpl, err := template.New("benchmarks.md.tmpl").Funcs(template.FuncMap{
		"table":  r.Table,
		"checks": r.ChecksTable,
		"skips":  r.skipNotes,
		"date":   func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"duration": func(s float64) string {
			return time.Duration(s * float64(time.Second)).Round(time.Second).String()
		},
		"chart": func() string { return chart },
		"micro": func(d time.Duration) int64 { return d.Microseconds() },
		"peers": func() []Peer { return []Peer{GolangMigrate, Goose, Dbmate} },
	}).ParseFS(docsFS, "benchmarks.md.tmpl")
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, r); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, markdown), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return r.WriteChart(filepath.Join(dir, chart))
}

// skipNotes lists, once per tool and reason, what was not measured.
func (r *Results) skipNotes() []string {
	seen := map[string]bool{}
	var notes []string
	for _, s := range r.Skipped {
		if strings.HasPrefix(s.Reason, "same as") {
			continue
		}
		note := fmt.Sprintf("%s %s: %s", s.Tool, s.Op, s.Reason)
		if !seen[note] {
			seen[note] = true
			notes = append(notes, note)
		}
	}
	return notes
}
