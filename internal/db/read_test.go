package db_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/db"
	"visiona-backend/internal/migfile"
)

func TestVersionReaderChecksNamesWithoutOpeningFiles(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	fsys := tables(3, nil)
	if _, err := newMigrator(t, cfg, fsys).Goto(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Files that cannot be read: the reader must not need them.
	unreadable := fstest.MapFS{}
	for name := range fsys {
		unreadable[name] = &fstest.MapFile{Mode: 0o200}
	}
	r, err := db.NewVersionReader(cfg, openFails{unreadable})
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 2 || info.Latest != 3 || info.Pending != 1 || info.Dirty || info.Ahead {
		t.Errorf("version info %+v, want 2 of 3, 1 pending", info)
	}

	broken := tables(2, nil)
	delete(broken, "000002_t2.down.sql")
	if _, err := db.NewVersionReader(cfg, broken); !errors.Is(err, migfile.ErrInvalidSource) {
		t.Errorf("a missing down file: err = %v, want ErrInvalidSource", err)
	}
}

// openFails lists its files but refuses to open any.
type openFails struct{ fstest.MapFS }

func (f openFails) Open(name string) (fs.File, error) {
	if name == "." {
		return f.MapFS.Open(name)
	}
	return nil, errors.New("opened " + name)
}

// The one-query read names the tables unqualified; when that would find another schema's table
// than the current schema's, the reads must still answer for the current schema.
func TestReadsAnswerForTheCurrentSchema(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	fsys := tables(3, nil)
	m := newMigrator(t, cfg, fsys)
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 3 || st.Pending != 0 || len(st.Migrations) != 3 || st.Migrations[2].AppliedAt.IsZero() {
		t.Fatalf("status %+v, want 3 applied with their history", st)
	}

	// Without the history table (a database the stock CLI migrated): applied, nothing recorded.
	conn := connect(t, cfg)
	if _, err := conn.Exec(ctx, "ALTER TABLE "+db.HistoryTable+" RENAME TO elsewhere"); err != nil {
		t.Fatal(err)
	}
	if st, err = m.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Version != 3 || !st.Migrations[2].Applied || !st.Migrations[2].AppliedAt.IsZero() {
		t.Errorf("status without history %+v, want 3 applied, none recorded", st)
	}

	// A current schema without the tables, before public on the search path: nothing applied there.
	if _, err := conn.Exec(ctx, "CREATE SCHEMA first; ALTER DATABASE "+pgx.Identifier{cfg.Name}.Sanitize()+" SET search_path = first, public"); err != nil {
		t.Fatal(err)
	}
	info, err := m.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != 0 || info.Pending != 3 {
		t.Errorf("version in schema first %+v, want 0 with 3 pending", info)
	}
	r, err := db.NewVersionReader(cfg, fsys)
	if err != nil {
		t.Fatal(err)
	}
	if info, err = r.Version(ctx); err != nil || info.Version != 0 {
		t.Errorf("version reader in schema first: %+v, %v; want 0", info, err)
	}
	if st, err = m.Status(ctx); err != nil || st.Version != 0 || st.Migrations[0].Applied {
		t.Errorf("status in schema first: %+v, %v; want nothing applied", st, err)
	}
}
