package postgres_test

import (
	"os"
	"testing"

	"visiona-backend/internal/config"
	"visiona-backend/internal/testenv"
)

var pgServer = testenv.NewServer()

func TestMain(m *testing.M) {
	code := m.Run()
	pgServer.Close()
	os.Exit(code)
}

// newDB returns the configuration of a fresh, empty database on the shared test server.
func newDB(t *testing.T) config.DB {
	t.Helper()
	cfg, err := config.DBFromURL(pgServer.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.SSLMode = "disable"
	return cfg
}
