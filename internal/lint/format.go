package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Report is what one lint run found, with what it looked at: the JSON document of
// `migrate lint -format=json`. Field names are an interface: add, never rename or remove.
type Report struct {
	Format     string    `json:"format"`             // "visiona-lint/1"
	Source     string    `json:"source"`             // where the migrations were read: "migrations/", "embedded migrations"
	Migrations int       `json:"migrations"`         // how many were read
	Baseline   uint      `json:"baseline,omitempty"` // findings up to this version were left out
	Target     string    `json:"target,omitempty"`   // target server version, when known
	Parser     int       `json:"parser"`             // PostgreSQL major of the parser's grammar
	Errors     int       `json:"errors"`
	Warnings   int       `json:"warnings"`
	Findings   []Finding `json:"findings"` // sorted by file, line, column; never null
}

// ReportFormat is Report.Format for this layout.
const ReportFormat = "visiona-lint/1"

// NewReport sorts the findings and counts them.
func NewReport(findings []Finding, source string, migrations int, baseline uint, target Version) Report {
	r := Report{Format: ReportFormat, Source: source, Migrations: migrations, Baseline: baseline, Target: target.String(),
		Parser: ParserMajor, Findings: slices.Clone(findings)}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	slices.SortStableFunc(r.Findings, compareFindings)
	for _, f := range r.Findings {
		if f.Severity == Error {
			r.Errors++
		} else {
			r.Warnings++
		}
	}
	return r
}

// RenderJSON writes the report as one indented JSON document.
func RenderJSON(r Report, w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// RenderGitHub writes one GitHub Actions workflow command per finding (::error or ::warning with
// file, line, col and the rule as title), which GitHub shows as an annotation on the diff.
func RenderGitHub(findings []Finding, w io.Writer) error {
	sorted := slices.Clone(findings)
	slices.SortStableFunc(sorted, compareFindings)
	for _, f := range sorted {
		_, err := fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", f.Severity,
			githubProperty(f.File), f.Line, f.Column, githubProperty(f.Rule), githubData(f.Message))
		if err != nil {
			return err
		}
	}
	return nil
}

// githubData escapes a workflow command's message as the Actions runner unescapes it.
func githubData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// githubProperty escapes a workflow command's property value, where ':' and ',' are separators too.
func githubProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// SARIF 2.1.0, the parts a linter's log uses.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool       sarifTool     `json:"tool"`
		Results    []sarifResult `json:"results"`
		ColumnKind string        `json:"columnKind"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name  string      `json:"name"`
		Rules []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string       `json:"id"`
		ShortDescription     sarifMessage `json:"shortDescription"`
		FullDescription      sarifMessage `json:"fullDescription"`
		DefaultConfiguration struct {
			Level string `json:"level"`
		} `json:"defaultConfiguration"`
	}
	sarifMessage struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID    string          `json:"ruleId"`
		RuleIndex int             `json:"ruleIndex"`
		Level     string          `json:"level"`
		Message   sarifMessage    `json:"message"`
		Locations []sarifLocation `json:"locations"`
	}
	sarifLocation struct {
		PhysicalLocation struct {
			ArtifactLocation struct {
				URI string `json:"uri"`
			} `json:"artifactLocation"`
			Region struct {
				StartLine   int `json:"startLine"`
				StartColumn int `json:"startColumn"`
			} `json:"region"`
		} `json:"physicalLocation"`
	}
)

// SARIFSchema is the schema URI a SARIF 2.1.0 log names.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

// RenderSARIF writes the findings as a SARIF 2.1.0 log: every rule in the driver, each finding a
// result at its file, line and column (columns count Unicode code points, as Finding's do).
func RenderSARIF(findings []Finding, w io.Writer) error {
	run := sarifRun{Tool: sarifTool{Driver: sarifDriver{Name: "visiona-migrate-lint"}}, Results: []sarifResult{}, ColumnKind: "unicodeCodePoints"}
	index := map[string]int{}
	for i, r := range rules {
		sr := sarifRule{ID: r.Name, ShortDescription: sarifMessage{shortDoc(r.Doc)}, FullDescription: sarifMessage{r.Doc}}
		sr.DefaultConfiguration.Level = string(r.Severity)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sr)
		index[r.Name] = i
	}
	sorted := slices.Clone(findings)
	slices.SortStableFunc(sorted, compareFindings)
	for _, f := range sorted {
		res := sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: string(f.Severity), Message: sarifMessage{f.Message}}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = strings.ReplaceAll(f.File, "\\", "/")
		loc.PhysicalLocation.Region.StartLine, loc.PhysicalLocation.Region.StartColumn = max(f.Line, 1), max(f.Column, 1)
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

// shortDoc is a rule doc's first sentence (up to the first ": " or ". ").
func shortDoc(doc string) string {
	end := len(doc)
	for _, sep := range []string{": ", ". "} {
		if i := strings.Index(doc, sep); i > 0 && i < end {
			end = i
		}
	}
	return strings.TrimSuffix(doc[:end], ".")
}
