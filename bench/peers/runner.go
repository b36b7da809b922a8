package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Sample is one timed operation: whole processes, from fork to exit.
type Sample struct {
	Tool  string  `json:"tool"`
	N     int     `json:"n"`
	Op    Op      `json:"op"`
	Round int     `json:"round"`
	Wall  float64 `json:"wall_s"`
	// CPU is the user+system time of the tool's own processes (not the server's).
	CPU float64 `json:"cpu_s"`
	// MaxRSSKB is the largest resident set of the tool's processes (getrusage ru_maxrss).
	MaxRSSKB  int64 `json:"max_rss_kb"`
	Processes int   `json:"processes"`
}

// Skip records an operation a tool is not measured on, and why.
type Skip struct {
	Tool   string `json:"tool"`
	N      int    `json:"n"`
	Op     Op     `json:"op"`
	Reason string `json:"reason"`
}

// Plan is what one Measure call runs.
type Plan struct {
	Sizes  []int
	Rounds int
	Tools  []Tool
	Sets   map[int]*Set
	// WorkDir is the tools' working directory and holds their output; never the repository, so
	// no tool can write files there.
	WorkDir string
	// Rusage is bench/peers/cmd/rusage, which starts each tool and measures it.
	Rusage string
}

// Measure runs every tool on every size, Rounds times, and returns the samples.
//
// Each round runs every size, and within a size every tool once, one after the other (A B C A B C
// …), starting one tool later each round: load that drifts over minutes on a shared machine is
// spread over all tools instead of landing on one. A tool's run gets a fresh database (created
// and dropped untimed) on which it times up, then version, then down, each preceded by an
// untimed CHECKPOINT. After up the database must hold N tables, after down none.
func Measure(ctx context.Context, srv *Server, p Plan, log io.Writer) ([]Sample, []Skip, error) {
	var samples []Sample
	skipped := map[Skip]bool{}
	var skips []Skip
	seq := 0
	for round := 1; round <= p.Rounds; round++ {
		for _, n := range p.Sizes {
			for i := range p.Tools {
				tool := p.Tools[(i+round-1)%len(p.Tools)]
				seq++
				db := fmt.Sprintf("visiona_peers_%d_%d", os.Getpid(), seq)
				got, skip, err := runTool(ctx, srv, tool, target{srv: srv, db: db, set: p.Sets[n]}, p)
				for i := range got {
					got[i].Round = round
				}
				samples = append(samples, got...)
				for _, s := range skip {
					if !skipped[s] {
						skipped[s] = true
						skips = append(skips, s)
					}
				}
				fmt.Fprintf(log, "peers: round %d/%d  n=%-5d %-20s %s\n", round, p.Rounds, n, tool.Name, summaryLine(got))
				if err != nil {
					return samples, skips, fmt.Errorf("%s, n=%d, round %d: %w", tool.Name, n, round, err)
				}
			}
		}
	}
	return samples, skips, nil
}

func summaryLine(samples []Sample) string {
	var parts []string
	for _, s := range samples {
		parts = append(parts, fmt.Sprintf("%s %s (%s)", s.Op, formatSeconds(s.Wall), formatMB(s.MaxRSSKB)))
	}
	return strings.Join(parts, "  ")
}

// runTool times every operation of one tool on a fresh database.
func runTool(ctx context.Context, srv *Server, tool Tool, t target, p Plan) (samples []Sample, skips []Skip, err error) {
	if err := srv.CreateDatabase(ctx, t.db); err != nil {
		return nil, nil, fmt.Errorf("create database: %w", err)
	}
	defer func() {
		if dropErr := srv.DropDatabase(context.WithoutCancel(ctx), t.db); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("drop database: %w", dropErr))
		}
	}()
	for _, op := range Ops {
		runs, why := tool.plan(op, t)
		if len(runs) == 0 {
			skips = append(skips, Skip{Tool: tool.Name, N: t.set.N, Op: op, Reason: why})
			continue
		}
		if err := srv.Checkpoint(ctx); err != nil {
			return samples, skips, fmt.Errorf("checkpoint: %w", err)
		}
		s, err := timeProcesses(ctx, runs, p.Rusage, p.WorkDir)
		if err != nil {
			return samples, skips, fmt.Errorf("%s: %w", op, err)
		}
		s.Tool, s.N, s.Op = tool.Name, t.set.N, op
		samples = append(samples, s)
		if err := verify(ctx, srv, t, op); err != nil {
			return samples, skips, fmt.Errorf("%s: %w", op, err)
		}
	}
	return samples, skips, nil
}

// verify checks that the tool did the work it was timed for: N tables after up, none after down.
func verify(ctx context.Context, srv *Server, t target, op Op) error {
	want := map[Op]int{Up: t.set.N, Down: 0}
	w, ok := want[op]
	if !ok {
		return nil
	}
	got, err := srv.Tables(ctx, t.db)
	if err != nil {
		return fmt.Errorf("count tables: %w", err)
	}
	if got != w {
		return fmt.Errorf("the database has %d generated tables after %s, want %d", got, op, w)
	}
	return nil
}

// timeProcesses runs the processes one after the other, each under the rusage launcher, and
// measures them as one operation: wall time and CPU time summed, peak RSS the largest. The wall
// time of a process runs from its fork to its exit, as the launcher sees it, so the launcher's own
// start-up is not counted. Their stdout and stderr go to one regular file (the same sink for every
// tool), shown if one fails.
func timeProcesses(ctx context.Context, runs []invocation, launcher, workDir string) (Sample, error) {
	outPath := filepath.Join(workDir, "tool-output.log")
	resultPath := filepath.Join(workDir, "rusage.json")
	out, err := os.Create(outPath)
	if err != nil {
		return Sample{}, err
	}
	defer out.Close()
	s := Sample{Processes: len(runs)}
	for _, r := range runs {
		os.Remove(resultPath)
		cmd := exec.CommandContext(ctx, launcher, append([]string{resultPath, r.path}, r.args...)...)
		cmd.Env, cmd.Dir = r.env, workDir
		cmd.Stdout, cmd.Stderr = out, out
		runErr := cmd.Run()
		if runErr != nil {
			tail, _ := os.ReadFile(outPath)
			return s, fmt.Errorf("%s %s: %w\n%s", filepath.Base(r.path), strings.Join(redact(r.args), " "), runErr, lastLines(string(tail), 15))
		}
		var res struct {
			WallNS   int64 `json:"wall_ns"`
			CPUNS    int64 `json:"cpu_ns"`
			MaxRSSKB int64 `json:"max_rss_kb"`
		}
		data, err := os.ReadFile(resultPath)
		if err == nil {
			err = json.Unmarshal(data, &res)
		}
		if err != nil {
			return s, fmt.Errorf("read the launcher's measurement: %w", err)
		}
		s.Wall += time.Duration(res.WallNS).Seconds()
		s.CPU += time.Duration(res.CPUNS).Seconds()
		s.MaxRSSKB = max(s.MaxRSSKB, res.MaxRSSKB)
	}
	return s, nil
}

// redact hides URL arguments, which may hold a password (golang-migrate's -database).
func redact(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.Contains(a, "://") {
			a = "<url>"
		}
		out[i] = a
	}
	return out
}
