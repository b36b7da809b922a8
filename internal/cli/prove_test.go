package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"visiona-backend/internal/cli"
)

// TestProve runs the proof alone in a throwaway database, from the embedded set, from a folder
// named by VISIONA_MIGRATIONS_DIR and by -path, and drops the database afterwards.
func TestProve(t *testing.T) {
	env := dbEnv(t)
	// A role that may create databases but is no superuser: every snapshot is full.
	if err := adminExec(pgServer.Postgres(t).URL("postgres"), "ALTER ROLE "+env["VISIONA_DB_USER"]+" CREATEDB"); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, env, nil, "prove")
	if r.code != 0 || !strings.Contains(r.stdout, "every down reverses its up") {
		t.Fatalf("prove: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}

	broken := with(env, "VISIONA_MIGRATIONS_DIR", "../../testdata/roundtrip/down_forgets_index")
	r = runCLI(t, broken, nil, "-json", "prove", "-keep-going")
	var doc struct {
		ExitCode int `json:"exit_code"`
		Prove    struct {
			Database string `json:"database"`
			Report   struct {
				Findings []struct {
					Version uint `json:"version"`
					Changes []struct {
						Name string `json:"name"`
						Op   string `json:"op"`
					} `json:"changes"`
				} `json:"findings"`
			} `json:"report"`
		} `json:"prove"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("-json prove: %v\n%s", err, r.stdout)
	}
	f := doc.Prove.Report.Findings
	if r.code != cli.ExitRoundTrip || doc.ExitCode != cli.ExitRoundTrip || len(f) != 1 || f[0].Version != 2 || len(f[0].Changes) != 1 || f[0].Changes[0].Name != "public.devices_serial_idx" {
		t.Fatalf("prove of a broken folder: exit %d, %+v\nstderr %s", r.code, doc, r.stderr)
	}
	if !strings.Contains(r.stderr, "migrate: error: round trip failed: 1 migration(s) do not reverse") {
		t.Errorf("stderr %q", r.stderr)
	}
	if doc.Prove.Database == "" {
		t.Error("the JSON does not name the throwaway database")
	}
	// Dropping a database that is gone fails: the throwaway one must be.
	if err := adminExec(pgServer.Postgres(t).URL("postgres"), fmt.Sprintf(`DROP DATABASE %q`, doc.Prove.Database)); err == nil {
		t.Errorf("the throwaway database %s was left behind", doc.Prove.Database)
	}

	r = runCLI(t, env, nil, "-path", "../../testdata/roundtrip/down_forgets_index", "prove", "-from", "1")
	if r.code != cli.ExitRoundTrip || !strings.Contains(r.stdout, "index public.devices_serial_idx: left behind") {
		t.Errorf("prove -from 1: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, nil, "-path", "../../testdata/roundtrip/down_forgets_index", "prove", "-from", "2")
	if r.code != 0 {
		t.Errorf("prove -from 2 (the broken down not walked): exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}

	// Locks measured: the text names the heavy migrations and the lint's wrong prediction; the
	// JSON has every migration's relations.
	r = runCLI(t, env, nil, "-path", "../../testdata/roundtrip/locks_measured", "prove")
	for _, want := range []string{
		"up   000002_add_items_score",
		"ACCESS EXCLUSIVE on public.items; rewrote public.items, public.items_pkey; lint: volatile-default (line 1)",
		"differs from the lint: the lint's column-type-change (line 1) predicted a rewrite; none happened",
	} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("prove locks_measured: exit %d, stdout lacks %q:\n%s\nstderr %s", r.code, want, r.stdout, r.stderr)
		}
	}
	r = runCLI(t, env, nil, "-json", "-path", "../../testdata/roundtrip/locks_measured", "prove")
	var locks struct {
		Prove struct {
			Report struct {
				Locks []struct {
					Direction string `json:"direction"`
					Version   uint   `json:"version"`
					Relations []struct {
						Relation  string `json:"relation"`
						Mode      string `json:"mode"`
						Rewritten bool   `json:"rewritten"`
					} `json:"relations"`
				} `json:"locks"`
			} `json:"report"`
		} `json:"prove"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &locks); err != nil {
		t.Fatalf("-json prove: %v\n%s", err, r.stdout)
	}
	if l := locks.Prove.Report.Locks; len(l) != 14 || l[2].Version != 3 || len(l[2].Relations) != 1 || l[2].Relations[0].Mode != "SHARE" {
		t.Errorf("-json prove locks: %+v", l)
	}

	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-path", "no/such/folder", "prove"}, cli.ExitInvalidSource, "is not a folder"},
		{[]string{"prove", "-from", "999"}, cli.ExitUnknownVersion, "no migration has that version"},
		{[]string{"prove", "-column-order", "sometimes"}, cli.ExitUsage, "want fail, warn or ignore"},
		{[]string{"prove", "extra"}, cli.ExitUsage, "prove takes only"},
	} {
		r := runCLI(t, env, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Count(r.stderr, "migrate: error:") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.msg)
		}
	}
}

// TestDrift compares a migrated database with migrations/schema.snapshot, before and after a
// change made by hand.
func TestDrift(t *testing.T) {
	env := dbEnv(t)
	if r := runCLI(t, env, nil, "up"); r.code != 0 {
		t.Fatalf("up: %d %s", r.code, r.stderr)
	}
	r := runCLI(t, env, nil, "-path", "../../migrations", "drift")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "drift: none:") {
		t.Fatalf("drift on a migrated database: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if err := adminExec(pgServer.Postgres(t).URL(env["VISIONA_DB_NAME"]), "CREATE INDEX users_by_hand ON users (created_at)"); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, env, nil, "-path", "../../migrations", "drift")
	if r.code != cli.ExitDrift || !strings.Contains(r.stdout, "index public.users_by_hand: only in the database\n") || !strings.Contains(r.stderr, "1 object(s)") {
		t.Errorf("drift after a change by hand: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, env, nil, "down", "1"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r = runCLI(t, env, nil, "-path", "../../migrations", "drift")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "migrate it first") {
		t.Errorf("drift below the latest version: exit %d, stderr %q", r.code, r.stderr)
	}
}
