// Command peerbench times our migrate CLI against golang-migrate, goose, dbmate and psql on a
// throwaway local PostgreSQL (see package bench/peers), prints the tables, writes the samples as
// JSON outside the repository, and with -write-docs rewrites docs/benchmarks.md and
// docs/benchmarks.png. `mage bench` runs it.
//
//	go run ./bench/peers/cmd/peerbench                       # N=100 and 1000, 5 rounds
//	go run ./bench/peers/cmd/peerbench -quick                # N=100, 1 round
//	go run ./bench/peers/cmd/peerbench -from r.json -write-docs  # redraw the docs from a saved run
//
// Environment: VISIONA_BENCH_CACHE (default ~/.cache/visiona-bench) holds the built tools and the
// results; VISIONA_BENCH_POSTGRES_URL, a superuser URL, uses that server instead of starting one.
//
// Output: tables on stdout; progress and errors on stderr, prefixed "peers:".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"visiona-backend/bench/peers"
)

func main() {
	err := run()
	switch {
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(os.Stderr, "peers: interrupted; the throwaway server is stopped and its data deleted")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "peers: error: %v\n", err)
		os.Exit(1)
	}
}

var errInterrupted = errors.New("interrupted")

func run() error {
	var (
		quick     = flag.Bool("quick", false, "smoke test: N=100 only, 1 round")
		sizes     = flag.String("n", "100,1000", "migration counts, comma-separated")
		rounds    = flag.Int("rounds", 5, "interleaved rounds (samples per tool, size and operation)")
		toolList  = flag.String("tools", "", "comma-separated subset of tools (ours is always run): golang-migrate, goose, dbmate, psql, psql-all-in-one")
		dbmateMax = flag.Int("dbmate-down-max", 100, "largest N at which dbmate's down runs (one process per migration; ~130 s at 1000)")
		cacheDir  = flag.String("cache", "", "built tools and results, outside the repository (default $VISIONA_BENCH_CACHE or ~/.cache/visiona-bench)")
		jsonPath  = flag.String("json", "", "where to write the results (default <cache>/results/peers-<time>.json)")
		from      = flag.String("from", "", "render a saved results file instead of measuring")
		writeDocs = flag.Bool("write-docs", false, "also write docs/benchmarks.md and docs/benchmarks.png")
		docsDir   = flag.String("docs", "", "directory for -write-docs (default <repository>/docs)")
		pgbin     = flag.String("pgbin", "/usr/lib/postgresql/15/bin", "PostgreSQL server binaries for the throwaway server")
		command   = flag.String("command", "", "the command line to record as how to reproduce the run (mage sets it)")
		flushWait = flag.Duration("flush-delay", 0, "make the throwaway server's every WAL flush wait this much longer (e.g. 1ms): a slower disk; -write-docs then writes docs/benchmarks-slow-flush.*")
		sizeList  []int
	)
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see -h)", flag.Args())
	}
	if *quick {
		*sizes, *rounds = "100", 1
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-n: %q is not a migration count", s)
		}
		sizeList = append(sizeList, n)
	}
	if *rounds < 1 {
		return errors.New("-rounds must be at least 1")
	}
	repository, err := repoRoot()
	if err != nil {
		return err
	}
	if *cacheDir == "" {
		*cacheDir = os.Getenv("VISIONA_BENCH_CACHE")
	}
	if *cacheDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("no cache directory: set -cache or VISIONA_BENCH_CACHE: %w", err)
		}
		*cacheDir = filepath.Join(home, ".cache", "visiona-bench")
	}
	if *cacheDir, err = filepath.Abs(*cacheDir); err != nil {
		return err
	}
	if *docsDir == "" {
		*docsDir = filepath.Join(repository, "docs")
	}
	if *command == "" {
		*command = strings.Join(append([]string{"go run ./bench/peers/cmd/peerbench"}, os.Args[1:]...), " ")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var res *peers.Results
	if *from != "" {
		if res, err = peers.ReadResults(*from); err != nil {
			return err
		}
	} else {
		var only []string
		if *toolList != "" {
			only = strings.Split(*toolList, ",")
		}
		cfg := peers.Config{Sizes: sizeList, Rounds: *rounds, Quick: *quick, Only: only, Cache: *cacheDir, Repo: repository,
			PGBin: *pgbin, PostgresURL: os.Getenv("VISIONA_BENCH_POSTGRES_URL"), Command: *command, FlushDelay: *flushWait,
			Options: peers.Options{DbmateDownMaxN: *dbmateMax}}
		if res, err = peers.Run(ctx, cfg, os.Stderr); err != nil {
			if ctx.Err() != nil {
				return errInterrupted
			}
			return err
		}
		if *jsonPath == "" {
			*jsonPath = filepath.Join(*cacheDir, "results", "peers-"+res.Started.Format("20060102-150405")+".json")
		}
		if err := res.WriteJSON(*jsonPath); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "peers: results in %s (%s)\n", *jsonPath, time.Duration(res.Seconds*float64(time.Second)).Round(time.Second))
	}

	fmt.Println("targets, ours ÷ reference:")
	fmt.Println(res.ChecksTable())
	for _, n := range res.SizesDesc() {
		fmt.Printf("n=%d:\n%s\n", n, res.Table(n))
	}
	if *writeDocs {
		if err := res.WriteDocs(*docsDir); err != nil {
			return err
		}
		markdown, chart := res.DocsNames()
		fmt.Fprintf(os.Stderr, "peers: wrote %s and %s\n", filepath.Join(*docsDir, markdown), filepath.Join(*docsDir, chart))
	}
	return nil
}

// repoRoot is the directory of the main module's go.mod: ours is built from there.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the visiona-backend repository (no go.mod found)")
	}
	return filepath.Dir(gomod), nil
}
