package testenv

import (
	"cmp"
	"context"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/lines"
)

// Main is a test binary's TestMain for packages that share srv: it runs the tests, stops srv's
// container if one was started, runs cleanups (in order) and exits with the tests' code.
func Main(m *testing.M, srv *Server, cleanups ...func()) {
	code := m.Run()
	srv.Close()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// NewDB is NewDatabase as a config.DB (TLS off: the test servers have none).
func (s *Server) NewDB(t testing.TB) config.DB {
	t.Helper()
	cfg := mustDB(t, s.NewDatabase(t))
	cfg.SSLMode = "disable"
	return cfg
}

// AdminDB is the superuser's configuration for the server's maintenance database, for tests that
// create, drop or watch other databases.
func (s *Server) AdminDB(t testing.TB) config.DB {
	t.Helper()
	return s.Postgres(t).AdminDB(t)
}

// AdminDB is AdminURL as a config.DB, TLS off (a server started with TLS still accepts the
// superuser without it).
func (p *Postgres) AdminDB(t testing.TB) config.DB {
	t.Helper()
	cfg := mustDB(t, p.AdminURL)
	cfg.SSLMode = "disable"
	return cfg
}

// DBTestDB is DBTestDatabase as a config.DB.
func DBTestDB(t testing.TB) config.DB {
	t.Helper()
	return mustDB(t, DBTestDatabase(t))
}

func mustDB(t testing.TB, rawURL string) config.DB {
	t.Helper()
	cfg, err := config.DBFromURL(rawURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return cfg
}

// connectTimeout bounds a test's connection: a server that does not answer in it is broken.
const connectTimeout = 30 * time.Second

// TestAppName is the application_name of Connect's connections when cfg names none.
const TestAppName = "visiona-test"

// Connect opens one connection to cfg's database, closed when the test ends (closing it earlier
// is fine). It fails the test when the server cannot be reached.
func Connect(t testing.TB, cfg config.DB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, ConnURL(cfg))
	if err != nil {
		t.Fatalf("testenv: connect to %s: %v", cfg.SafeTarget(), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// ConnURL is cfg as a postgres:// URL (with the password: do not log it), its application_name
// cfg.AppName or TestAppName.
func ConnURL(cfg config.DB) string {
	q := url.Values{}
	q.Set("sslmode", cmp.Or(cfg.SSLMode, "disable"))
	q.Set("application_name", cmp.Or(cfg.AppName, TestAppName))
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), Path: "/" + cfg.Name, RawQuery: q.Encode()}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	} else {
		u.User = url.User(cfg.User)
	}
	return u.String()
}

// Exec runs sql on conn, failing the test when it fails.
func Exec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// Column runs sql on conn and returns its one column, in order, failing the test when it fails.
func Column[T any](t testing.TB, conn *pgx.Conn, sql string, args ...any) []T {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err == nil {
		var list []T
		if list, err = pgx.CollectRows(rows, pgx.RowTo[T]); err == nil {
			return list
		}
	}
	t.Fatalf("query %q: %v", lines.First(sql), err)
	return nil
}
