package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/version"
	"visiona-backend/migrations"
)

func runVersion(t *testing.T, b version.Build, fsys fs.FS, args ...string) run {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), cli.Env{Args: args, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Lookup: func(string) (string, bool) { return "", false }, Migrations: fsys, MigrationsDir: t.TempDir(), Build: b})
	return run{code, stdout.String(), stderr.String()}
}

// embedded is what the -version output must name, worked out here from the files themselves.
func embedded(t *testing.T) (count int, latest, total string) {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded up files: %v %v", names, err)
	}
	sum, err := fs.ReadFile(migrations.FS, migfile.SumFile)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(sum), "\n")
	return len(names), strings.TrimSuffix(names[len(names)-1], ".up.sql"), first
}

func TestVersionFlagNamesCommitAndMigrations(t *testing.T) {
	count, latest, total := embedded(t)
	b := version.Build{Version: "9b41be578a1b-dirty", Commit: "9b41be578a1bbb323949d45f55ee2a4dba34da40", Dirty: true,
		CommitTime: time.Date(2026, 11, 25, 2, 25, 41, 0, time.UTC), Go: "go1.26.8", OS: "linux", Arch: "arm64"}
	r := runVersion(t, b, migrations.FS, "-version")
	if r.code != cli.ExitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"migrate 9b41be578a1b-dirty\n",
		"commit      9b41be578a1bbb323949d45f55ee2a4dba34da40 (2026-11-25T02:25:41Z), built with uncommitted changes\n",
		"go          go1.26.8 linux/arm64\n",
		"lint        no (built without cgo",
		fmt.Sprintf("migrations  %d embedded, latest %s\n", count, latest),
		"sum         " + total + "\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("-version output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runVersion(t, b, migrations.FS, "-json", "-version")
	var doc struct {
		Command string `json:"command"`
		OK      bool   `json:"ok"`
		Build   struct {
			Version    string `json:"version"`
			Commit     string `json:"commit"`
			Dirty      bool   `json:"dirty"`
			Lint       bool   `json:"lint"`
			Arch       string `json:"arch"`
			Migrations struct {
				Count         int    `json:"count"`
				LatestVersion uint   `json:"latest_version"`
				LatestName    string `json:"latest_name"`
				Sum           string `json:"sum"`
			} `json:"migrations"`
		} `json:"build"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != cli.ExitOK {
		t.Fatalf("exit %d, not one JSON document: %v\n%s", r.code, err, r.stdout)
	}
	m := doc.Build.Migrations
	if doc.Command != "-version" || !doc.OK || doc.Build.Version != b.Version || doc.Build.Commit != b.Commit || !doc.Build.Dirty ||
		doc.Build.Lint || doc.Build.Arch != "arm64" || m.Count != count || m.LatestName != latest || m.Sum != total ||
		!strings.HasPrefix(latest, fmt.Sprintf("%06d_", m.LatestVersion)) {
		t.Fatalf("document %+v", doc)
	}
}

func TestVersionFlagWithoutCommit(t *testing.T) {
	r := runVersion(t, version.Build{Version: version.Devel, Go: "go1.26.8", OS: "linux", Arch: "amd64", CGO: true}, migrations.FS, "-version")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "migrate devel\ncommit      none recorded") || !strings.Contains(r.stdout, "lint        yes") {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
}

func TestVersionFlagRefusesACommand(t *testing.T) {
	r := runVersion(t, version.Build{Version: version.Devel}, migrations.FS, "-version", "up")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, `migrate: error: -version takes no command, got "up"`) || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// A binary whose embedded migrations do not match their sums fails -version as it would fail up.
func TestVersionFlagChecksTheEmbeddedSet(t *testing.T) {
	fsys := fstest.MapFS{}
	if err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(migrations.FS, p)
		fsys[p] = &fstest.MapFile{Data: data}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, latest, _ := embedded(t)
	fsys[latest+".up.sql"].Data = append(fsys[latest+".up.sql"].Data, []byte("\n-- edited\n")...)
	r := runVersion(t, version.Build{Version: version.Devel}, fsys, "-version")
	if r.code != cli.ExitChecksum || !strings.Contains(r.stderr, latest+".up.sql: edited") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}
