package testdb_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"visiona-backend/internal/config"
	"visiona-backend/internal/schema"
	"visiona-backend/internal/testdb"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) { testenv.Main(m, pgServer) }

// containers counts the containers, running or not, labelled visiona.test=label.
func containers(t *testing.T, label string) int {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerList(t.Context(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", "visiona.test="+label)})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}

// The real schema, with containers: round trip and the committed snapshot pass, and every
// container is gone afterwards.
func TestRunOnOurSchema(t *testing.T) {
	testenv.RequireDocker(t)
	label := t.Name() + "-" + testcontainers.SessionID()
	var out bytes.Buffer
	report, err := testdb.Run(t.Context(), testdb.Options{
		Images: testenv.ImagesFromEnv(os.LookupEnv), Migrations: migrations.FS, Labels: map[string]string{"visiona.test": label},
		SnapshotFile: "migrations/schema.snapshot", RepoDir: "../..", NoSuites: true, Out: &out,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if report.Migrations < 5 || len(report.Servers) != 2 || report.Servers[0].Version == "" {
		t.Errorf("report %+v", report)
	}
	for _, want := range []string{"every down reverses its up", "migrations/schema.snapshot is current", "removed 2 containers"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if left := containers(t, label); left != 0 {
		t.Errorf("TestDB left %d of its containers behind", left)
	}
}

// A server that does not start fails the run as unavailable, even when another has started and
// begun its proof, and no container is left: the ones that started are removed.
func TestRunWithAServerThatDoesNotStart(t *testing.T) {
	images := testenv.ImagesFromEnv(os.LookupEnv)
	testenv.RequireImages(t, images.Postgres)
	images.Redis = testenv.LocalImagePrefix + "no-such-image:7" // not built: its start fails at once
	label := t.Name() + "-" + testcontainers.SessionID()
	var out bytes.Buffer
	report, err := testdb.Run(t.Context(), testdb.Options{Images: images, Migrations: migrations.FS,
		Labels: map[string]string{"visiona.test": label}, RepoDir: "../..", NoSuites: true, Out: &out})
	if !errors.Is(err, testdb.ErrUnavailable) || !strings.Contains(err.Error(), "no-such-image") {
		t.Fatalf("err = %v, want ErrUnavailable naming the missing image\n%s", err, out.String())
	}
	if p := report.Phases[0]; p.Name != "start servers" || p.Result != "failed" {
		t.Errorf("first phase %+v, want start servers failed", p)
	}
	if left := containers(t, label); left != 0 {
		t.Errorf("TestDB left %d of its containers behind", left)
	}
}

// existingServers points TestDB at the shared test PostgreSQL and a Redis of its own, the way a
// team without Docker would with VISIONA_TESTDB_*_URL.
func existingServers(t *testing.T) config.TestDB {
	t.Helper()
	testenv.RequireDocker(t)
	rd, err := testenv.StartRedis(t.Context(), testenv.ImagesFromEnv(os.LookupEnv).Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Terminate(context.Background()) })
	return config.TestDB{PostgresURL: pgServer.Postgres(t).AdminURL, RedisURL: rd.URL}
}

// Each broken set in testdata/roundtrip fails TestDB with the guilty migration named.
func TestRunBlamesTheMigrationWhoseDownDoesNotReverse(t *testing.T) {
	servers := existingServers(t)
	for name, blamed := range map[string]string{
		"down_forgets_index":       "000002_add_devices_serial_index",
		"down_drops_extra_column":  "000002_add_models_source",
		"irreversible_type_change": "000002_widen_users_nickname",
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := testdb.Run(t.Context(), testdb.Options{Servers: servers, Migrations: os.DirFS(filepath.Join("../../testdata/roundtrip", name)),
				RepoDir: "../..", NoSuites: true, Out: &out})
			var rte *schema.RoundTripError
			if !errors.Is(err, testdb.ErrRoundTrip) || !errors.As(err, &rte) {
				t.Fatalf("err = %v, want ErrRoundTrip", err)
			}
			if got := rte.UpFile; !strings.HasPrefix(got, blamed) {
				t.Errorf("blamed %s, want %s", got, blamed)
			}
			if !strings.Contains(out.String(), blamed) || !strings.Contains(out.String(), "dropped 1 databases") {
				t.Errorf("output should name %s and drop its database:\n%s", blamed, out.String())
			}
		})
	}
}

func TestRunReportsAStaleSnapshot(t *testing.T) {
	servers := existingServers(t)
	committed, err := os.ReadFile("../../migrations/schema.snapshot")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// As if someone added an index in a migration and forgot to run schemaDump: the committed file
	// lacks it.
	var kept []string
	skip := false
	for _, line := range strings.SplitAfter(string(committed), "\n") {
		if !strings.HasPrefix(line, " ") {
			skip = strings.HasPrefix(line, "index public.devices_serial_live_key")
		}
		if !skip {
			kept = append(kept, line)
		}
	}
	stale := strings.Join(kept, "")
	if stale == string(committed) {
		t.Fatal("the index to remove is not in the committed snapshot; update this test")
	}
	if err := os.WriteFile(filepath.Join(dir, "schema.snapshot"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = testdb.Run(t.Context(), testdb.Options{Servers: servers, Migrations: migrations.FS, SnapshotFile: "schema.snapshot", RepoDir: dir, NoSuites: true, Out: &out})
	if !errors.Is(err, testdb.ErrStaleSnapshot) || !strings.Contains(err.Error(), "devices_serial_live_key") || !strings.Contains(err.Error(), "schemaDump") {
		t.Fatalf("err = %v, want ErrStaleSnapshot naming the index and schemaDump", err)
	}
}

func TestRunWithoutServers(t *testing.T) {
	_, err := testdb.Run(t.Context(), testdb.Options{Servers: config.TestDB{PostgresURL: "postgres://u:secret-pw@127.0.0.1:1/postgres?sslmode=disable", RedisURL: "redis://127.0.0.1:1/0"},
		Migrations: migrations.FS, NoSuites: true})
	if !errors.Is(err, testdb.ErrUnavailable) || strings.Contains(err.Error(), "secret-pw") {
		t.Fatalf("err = %v, want ErrUnavailable without the password", err)
	}
}

// The committed snapshot is valid on every supported major: the same migrations snapshotted on
// the oldest (production's 14) and the newest print byte for byte the same file, the committed one.
func TestSnapshotIsTheSameOnOldestAndNewestMajor(t *testing.T) {
	images := testenv.ImagesFromEnv(os.LookupEnv)
	var want []string
	for _, major := range []int{testenv.OldestMajor, testenv.NewestMajor} {
		image, err := images.PostgresMajor(major)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, image)
	}
	testenv.RequireImages(t, want...)
	committed, err := os.ReadFile("../../migrations/schema.snapshot")
	if err != nil {
		t.Fatal(err)
	}
	label := t.Name() + "-" + testcontainers.SessionID()
	dirs := []string{t.TempDir(), t.TempDir()}
	errs := make([]error, 2)
	outs := make([]bytes.Buffer, 2)
	var wg sync.WaitGroup
	for i, major := range []int{testenv.OldestMajor, testenv.NewestMajor} {
		wg.Go(func() {
			errs[i] = testdb.WriteSnapshot(t.Context(), testdb.Options{Images: images, Majors: []int{major}, Migrations: migrations.FS,
				SnapshotFile: "schema.snapshot", RepoDir: dirs[i], Labels: map[string]string{"visiona.test": label}, Out: &outs[i]})
		})
	}
	wg.Wait()
	var got [2][]byte
	for i := range dirs {
		if errs[i] != nil {
			t.Fatalf("snapshot on %s: %v\n%s", want[i], errs[i], outs[i].String())
		}
		if !strings.Contains(outs[i].String(), "postgres "+strconv.Itoa([]int{testenv.OldestMajor, testenv.NewestMajor}[i])+".") {
			t.Errorf("the snapshot was not taken on %s:\n%s", want[i], outs[i].String())
		}
		if got[i], err = os.ReadFile(filepath.Join(dirs[i], "schema.snapshot")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got[0], got[1]) {
		a, _ := schema.Parse(string(got[0]))
		b, _ := schema.Parse(string(got[1]))
		t.Errorf("PostgreSQL %d and %d print the schema differently:\n%s", testenv.OldestMajor, testenv.NewestMajor, schema.FormatDiff(schema.Diff(a, b)))
	}
	if !bytes.Equal(got[0], committed) {
		t.Errorf("migrations/schema.snapshot is not what PostgreSQL %d prints; run `go run mage.go schemaDump`", testenv.OldestMajor)
	}
	if left := containers(t, label); left != 0 {
		t.Errorf("WriteSnapshot left %d of its containers behind", left)
	}
}

// Two majors in one run: each is proved in its own container, the report has a row per major, and
// every container is gone afterwards.
func TestRunProvesEachMajorAskedFor(t *testing.T) {
	images := testenv.ImagesFromEnv(os.LookupEnv)
	majors := []int{testenv.NewestMajor, testenv.OldestMajor}
	var need []string
	for _, m := range majors {
		image, err := images.PostgresMajor(m)
		if err != nil {
			t.Fatal(err)
		}
		need = append(need, image)
	}
	testenv.RequireImages(t, append(need, images.Redis)...)
	label := t.Name() + "-" + testcontainers.SessionID()
	var out bytes.Buffer
	report, err := testdb.Run(t.Context(), testdb.Options{Images: images, Majors: majors, Migrations: migrations.FS,
		Labels: map[string]string{"visiona.test": label}, SnapshotFile: "migrations/schema.snapshot", RepoDir: "../..", NoSuites: true, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(report.Servers) != 3 || !strings.HasPrefix(report.Servers[0].Version, "18.") || !strings.HasPrefix(report.Servers[1].Version, "14.") {
		t.Errorf("servers %+v, want 18, 14 and redis in that order", report.Servers)
	}
	var rows []string
	for _, p := range report.Phases {
		if p.Postgres != "" {
			rows = append(rows, p.Name+" "+p.Postgres+" "+p.Result)
		}
	}
	want := []string{"round trip 18 ok", "snapshot file 18 ok", "round trip 14 ok", "snapshot file 14 ok"}
	if strings.Join(rows, ",") != strings.Join(want, ",") {
		t.Errorf("per-major phases %q, want %q", rows, want)
	}
	for _, line := range []string{"postgres 18: round trip", "postgres 14: schema snapshot", "removed 3 containers"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
	if left := containers(t, label); left != 0 {
		t.Errorf("TestDB left %d of its containers behind", left)
	}
}

// The summary names the migrations measured taking ACCESS EXCLUSIVE on an existing table or
// rewriting one, and where the lint predicted otherwise; the JSON has every migration's locks.
func TestRunNamesHeavyMigrations(t *testing.T) {
	servers := existingServers(t)
	var out bytes.Buffer
	report, err := testdb.Run(t.Context(), testdb.Options{Servers: servers, Migrations: os.DirFS("../../testdata/roundtrip/locks_measured"),
		RepoDir: "../..", NoSuites: true, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var summary, doc bytes.Buffer
	report.WriteSummary(&summary)
	for _, want := range []string{
		"locks measured in the round trip: heavy migrations",
		"up   000002_add_items_score",
		"ACCESS EXCLUSIVE on public.items; rewrote public.items, public.items_pkey; lint: volatile-default (line 1)",
		"differs from the lint: the lint's column-type-change (line 1) predicted a rewrite; none happened",
	} {
		if !strings.Contains(summary.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary.String())
		}
	}
	if err := report.WriteJSON(&doc, 0, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.String(), `"relation": "public.items"`) || !strings.Contains(doc.String(), `"mode": "SHARE"`) {
		t.Errorf("the JSON lacks the measured locks:\n%s", doc.String())
	}
}
