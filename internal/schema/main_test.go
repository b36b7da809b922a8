package schema_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/schema"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) { testenv.Main(m, pgServer) }

// newDB, connect and exec are testenv's, under the names this package's tests use.
func newDB(t testing.TB) config.DB {
	t.Helper()
	return pgServer.NewDB(t)
}

func connect(t testing.TB, cfg config.DB) *pgx.Conn {
	t.Helper()
	return testenv.Connect(t, cfg)
}

func exec(t testing.TB, conn *pgx.Conn, sql string) {
	t.Helper()
	testenv.Exec(t, conn, sql)
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
