package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"
	goredis "github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
)

var pgServer = NewServer()

func TestMain(m *testing.M) { Main(m, pgServer) }

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestImagesFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Images
	}{
		{"defaults", nil, Images{DefaultPostgresImage, DefaultRedisImage}},
		{"blank is unset", map[string]string{EnvPostgresImage: " ", EnvRedisImage: ""}, Images{DefaultPostgresImage, DefaultRedisImage}},
		{"overrides", map[string]string{EnvPostgresImage: "visiona-local/postgres:15", EnvRedisImage: "visiona-local/redis:7"},
			Images{"visiona-local/postgres:15", "visiona-local/redis:7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ImagesFromEnv(lookupMap(tc.env)); got != tc.want {
				t.Errorf("ImagesFromEnv = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPostgresURLsAndPrinting(t *testing.T) {
	const pw = "p@ss:w/rd?#%"
	p := &Postgres{Host: "localhost", Port: 32768, User: "postgres", Password: pw, Version: "15.18",
		query: map[string][]string{"sslmode": {"disable"}}}

	u := p.URL("app_test")
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatalf("pgx cannot parse URL(): %v", err)
	}
	if cfg.Password != pw || cfg.Database != "app_test" || cfg.Port != 32768 || cfg.Host != "localhost" {
		t.Errorf("URL() round trip: got password ok=%v db=%q port=%d host=%q", cfg.Password == pw, cfg.Database, cfg.Port, cfg.Host)
	}

	if got, want := p.SafeTarget("app_test"), "postgres@localhost:32768/app_test"; got != want {
		t.Errorf("SafeTarget = %q, want %q", got, want)
	}
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), p.SafeTarget("x")} {
		if strings.Contains(s, "p@ss") {
			t.Errorf("password printed: %q", s)
		}
	}
}

func TestConnectPostgresBadURLHidesPassword(t *testing.T) {
	_, err := ConnectPostgres(t.Context(), "postgres://u:secret%zz@host/db")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("want an error without the password, got %v", err)
	}
}

func TestMissingServerMessage(t *testing.T) {
	msg, fatal := missingServerMessage(lookupMap(nil), "no Docker engine", howToRunServer)
	if fatal || !strings.Contains(msg, ".ci/run") || !strings.Contains(msg, EnvTestPostgresURL) {
		t.Errorf("outside CI: fatal=%v msg=%q; want a skip that says how to run the tests", fatal, msg)
	}
	if _, fatal := missingServerMessage(lookupMap(map[string]string{"CI": "true"}), "no Docker engine", howToRunServer); !fatal {
		t.Error("CI=true: want a failure, not a skip")
	}
}

func TestDatabaseName(t *testing.T) {
	long := "TestSomething/" + strings.Repeat("Very Long-Sub.Test ", 10)
	a, err := databaseName(long)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := databaseName(long)
	if a == b {
		t.Errorf("two names for the same test are equal: %q", a)
	}
	if len(a) > 63 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		t.Errorf("not a plain identifier of at most 63 bytes: %q (%d)", a, len(a))
	}
}

// The tests below need a Docker engine and the images (build/testenv/setup.sh +
// build/testenv/env.sh here). They run one after the other so that the logged start times
// are not inflated by each other.

func TestStartPostgres(t *testing.T) {
	RequireDocker(t)
	pg, err := StartPostgres(t.Context(), ImagesFromEnv(os.LookupEnv).Postgres)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { terminateT(t, pg.Terminate) })
	t.Logf("postgres ready in %v: %v", pg.Started.Round(time.Millisecond), pg)
	selectOne(t, pg.AdminURL)
}

func TestStartRedis(t *testing.T) {
	RequireDocker(t)
	rd, err := StartRedis(t.Context(), ImagesFromEnv(os.LookupEnv).Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { terminateT(t, rd.Terminate) })
	t.Logf("redis ready in %v: %v", rd.Started.Round(time.Millisecond), rd)
	ping(t, rd.Addr)
}

func TestStartBoth(t *testing.T) {
	RequireDocker(t)
	start := time.Now()
	pg, rd, err := StartBoth(t.Context(), ImagesFromEnv(os.LookupEnv))
	if err != nil {
		t.Fatal(err)
	}
	both := time.Since(start)
	t.Cleanup(func() {
		terminateT(t, pg.Terminate)
		terminateT(t, rd.Terminate)
	})
	t.Logf("both ready in %v (postgres %v, redis %v)", both.Round(time.Millisecond),
		pg.Started.Round(time.Millisecond), rd.Started.Round(time.Millisecond))
	selectOne(t, pg.AdminURL)
	ping(t, rd.Addr)
}

func TestStartBothFailureLeavesNothing(t *testing.T) {
	RequireDocker(t)
	images := ImagesFromEnv(os.LookupEnv)
	for _, tc := range []struct {
		name, pgImage, wantInErr string
	}{
		// Fails before any container exists; Redis's start is cancelled or terminated.
		{"local image not built", LocalImagePrefix + "does-not-exist:0", "setup.sh"},
		// Fails after the container started: the Redis image has no postgres binary, so
		// the container exits; its log must be in the error.
		{"container exits", images.Redis, "container log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label := testcontainers.WithLabels(map[string]string{"visiona.test": t.Name() + "-" + testcontainers.SessionID()})
			pg, rd, err := StartBoth(t.Context(), Images{Postgres: tc.pgImage, Redis: images.Redis}, label)
			if err == nil || pg != nil || rd != nil {
				t.Fatalf("StartBoth: pg=%v rd=%v err=%v; want only an error", pg, rd, err)
			}
			t.Logf("error (expected):\n%v", err)
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error does not contain %q", tc.wantInErr)
			}
			if left := testContainers(t, t.Name()+"-"+testcontainers.SessionID()); left != 0 {
				t.Errorf("%d container(s) of this failed StartBoth are left", left)
			}
		})
	}
}

