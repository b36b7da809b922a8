// Package bench compares internal/db's Migrator, whose pgx driver applies each migration and its
// version bookkeeping as one simple-protocol query (one implicit transaction, one commit), with
// golang-migrate's stock pgx/v5 driver, which commits three transactions per migration (dirty flag,
// SQL, clean flag). Both run golang-migrate's engine over the same in-memory migrations.
//
// The benchmarks need a PostgreSQL 15+ superuser URL in VISIONA_BENCH_POSTGRES_URL and skip
// without it; bench/run.sh starts a throwaway server and runs them. See bench/README.md.
package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/testenv"
)

// EnvURL names the variable holding a superuser URL of the server to benchmark against, e.g.
// postgres://user:pass@127.0.0.1:5432/postgres?sslmode=disable.
const EnvURL = "VISIONA_BENCH_POSTGRES_URL"

// sizes are the migration counts benchmarked.
var sizes = []int{100, 1000}

// A migrator is one way of running the same migrations against one database.
type migrator struct {
	name string
	up   func(ctx context.Context, t target, fsys fstest.MapFS) error
	down func(ctx context.Context, t target, fsys fstest.MapFS) error
	// commits is what one migration should cost in committed transactions.
	commits float64
}

var migrators = []migrator{
	{name: "visiona", up: visionaUp, down: visionaDown, commits: 1},
	{name: "stock-pgx5", up: stockUp, down: stockDown, commits: 3},
}

// BenchmarkUp applies every migration to an empty database.
func BenchmarkUp(b *testing.B) { benchmark(b, true) }

// BenchmarkDown reverts every migration of a fully migrated database (migrated, untimed, by the
// same driver).
func BenchmarkDown(b *testing.B) { benchmark(b, false) }

func benchmark(b *testing.B, up bool) {
	srv := connectServer(b)
	for _, n := range sizes {
		fsys := testenv.GenerateSet(n, testenv.TableStep)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for _, mig := range migrators {
				b.Run("driver="+mig.name, func(b *testing.B) {
					runBenchmark(b, srv, mig, fsys, n, up)
				})
			}
		})
	}
}

func runBenchmark(b *testing.B, srv *server, mig migrator, fsys fstest.MapFS, n int, up bool) {
	ctx := b.Context()
	op, want := mig.up, n
	if !up {
		op, want = mig.down, 0
	}
	var commits, runs int64
	for b.Loop() {
		b.StopTimer()
		t := srv.createDatabase(b)
		if !up {
			if err := mig.up(ctx, t, fsys); err != nil {
				b.Fatalf("%s: migrating up before the timed down: %v", mig.name, err)
			}
		}
		before := srv.xactCommits(b, t)

		b.StartTimer()
		err := op(ctx, t, fsys)
		b.StopTimer()
		if err != nil {
			b.Fatalf("%s: %v", mig.name, err)
		}

		delta := srv.xactCommits(b, t) - before
		srv.check(b, t, want)
		srv.waitIdle(b, t)
		srv.dropDatabase(b, t)
		commits += delta
		runs++
		b.StartTimer()
	}
	perMigration := float64(commits) / float64(runs*int64(n))
	b.ReportMetric(perMigration, "commits/migration")
	// Each migration costs 1 (ours) or 3 (stock) commits; a run adds a handful more for the lock,
	// the version table and the version read. Anything else means the measurement is broken.
	if lo, hi := mig.commits, mig.commits+0.25; perMigration < lo || perMigration > hi {
		b.Errorf("%s: %.3f commits/migration, want %.2f to %.2f: is something else using the database, or did the statistics not flush?", mig.name, perMigration, lo, hi)
	}
}

// target is one benchmark database, reachable both ways.
type target struct {
	name string
	cfg  config.DB // for db.New
	url  string    // for database/sql
}

func visionaUp(ctx context.Context, t target, fsys fstest.MapFS) error {
	m, err := db.New(t.cfg, fsys)
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	return err
}

func visionaDown(ctx context.Context, t target, fsys fstest.MapFS) error {
	m, err := db.New(t.cfg, fsys)
	if err != nil {
		return err
	}
	_, err = m.DownAll(ctx)
	return err
}

func stockUp(_ context.Context, t target, fsys fstest.MapFS) error {
	return stock(t, fsys, (*migrate.Migrate).Up)
}

func stockDown(_ context.Context, t target, fsys fstest.MapFS) error {
	return stock(t, fsys, (*migrate.Migrate).Down)
}

// stock runs op with golang-migrate's own pgx/v5 driver, set up the documented way.
func stock(t target, fsys fstest.MapFS, op func(*migrate.Migrate) error) (err error) {
	sqlDB, err := sql.Open("pgx", t.url)
	if err != nil {
		return err
	}
	drv, err := pgxmigrate.WithInstance(sqlDB, &pgxmigrate.Config{})
	if err != nil {
		return errors.Join(err, sqlDB.Close())
	}
	src, err := iofs.New(fsys, ".")
	if err != nil {
		return errors.Join(err, drv.Close())
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return errors.Join(err, src.Close(), drv.Close())
	}
	defer func() {
		srcErr, dbErr := m.Close()
		err = errors.Join(err, srcErr, dbErr)
	}()
	return op(m)
}

