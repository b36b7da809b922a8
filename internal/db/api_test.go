package db_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/golang-migrate/migrate/v4/database"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/migfile"
)

// A configured database that is never connected to: every case below fails before connecting.
var offline = config.DB{Host: "127.0.0.1", Port: 1, User: "visiona", Name: "visiona", SSLMode: "disable"}

func TestConstructionRefusesNilsWithoutPanicking(t *testing.T) {
	for _, c := range []struct {
		name string
		new  func() error
		want error
	}{
		{"nil migrations", func() error { _, err := db.New(offline, nil); return err }, migfile.ErrInvalidSource},
		{"nil logger", func() error { _, err := db.New(offline, tables(1, nil), db.WithLogger(nil)); return err }, db.ErrInvalidArgument},
		{"nil preflight", func() error { _, err := db.New(offline, tables(1, nil), db.WithPreflight(nil)); return err }, db.ErrInvalidArgument},
		{"nil progress", func() error { _, err := db.New(offline, tables(1, nil), db.WithProgress(nil)); return err }, db.ErrInvalidArgument},
		{"nil migrations, auto-migrate, nil logger", func() error {
			return db.AutoMigrate(context.Background(), offline, nil, nil)
		}, migfile.ErrInvalidSource},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.new(); !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// The lock key is golang-migrate's own, computed without a connection, so the stock CLI and this
// tool exclude each other.
func TestLockKeyIsGolangMigrates(t *testing.T) {
	id, err := database.GenerateAdvisoryLockId("visiona", "public", "schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.ParseInt(id, 10, 64)
	got, err := db.LockKey("visiona", "public")
	if err != nil || got != want {
		t.Errorf("LockKey = %d, %v; want %d", got, err, want)
	}
	if other, _ := db.LockKey("visiona", "tenant"); other == got {
		t.Error("two schemas share a lock key")
	}
}

func TestPartialErrorUnwraps(t *testing.T) {
	cause := &db.MigrationError{Direction: db.Up, SQLFailure: migfile.SQLFailure{File: "000003_bad.up.sql", Message: "boom"}, Version: 2}
	var err error = &db.PartialError{Applied: []db.Result{{Version: 1}, {Version: 2}}, Failed: &db.Result{Version: 3}, Err: cause}
	var me *db.MigrationError
	if !errors.As(err, &me) || me != cause || !errors.Is(err, db.ErrMigrationFailed) || err.Error() != cause.Error() {
		t.Errorf("PartialError hides its cause: %v", err)
	}
}

// A run that fails after applying some migrations says which, and which failed.
func TestUpReportsPartialResults(t *testing.T) {
	m := newMigrator(t, newDB(t), failsThird("SELECT * FROM no_such_table;\n", "SELECT 1;\n"))
	results, err := m.Up(context.Background())
	var pe *db.PartialError
	if !errors.As(err, &pe) || len(pe.Applied) != 2 || len(results) != 2 || pe.Failed == nil || pe.Failed.Version != 3 || pe.Failed.Direction != db.Up {
		t.Fatalf("results = %v, err = %#v; want a PartialError with 2 applied and 000003 failed", results, err)
	}
	// Nothing to do and nothing failed: no PartialError.
	if _, err := db.New(offline, tables(1, nil), db.WithPreflight(nil)); errors.As(err, &pe) {
		t.Errorf("a construction error is a PartialError: %v", err)
	}
}
