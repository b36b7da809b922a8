package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PgBouncerBin is where Debian's pgbouncer package installs the pooler.
const PgBouncerBin = "/usr/sbin/pgbouncer"

// PgBouncer is a pooler started by StartPgBouncer in front of a test PostgreSQL: clients connect
// to Host:Port with the server's user and password, and reach any database of the server.
type PgBouncer struct {
	Host string
	Port int
	Mode string // pool_mode: session, transaction or statement
}

// StartPgBouncer starts Debian's pgbouncer in front of pg, in pool_mode mode, as the unprivileged
// user nobody (pgbouncer refuses to run as root), from a small generated ini file:
// auth_type scram-sha-256 with the plain password in its auth_file, which PgBouncer then also
// uses towards the server. It is stopped when the test ends. Without the package the test skips,
// or fails with CI=true (build/testenv/setup.sh installs it).
func StartPgBouncer(t testing.TB, pg *Postgres, mode string) *PgBouncer {
	t.Helper()
	if _, err := os.Stat(PgBouncerBin); err != nil {
		missingServer(t, os.LookupEnv, PgBouncerBin+" is not installed (Debian package pgbouncer)", howToRun)
	}
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Readable by nobody: the ini, the auth file and the log live here.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	host := pg.Host
	if host == "localhost" {
		host = "127.0.0.1"
	}
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	users := quote(pg.User) + " " + quote(pg.Password) + "\n"
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
pool_mode = %s
max_client_conn = 500
default_pool_size = 20
server_lifetime = 3600
logfile = %s
`, host, pg.Port, port, filepath.Join(dir, "users.txt"), mode, filepath.Join(dir, "pgbouncer.log"))
	for name, body := range map[string]string{"users.txt": users, "pgbouncer.ini": ini} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := osexec.Command(PgBouncerBin, "-u", "nobody", filepath.Join(dir, "pgbouncer.ini"))
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start pgbouncer: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return &PgBouncer{Host: "127.0.0.1", Port: port, Mode: mode}
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("testenv: pgbouncer exited (%v):\n%s%s", err, out, log)
		case <-ctx.Done():
			t.Fatalf("testenv: pgbouncer did not listen on %s within 10s", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a free TCP port on the loopback.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
