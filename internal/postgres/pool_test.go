package postgres_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"visiona-backend/internal/config"
	"visiona-backend/internal/postgres"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestNewPoolClassifiesConnectFailures(t *testing.T) {
	cfg := config.DB{Host: "127.0.0.1", Port: closedPort(t), User: "visiona", Password: "hunter2", Name: "visiona",
		SSLMode: "disable", MaxConns: 4, AppName: "visiona-test"}
	pool, err := postgres.NewPool(t.Context(), cfg)
	if pool != nil {
		pool.Close()
	}
	var ce *postgres.ConnectError
	if !errors.As(err, &ce) || ce.Reason != "connection refused" || !errors.Is(err, postgres.ErrUnavailable) {
		t.Fatalf("NewPool = %v; want a *ConnectError for a refused connection", err)
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "visiona@127.0.0.1:"+strconv.Itoa(cfg.Port)) {
		t.Fatalf("error %q: want the safe target and no password", err)
	}
	if !errors.Is(postgres.MapError(err), postgres.ErrUnavailable) {
		t.Fatalf("MapError(%v) is not ErrUnavailable", err)
	}
}

func TestNewPoolNotConfigured(t *testing.T) {
	_, err := postgres.NewPool(t.Context(), config.DB{Host: "localhost"})
	if !errors.Is(err, config.ErrDatabaseNotConfigured) {
		t.Fatalf("NewPool = %v, want ErrDatabaseNotConfigured", err)
	}
}