func TestServerNewDatabaseIsolation(t *testing.T) {
	var names []string
	var urls []string
	t.Run("create", func(t *testing.T) {
		a, b := pgServer.NewDatabase(t), pgServer.NewDatabase(t)
		urls = append(urls, a, b)
		if a == b {
			t.Fatal("two NewDatabase calls returned the same URL")
		}
		exec(t, a, "CREATE TABLE only_in_a (id int); INSERT INTO only_in_a VALUES (1)")
		var n int
		if err := queryRow(t, b, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'", &n); err != nil || n != 0 {
			t.Fatalf("table of database a visible in database b: n=%d err=%v", n, err)
		}
		// A connection left open must not stop the drop at cleanup.
		conn, err := pgx.Connect(t.Context(), a)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn // closed by the server when the database is dropped
		for _, u := range []string{a, b} {
			cfg, _ := pgx.ParseConfig(u)
			names = append(names, cfg.Database)
		}
	})
	pg := pgServer.Postgres(t)
	for _, name := range names {
		var n int
		if err := queryRow(t, pg.AdminURL, "SELECT count(*) FROM pg_database WHERE datname = $1", &n, name); err != nil || n != 0 {
			t.Errorf("database %s still exists after its test ended (n=%d, err=%v)", name, n, err)
		}
	}
}

func TestServerConcurrentStart(t *testing.T) {
	var (
		mu   sync.Mutex
		seen = map[*Postgres]bool{}
	)
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			p := pgServer.Postgres(t)
			mu.Lock()
			seen[p] = true
			mu.Unlock()
		})
	}
	t.Cleanup(func() {
		if len(seen) > 1 { // 0 when skipped for want of Docker
			t.Errorf("concurrent callers got %d servers, want 1", len(seen))
		}
	})
}

func terminateT(t *testing.T, terminate func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := terminate(ctx); err != nil {
		t.Error(err)
	}
}

func selectOne(t *testing.T, url string) {
	t.Helper()
	var one int
	if err := queryRow(t, url, "SELECT 1", &one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
}

func ping(t *testing.T, addr string) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	if got, err := c.Ping(t.Context()).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
}

func queryRow(t *testing.T, url, sql string, dest any, args ...any) error {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(t.Context(), sql, args...).Scan(dest)
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatal(err)
	}
}

// testContainers counts the containers testcontainers created that still exist.
// testContainers counts the containers, running or not, labelled visiona.test=label: only the
// test's own, whatever other test binaries run meanwhile.
func testContainers(t *testing.T, label string) int {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerList(t.Context(), client.ContainerListOptions{
		All:     true,
		Filters: client.Filters{}.Add("label", "visiona.test="+label),
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}

// What TestDB relies on after an interrupt: containers started under a run label can be found
// and removed even when nobody terminated them.
func TestRemoveRun(t *testing.T) {
	RequireDocker(t)
	run := "removerun-" + testcontainers.SessionID()[:12]
	t.Setenv(EnvRunLabel, run)
	rd, err := StartRedis(t.Context(), ImagesFromEnv(os.LookupEnv).Redis)
	if err != nil {
		t.Fatal(err)
	}
	n, err := RemoveRun(t.Context(), run)
	if err != nil || n != 1 {
		t.Fatalf("RemoveRun = %d, %v; want 1 container removed", n, err)
	}
	if err := rd.Terminate(t.Context()); err == nil {
		t.Error("the container still existed after RemoveRun")
	}
}

func TestPostgresMajorReplacesTheTagsNumber(t *testing.T) {
	for image, want := range map[string]string{
		"postgres:14-alpine":             "postgres:18-alpine",
		"visiona-local/postgres:14":      "visiona-local/postgres:18",
		"registry:5000/team/postgres:15": "registry:5000/team/postgres:18",
	} {
		if got, err := (Images{Postgres: image}).PostgresMajor(18); err != nil || got != want {
			t.Errorf("PostgresMajor(%s) = %q, %v; want %s", image, got, err, want)
		}
	}
	for _, image := range []string{"postgres", "postgres:latest", "registry:5000/postgres", "postgres@sha256:abc"} {
		if _, err := (Images{Postgres: image}).PostgresMajor(18); err == nil || !strings.Contains(err.Error(), EnvPostgresImage) {
			t.Errorf("PostgresMajor(%s): err = %v, want one naming %s", image, err, EnvPostgresImage)
		}
	}
}

// An image that is neither on the engine nor pullable is a reason to skip (outside CI), said in
// one line naming the image and what to do.
func TestImageAvailableExplainsAMissingImage(t *testing.T) {
	if ok, reason := DockerAvailable(t.Context()); !ok {
		missingServer(t, os.LookupEnv, reason, howToRun)
	}
	for image, hint := range map[string]string{
		LocalImagePrefix + "postgres:does-not-exist": "build/testenv/setup.sh",
		"visiona-test/no-such-image:0":               "cannot be pulled",
	} {
		ok, reason := ImageAvailable(t.Context(), image)
		if ok || !strings.Contains(reason, image) || !strings.Contains(reason, hint) || strings.Contains(reason, "\n") {
			t.Errorf("ImageAvailable(%s) = %v, %q; want false and one line naming it and %q", image, ok, reason, hint)
		}
	}
	if msg, fatal := missingServerMessage(func(string) (string, bool) { return "true", true }, "image x cannot be pulled", howToRun); !fatal || !strings.Contains(msg, "CI=true") {
		t.Errorf("with CI=true: %q fatal=%v, want a failure", msg, fatal)
	}
}
