package cli_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"visiona-backend/internal/cli"
	"visiona-backend/migrations"
	"visiona-backend/testdata/seed"
)

// readmeSample returns the code block that follows the marker <!-- sample: NAME --> in the
// repository's README.
func readmeSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	marker := "<!-- sample: " + name + " -->\n```\n"
	_, rest, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatalf("README.md has no %q followed by a code block", strings.TrimSpace(marker))
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README.md: the sample %q has no closing fence", name)
	}
	return block
}

var (
	sampleDuration = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s)\b`)
	sampleTarget   = regexp.MustCompile(`\S+@\S+:\d+/\S+\?sslmode=\w+`)
)

// normalizeSample keeps what a run decides and drops what differs between machines: durations
// and the database's address.
func normalizeSample(s string) string {
	return sampleTarget.ReplaceAllString(sampleDuration.ReplaceAllString(s, "<duration>"), "<database>")
}

// The README's sample outputs are what the commands print, with the default settings (sslmode
// prefer against a server without TLS), modulo durations and the address.
func TestREADMESamplesMatchTheCommands(t *testing.T) {
	for _, c := range []struct {
		sample string
		before []string // run first, output not compared
		args   []string
	}{
		{sample: "up", args: []string{"up"}},
		{sample: "reset", before: []string{"up"}, args: []string{"reset"}}, // a used database
	} {
		t.Run(c.sample, func(t *testing.T) {
			env := dbEnv(t)
			delete(env, "VISIONA_DB_SSLMODE")
			run := func(args []string) (code int, stdout, stderr string) {
				var out, errOut bytes.Buffer
				code = cli.Run(context.Background(), cli.Env{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
					Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Migrations: migrations.FS, Seed: seed.FS, MigrationsDir: t.TempDir()})
				return code, out.String(), errOut.String()
			}
			if c.before != nil {
				if code, _, stderr := run(c.before); code != 0 {
					t.Fatalf("migrate %v: exit %d: %s", c.before, code, stderr)
				}
			}
			code, stdout, stderr := run(c.args)
			if code != 0 {
				t.Fatalf("migrate %v: exit %d: %s", c.args, code, stderr)
			}
			want, got := normalizeSample(readmeSample(t, c.sample)), normalizeSample(stdout)
			if got != want {
				t.Errorf("README's %q sample is not what `migrate %s` prints; README:\n%s\nprinted:\n%s", c.sample, strings.Join(c.args, " "), want, got)
			}
		})
	}
}