// server is the PostgreSQL server under test, reached through an admin connection to the
// database named in EnvURL.
type server struct {
	base  *url.URL
	cfg   config.DB
	admin *pgx.Conn
	mu    sync.Mutex
}

var (
	serverOnce sync.Once
	shared     *server
	serverErr  error
	dbSeq      atomic.Int64
)

// connectServer skips the benchmark without EnvURL; the connection is shared by all benchmarks
// and closed with the process.
func connectServer(b *testing.B) *server {
	b.Helper()
	raw := os.Getenv(EnvURL)
	if raw == "" {
		b.Skipf("%s is not set: set it to a PostgreSQL 15+ superuser URL (postgres://user:pass@127.0.0.1:5432/postgres?sslmode=disable) or run bench/run.sh, which starts a throwaway server", EnvURL)
	}
	serverOnce.Do(func() { shared, serverErr = openServer(raw) })
	if serverErr != nil {
		b.Fatal(serverErr)
	}
	return shared
}

func openServer(raw string) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Hostname() == "" {
		return nil, fmt.Errorf("%s: want postgres://user:pass@host:port/db?sslmode=disable", EnvURL)
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	q.Set("application_name", "bench")
	u.RawQuery = q.Encode()
	port := 5432
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("%s: port %q: %w", EnvURL, p, err)
		}
	}
	pass, _ := u.User.Password()
	cfg := config.DB{Host: u.Hostname(), Port: port, User: u.User.Username(), Password: pass, SSLMode: q.Get("sslmode"), AppName: "bench"}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	var version int
	var super bool
	if err := admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('is_superuser') = 'on'").Scan(&version, &super); err != nil {
		return nil, errors.Join(fmt.Errorf("read server version: %w", err), admin.Close(ctx))
	}
	if version < 150000 {
		return nil, errors.Join(fmt.Errorf("PostgreSQL %d: the commits/migration metric needs 15 or newer (statistics flushed at backend exit)", version), admin.Close(ctx))
	}
	if !super {
		return nil, errors.Join(fmt.Errorf("%s: user %q is not a superuser", EnvURL, u.User.Username()), admin.Close(ctx))
	}
	return &server{base: u, cfg: cfg, admin: admin}, nil
}

// createDatabase makes a new, empty database with a unique name. The benchmark drops it after each
// iteration; a cleanup drops it too should the benchmark stop first.
func (s *server) createDatabase(b *testing.B) target {
	b.Helper()
	name := fmt.Sprintf("visiona_bench_%d_%d", os.Getpid(), dbSeq.Add(1))
	s.exec(b, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	b.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, _ = s.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	u := *s.base
	u.Path = "/" + name
	cfg := s.cfg
	cfg.Name = name
	return target{name: name, cfg: cfg, url: u.String()}
}

func (s *server) dropDatabase(b *testing.B, t target) {
	b.Helper()
	s.exec(b, "DROP DATABASE "+pgx.Identifier{t.name}.Sanitize()+" WITH (FORCE)")
}

func (s *server) exec(b *testing.B, sql string) {
	b.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.admin.Exec(context.Background(), sql); err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
}

// xactCommits is the database's committed-transaction count (every transaction, read-only ones
// included) once every session on it has ended. PostgreSQL 15+ flushes a backend's pending
// statistics before it leaves pg_stat_activity, so once no session is left the count is exact.
func (s *server) xactCommits(b *testing.B, t target) int64 {
	b.Helper()
	s.waitIdle(b, t)
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	// Each statement here is its own transaction, so no statistics snapshot is reused between reads.
	if err := s.admin.QueryRow(context.Background(), "SELECT pg_stat_get_db_xact_commit(oid) FROM pg_database WHERE datname = $1", t.name).Scan(&n); err != nil {
		b.Fatalf("read xact_commit of %s: %v", t.name, err)
	}
	return n
}

// waitIdle waits for every session on the database to end: a client's Close does not wait for its
// backend to exit.
func (s *server) waitIdle(b *testing.B, t target) {
	b.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sessions int
		if err := s.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", t.name).Scan(&sessions); err != nil {
			b.Fatalf("count sessions on %s: %v", t.name, err)
		}
		if sessions == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d session(s) still on %s after 30s", sessions, t.name)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// check confirms the run did its work: want migrations applied, a clean version row, and exactly
// the tables that implies. It runs after the commit count is read, since it opens a session too.
func (s *server) check(b *testing.B, t target, want int) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, t.url)
	if err != nil {
		b.Fatalf("connect to %s: %v", t.name, err)
	}
	defer conn.Close(ctx)
	var tables, rows, version int
	var dirty bool
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\_%'),
	  (SELECT count(*) FROM schema_migrations), coalesce((SELECT version FROM schema_migrations), 0), coalesce((SELECT dirty FROM schema_migrations), false)`).
		Scan(&tables, &rows, &version, &dirty)
	if err != nil {
		b.Fatalf("check %s: %v", t.name, err)
	}
	wantRows := 0
	if want > 0 {
		wantRows = 1
	}
	if tables != want || version != want || dirty || rows != wantRows {
		b.Fatalf("%s: %d tables, %d version rows, version %d, dirty %t; want %d tables at version %d, clean", t.name, tables, rows, version, dirty, want, want)
	}
}
