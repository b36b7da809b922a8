package testdb

import (
	"visiona-backend/internal/schema"

	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"visiona-backend/internal/lines"
)

// WriteSummary prints the phase table that ends every run.
func (r *Report) WriteSummary(w io.Writer) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tPOSTGRES\tDURATION\tRESULT\tDETAIL")
	result := "ok"
	for _, p := range r.Phases {
		dur := "-"
		if p.Result != "skipped" {
			dur = p.Duration.Round(time.Millisecond).String()
		}
		pg := p.Postgres
		if pg == "" {
			pg = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, pg, dur, p.Result, p.Detail)
		if p.Result == "failed" {
			result = "failed"
		}
	}
	fmt.Fprintf(tw, "total\t-\t%s\t%s\t\n", r.Total.Round(time.Millisecond), result)
	tw.Flush()
	if r.RoundTrip != nil && len(r.RoundTrip.Locks) > 0 {
		if heavy := schema.FormatHeavy(r.RoundTrip.Locks); heavy != "" {
			fmt.Fprintf(w, "locks measured in the round trip: heavy migrations (ACCESS EXCLUSIVE on an existing table, or a rewrite) and differences from the lint (every lock: -json):\n%s", heavy)
		} else {
			fmt.Fprintln(w, "locks measured in the round trip: no migration took ACCESS EXCLUSIVE on an existing table or rewrote one")
		}
	}
	// The closing line CI reads: the tests' counts, or the phases' when the suites did not run.
	if r.Tests != nil {
		fmt.Fprintf(w, "testdb: %s\n", r.Tests)
	}
}

// jsonReport is the -json document: durations in milliseconds for people reading CI annotations.
type jsonReport struct {
	OK         bool         `json:"ok"`
	ExitCode   int          `json:"exit_code"`
	Error      string       `json:"error,omitempty"`
	Servers    []jsonServer `json:"servers"`
	Migrations int          `json:"migrations"`
	Tests      *Counts      `json:"tests,omitempty"`
	Phases     []jsonPhase  `json:"phases"`
	TotalMS    float64      `json:"total_ms"`
	// RoundTrip: the proof's every finding and warning, and its snapshot counts.
	RoundTrip *schema.RoundTripReport `json:"round_trip,omitempty"`
}

type jsonServer struct {
	Kind      string  `json:"kind"`
	Version   string  `json:"version"`
	Image     string  `json:"image,omitempty"`
	Target    string  `json:"target"`
	StartedMS float64 `json:"started_ms"`
}

type jsonPhase struct {
	Name       string  `json:"name"`
	Postgres   string  `json:"postgres,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	Result     string  `json:"result"`
	Detail     string  `json:"detail,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer, exitCode int, err error) error {
	doc := jsonReport{OK: err == nil, ExitCode: exitCode, Migrations: r.Migrations, Tests: r.Tests, TotalMS: ms(r.Total), RoundTrip: r.RoundTrip, Servers: []jsonServer{}, Phases: []jsonPhase{}}
	if err != nil {
		doc.Error = lines.First(err.Error())
	}
	for _, s := range r.Servers {
		doc.Servers = append(doc.Servers, jsonServer{Kind: s.Kind, Version: s.Version, Image: s.Image, Target: s.Target, StartedMS: ms(s.Started)})
	}
	for _, p := range r.Phases {
		doc.Phases = append(doc.Phases, jsonPhase{Name: p.Name, Postgres: p.Postgres, DurationMS: ms(p.Duration), Result: p.Result, Detail: p.Detail})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
