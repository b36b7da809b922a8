package lint

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"visiona-backend/internal/migfile"
)

// sampleFindings are findings of every severity, with characters the formats must escape.
var sampleFindings = []Finding{
	{File: "migrations/000011_b.up.sql", Line: 3, Column: 7, Rule: "prefer-jsonb", Severity: Warning, Message: "column t.payload is json: use jsonb"},
	{File: "migrations/000010_a.up.sql", Line: 2, Column: 1, Rule: "not-concurrently", Severity: Error, Message: "CREATE INDEX on existing table t, at 100%: use CONCURRENTLY\nnext line"},
}

func TestRenderGitHub(t *testing.T) {
	var b bytes.Buffer
	if err := RenderGitHub(sampleFindings, &b); err != nil {
		t.Fatal(err)
	}
	want := "::error file=migrations/000010_a.up.sql,line=2,col=1,title=not-concurrently::CREATE INDEX on existing table t, at 100%25: use CONCURRENTLY%0Anext line\n" +
		"::warning file=migrations/000011_b.up.sql,line=3,col=7,title=prefer-jsonb::column t.payload is json: use jsonb\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if got := githubProperty("a:b,c"); got != "a%3Ab%2Cc" {
		t.Errorf("githubProperty: %q", got)
	}
}

// The JSON document keeps its documented field names, sorts its findings and counts them.
func TestRenderJSON(t *testing.T) {
	var b bytes.Buffer
	if err := RenderJSON(NewReport(sampleFindings, "migrations/", 11, 9, Version{Major: 14, Minor: -1}), &b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"format": "visiona-lint/1", "source": "migrations/", "migrations": 11.0, "baseline": 9.0,
		"target": "14", "parser": 17.0, "errors": 1.0, "warnings": 1.0} {
		if doc[key] != want {
			t.Errorf("%s: %v, want %v", key, doc[key], want)
		}
	}
	findings, _ := doc["findings"].([]any)
	if len(findings) != 2 {
		t.Fatalf("findings: %v", doc["findings"])
	}
	first, _ := findings[0].(map[string]any)
	for key, want := range map[string]any{"file": "migrations/000010_a.up.sql", "line": 2.0, "column": 1.0, "rule": "not-concurrently", "severity": "error"} {
		if first[key] != want {
			t.Errorf("findings[0].%s: %v, want %v", key, first[key], want)
		}
	}
	// A clean run has an empty list, not null, and leaves out what is unknown.
	b.Reset()
	if err := RenderJSON(NewReport(nil, "migrations/", 1, 0, Version{}), &b); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); !strings.Contains(s, `"findings": []`) || strings.Contains(s, `"target"`) || strings.Contains(s, `"baseline"`) {
		t.Errorf("clean report:\n%s", s)
	}
}

// sarifSchemaPackage ships the official SARIF 2.1.0 schema (sarif-2.1.0-rtm.5, the OASIS
// standard's final version) in the npm registry.
const (
	sarifSchemaPackage = "@microsoft/jest-sarif@1.0.0-beta.0"
	sarifSchemaFile    = "package/lib/schemas/sarif-2.1.0-rtm.5.json"
)

// sarifSchema returns the official schema, fetched once with `npm pack` into the user's cache
// (never into the repository). Without npm or the registry it skips, except in CI, where it fails.
func sarifSchema(t *testing.T) []byte {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (needs npm and the npm registry; CI fails here)", args...)
	}
	cacheRoot, err := os.UserCacheDir()
	if err != nil {
		unavailable("no cache directory: %v", err)
	}
	dir := filepath.Join(cacheRoot, "visiona-backend", "sarif-schema")
	cached := filepath.Join(dir, "sarif-2.1.0-rtm.5.json")
	if data, err := os.ReadFile(cached); err == nil {
		return data
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		unavailable("%v", err)
	}
	if _, err := exec.LookPath("npm"); err != nil {
		unavailable("npm not found, cannot fetch the SARIF schema")
	}
	cmd := exec.Command("npm", "pack", "--silent", "--pack-destination", dir, sarifSchemaPackage)
	out, err := cmd.CombinedOutput()
	if err != nil {
		unavailable("npm pack %s: %v: %s", sarifSchemaPackage, err, out)
	}
	tgz := filepath.Join(dir, strings.TrimSpace(lastLine(string(out))))
	data, err := extract(tgz, sarifSchemaFile)
	if err != nil {
		t.Fatalf("%s: %v", tgz, err)
	}
	if err := os.WriteFile(cached, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func extract(tgz, name string) ([]byte, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, errors.New(name + " not in the package")
		}
		if err != nil {
			return nil, err
		}
		if h.Name == name {
			return io.ReadAll(tr)
		}
	}
}

// The SARIF log validates against the official SARIF 2.1.0 schema, with findings and without.
func TestRenderSARIFValidates(t *testing.T) {
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sarifSchema(t)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-2.1.0.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, findings := range [][]Finding{sampleFindings, nil} {
		var b bytes.Buffer
		if err := RenderSARIF(findings, &b); err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("SARIF does not validate: %v\n%s", err, b.String())
		}
		var log struct {
			Runs []struct {
				Tool struct {
					Driver struct {
						Rules []struct{ ID string }
					}
				}
				Results []struct {
					RuleID    string
					RuleIndex int
					Level     string
				}
			}
		}
		if err := json.Unmarshal(b.Bytes(), &log); err != nil {
			t.Fatal(err)
		}
		run := log.Runs[0]
		if len(run.Tool.Driver.Rules) != len(Rules()) || len(run.Results) != len(findings) {
			t.Errorf("%d rules, %d results; want %d and %d", len(run.Tool.Driver.Rules), len(run.Results), len(Rules()), len(findings))
		}
		for _, r := range run.Results {
			if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
				t.Errorf("result %s points at rule %d", r.RuleID, r.RuleIndex)
			}
		}
	}
}

// A broken SARIF log fails the same validation: the test above could fail.
func TestSARIFSchemaRejectsBrokenLog(t *testing.T) {
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sarifSchema(t)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-2.1.0.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version": "2.1.0", "runs": [{"results": [{"level": "fatal"}]}]}`))
	if schema.Validate(doc) == nil {
		t.Error("a log with no tool and a bad level validated")
	}
}

func TestReadConfig(t *testing.T) {
	read := func(body string) (Config, error) {
		return ReadConfig(fstest.MapFS{ConfigFile: {Data: []byte(body)}})
	}
	if cfg, err := ReadConfig(fstest.MapFS{}); err != nil || cfg.Baseline != 0 {
		t.Errorf("no file: %+v, %v", cfg, err)
	}
	if cfg, err := read("# history before the lint\n\nbaseline = 9\n"); err != nil || cfg.Baseline != 9 {
		t.Errorf("baseline = 9: %+v, %v", cfg, err)
	}
	for body, want := range map[string]string{
		"baseline 9\n":        "line 1 is not `key = value`",
		"\nbaseline = nine\n": `line 2: baseline "nine"`,
		"baseline = -1\n":     `line 1: baseline "-1"`,
		"target = 14\n":       `line 1: unknown setting "target"`,
		"# ok\nbaselin = 9\n": `line 2: unknown setting "baselin"`,
	} {
		_, err := read(body)
		var serr *migfile.SourceError
		if !errors.As(err, &serr) || !strings.Contains(err.Error(), "migrations/lint.conf: "+want) {
			t.Errorf("%q: %v, want a SourceError with %q", body, err, want)
		}
	}
}
