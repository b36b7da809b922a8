package peers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Results is everything one run measured: what -json writes and -from reads back.
type Results struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"duration_s"`
	// Command reproduces the run.
	Command string `json:"command"`
	Quick   bool   `json:"quick"`
	Sizes   []int  `json:"sizes"`
	Rounds  int    `json:"rounds"`
	// FlushDelay is the server's added wait per WAL flush (Config.FlushDelay); 0 for most runs.
	FlushDelay time.Duration `json:"flush_delay_ns,omitempty"`
	Host       Host          `json:"host"`
	Tools      []Tool        `json:"tools"`
	Samples    []Sample      `json:"samples"`
	Skipped    []Skip        `json:"skipped"`
}

// Host describes the machine and server the numbers come from.
type Host struct {
	CPUs      int    `json:"cpus"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	Postgres  string `json:"postgres"`
	LoadStart string `json:"loadavg_start"` // /proc/loadavg: 1, 5, 15 minutes
	LoadEnd   string `json:"loadavg_end"`
}

// Stat summarises one tool's samples for one size and operation.
type Stat struct {
	Median, Min, Max float64 // wall seconds
	CPU              float64 // median CPU seconds of the tool's processes
	PeakRSSKB        int64   // the largest over the samples
	Count            int
}

// Stat returns the summary of tool's op at size n, and false when there are no samples.
func (r *Results) Stat(tool string, n int, op Op) (Stat, bool) {
	var walls, cpus []float64
	var st Stat
	for _, s := range r.Samples {
		if s.Tool == tool && s.N == n && s.Op == op {
			walls, cpus = append(walls, s.Wall), append(cpus, s.CPU)
			st.PeakRSSKB = max(st.PeakRSSKB, s.MaxRSSKB)
		}
	}
	if len(walls) == 0 {
		return Stat{}, false
	}
	st.Median, st.CPU, st.Count = median(walls), median(cpus), len(walls)
	st.Min, st.Max = slices.Min(walls), slices.Max(walls)
	return st, true
}

// PeakRSS is the largest resident set of the tool's processes over every operation at size n.
func (r *Results) PeakRSS(tool string, n int) int64 {
	var peak int64
	for _, s := range r.Samples {
		if s.Tool == tool && s.N == n {
			peak = max(peak, s.MaxRSSKB)
		}
	}
	return peak
}

// Ratio is tool's median over ours (visiona) for the same size and operation: 2.0 means the tool
// takes twice as long as ours.
func (r *Results) Ratio(tool string, n int, op Op) (float64, bool) {
	t, ok1 := r.Stat(tool, n, op)
	o, ok2 := r.Stat("visiona", n, op)
	if !ok1 || !ok2 || o.Median == 0 {
		return 0, false
	}
	return t.Median / o.Median, true
}

