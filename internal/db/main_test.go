package db_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) {
	// The kill test re-runs this binary as the migrator it kills.
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelperProcess())
	}
	testenv.Main(m, pgServer)
}

// newDB and connect are testenv's, under the names this package's tests use.
func newDB(t *testing.T) config.DB {
	t.Helper()
	return pgServer.NewDB(t)
}

func connect(t *testing.T, cfg config.DB) *pgx.Conn {
	t.Helper()
	return testenv.Connect(t, cfg)
}

// newMigrator is db.New with fsys, or the repository's migrations when fsys is nil.
func newMigrator(t *testing.T, cfg config.DB, fsys fstest.MapFS, opts ...db.Option) *db.Migrator {
	t.Helper()
	var m *db.Migrator
	var err error
	if fsys != nil {
		m, err = db.New(cfg, fsys, opts...)
	} else {
		m, err = db.New(cfg, migrations.FS, opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tableExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

func mustVersion(t *testing.T, m *db.Migrator, want uint) db.VersionInfo {
	t.Helper()
	info, err := m.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != want || info.Dirty {
		t.Fatalf("database at %d dirty=%v, want %d clean", info.Version, info.Dirty, want)
	}
	return info
}

// holdLock takes the migration lock in conn's session, as another migrator's run would hold it,
// and returns its key.
func holdLock(t *testing.T, conn *pgx.Conn) int64 {
	t.Helper()
	ctx := context.Background()
	key, err := db.AdvisoryLockKey(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		t.Fatal(err)
	}
	return key
}

// readT1 opens a transaction on cfg's database that reads t1, so it holds ACCESS SHARE on t1 and
// blocks any ALTER TABLE t1 until it ends (rolled back when the test ends, if not before).
func readT1(t *testing.T, cfg config.DB) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := connect(t, cfg).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, "SELECT * FROM t1"); err != nil {
		t.Fatal(err)
	}
	return tx
}

// plainTable is the step of most sets here: migration v, named t<v>, creates table t<v>.
func plainTable(v int) testenv.Migration {
	return testenv.Migration{
		Name: fmt.Sprintf("t%d", v),
		Up:   fmt.Sprintf("CREATE TABLE t%d (id int);\n", v),
		Down: fmt.Sprintf("DROP TABLE t%d;\n", v),
	}
}

// tables is the set of n plainTable migrations, with extra files (name to content) added or
// put in place of generated ones.
func tables(n int, extra map[string]string) fstest.MapFS {
	fsys := testenv.GenerateSet(n, plainTable)
	for name, body := range extra {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}

// failsThird is tables(2) and a third migration, 000003_bad, with these bodies.
func failsThird(up, down string) fstest.MapFS {
	return tables(2, map[string]string{"000003_bad.up.sql": up, "000003_bad.down.sql": down})
}
