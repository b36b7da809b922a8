package schema_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/postgres"
	"visiona-backend/internal/schema"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) {
	code := m.Run()
	pgServer.Close()
	os.Exit(code)
}

// newDB returns the configuration of a fresh, empty database on the shared test server.
func newDB(t testing.TB) config.DB {
	t.Helper()
	cfg, err := config.DBFromURL(pgServer.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SSLMode = "disable"
	return cfg
}

func connect(t testing.TB, cfg config.DB) *pgx.Conn {
	t.Helper()
	conn, err := postgres.Connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t testing.TB, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

func take(t testing.TB, conn *pgx.Conn, opts ...schema.Option) *schema.Snapshot {
	t.Helper()
	s, err := schema.Take(context.Background(), conn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// migrated returns a fresh database migrated up with the repository's migrations.
func migrated(t testing.TB) config.DB {
	t.Helper()
	cfg := newDB(t)
	m, err := db.New(cfg, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cfg
}