func (r *Results) skipReason(tool string, n int, op Op) string {
	for _, s := range r.Skipped {
		if s.Tool == tool && s.N == n && s.Op == op {
			return s.Reason
		}
	}
	return ""
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// LargestN is the size targets and the chart are read at: 1000 in a full run.
func (r *Results) LargestN() int {
	if len(r.Sizes) == 0 {
		return 0
	}
	return slices.Max(r.Sizes)
}

// Check is one of the speed targets against this run.
type Check struct {
	Goal   string
	Limit  float64 // ours ÷ reference must be at most this
	Ratio  float64 // ours ÷ reference, measured
	Status string  // met, missed, not measured
	Detail string
}

// Checks compares ours with the speed targets at the largest size measured. Every ratio is
// ours ÷ reference, from medians of this one run.
func (r *Results) Checks() []Check {
	n := r.LargestN()
	timeCheck := func(goal string, limit float64, ours, ref string, op Op) Check {
		c := Check{Goal: goal, Limit: limit}
		o, ok1 := r.Stat(ours, n, op)
		x, ok2 := r.Stat(ref, n, op)
		if !ok1 || !ok2 {
			c.Status = "not measured"
			return c
		}
		c.Ratio = o.Median / x.Median
		c.Detail = fmt.Sprintf("%s vs %s", formatSeconds(o.Median), formatSeconds(x.Median))
		c.Status = status(c.Ratio, limit)
		return c
	}
	checks := []Check{
		timeCheck(fmt.Sprintf("up %d: ours ≤ 0.85 × goose", n), 0.85, "visiona", "goose", Up),
		timeCheck(fmt.Sprintf("up %d: ours ≤ 0.6 × golang-migrate", n), 0.6, "visiona", "golang-migrate", Up),
		timeCheck(fmt.Sprintf("up %d: ours ≤ 1.15 × psql, one transaction per migration", n), 1.15, "visiona", "psql", Up),
		timeCheck(fmt.Sprintf("up %d: ours all-in-one ≤ 1.1 × psql --single-transaction", n), 1.1, "visiona-all-in-one", "psql-all-in-one", Up),
		timeCheck(fmt.Sprintf("down %d: ours ≤ goose", n), 1, "visiona", "goose", Down),
		timeCheck(fmt.Sprintf("version (%d applied): ours ≤ 2 × `psql -c 'select 1'`", n), 2, "visiona", "psql", Version),
	}
	mem := Check{Goal: fmt.Sprintf("peak memory, n=%d: ours ≤ goose", n), Limit: 1, Status: "not measured"}
	if o, g := r.PeakRSS("visiona", n), r.PeakRSS("goose", n); o > 0 && g > 0 {
		mem.Ratio = float64(o) / float64(g)
		mem.Detail = fmt.Sprintf("%s vs %s", formatMB(o), formatMB(g))
		mem.Status = status(mem.Ratio, 1)
	}
	return append(checks, mem)
}

func status(ratio, limit float64) string {
	if ratio <= limit {
		return "met"
	}
	return "missed"
}

// Table renders one size as a Markdown table: per tool, median and min–max of each operation,
// peak memory, and the tool's time as a multiple of ours.
func (r *Results) Table(n int) string {
	var b strings.Builder
	b.WriteString("| tool | transactions | up | down | version | peak RSS | up ÷ ours | down ÷ ours | version ÷ ours |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, t := range r.Tools {
		name := t.Name
		if t.Version != "" {
			name += " " + t.Version
		}
		if t.Role == RoleOurs {
			name = "**" + name + "**"
		}
		mode := map[Mode]string{PerMigration: "one per migration", AllInOne: "one for the run"}[t.Mode]
		cells := []string{name, mode}
		for _, op := range []Op{Up, Down, Version} {
			cells = append(cells, r.cell(t.Name, n, op))
		}
		cells = append(cells, formatMB(r.PeakRSS(t.Name, n)))
		for _, op := range []Op{Up, Down, Version} {
			ratio, ok := r.Ratio(t.Name, n, op)
			switch {
			case !ok:
				cells = append(cells, "—")
			case t.Role == RoleOurs && t.Mode == PerMigration:
				cells = append(cells, "1")
			default:
				cells = append(cells, fmt.Sprintf("%.2f", ratio))
			}
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func (r *Results) cell(tool string, n int, op Op) string {
	st, ok := r.Stat(tool, n, op)
	if !ok {
		if why := r.skipReason(tool, n, op); why != "" {
			return "— (" + why + ")"
		}
		return "—"
	}
	if st.Count == 1 || st.Min == st.Max {
		return formatSeconds(st.Median)
	}
	return fmt.Sprintf("%s (%s)", formatSeconds(st.Median), formatRange(st.Min, st.Max))
}

// ChecksTable renders Checks as Markdown.
func (r *Results) ChecksTable() string {
	var b strings.Builder
	b.WriteString("| target | ours ÷ reference | measured | result |\n| --- | ---: | --- | --- |\n")
	for _, c := range r.Checks() {
		ratio := "—"
		if c.Status == "met" || c.Status == "missed" {
			ratio = fmt.Sprintf("%.2f", c.Ratio)
		}
		result := c.Status
		if c.Status == "missed" {
			result = "**missed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Goal, ratio, c.Detail, result)
	}
	return b.String()
}

// formatSeconds picks a unit a reader compares at a glance: 1.23 s, 45.6 ms.
func formatSeconds(s float64) string {
	switch {
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.1f ms", s*1000)
	}
}

// formatRange writes a min–max range with its unit once when both ends share it: "1.62–1.91 s".
func formatRange(lo, hi float64) string {
	l, h := formatSeconds(lo), formatSeconds(hi)
	if unit := h[strings.LastIndex(h, " "):]; strings.HasSuffix(l, unit) {
		l = strings.TrimSuffix(l, unit)
	}
	return l + "–" + h
}

func formatMB(kb int64) string {
	if kb == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MB", float64(kb)/1024)
}

// WriteJSON writes the results, creating the directory.
func (r *Results) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// ReadResults reads what WriteJSON wrote.
func ReadResults(path string) (*Results, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &r, nil
}

// SizesDesc lists the sizes largest first, the order the docs show them in.
func (r *Results) SizesDesc() []int {
	s := slices.Clone(r.Sizes)
	slices.Sort(s)
	slices.Reverse(s)
	return s
}
