package peers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Server is the PostgreSQL server every tool migrates, reached by the harness through an admin
// connection that creates and drops one database per run.
type Server struct {
	Host     string
	Port     int
	User     string
	Password string
	Version  string // server_version

	admin *pgx.Conn
	stop  func()
}

// benchUser runs the throwaway server when the harness runs as root: PostgreSQL refuses root.
// bench/run.sh uses the same one.
const benchUser = "visiona-bench"

// serverOptions keep PostgreSQL's durable defaults, set explicitly so that every commit waits for
// a WAL flush as in production, and as bench/run.sh sets them. max_locks_per_transaction is raised
// because one transaction over 1000 migrations locks about 4000 relations (each table, its index,
// its TOAST table and TOAST index), more than the default lock table of 64 × max_connections holds.
var serverOptions = []string{
	"-c listen_addresses=127.0.0.1",
	"-c fsync=on", "-c synchronous_commit=on", "-c full_page_writes=on", "-c wal_sync_method=fdatasync",
	"-c autovacuum=off", "-c max_connections=20", "-c max_locks_per_transaction=1024",
}

// flushDelayOptions make every WAL flush that a commit waits for take delay longer: commit_delay
// sleeps before each flush, and with commit_siblings at 0 it does so even with nobody to group
// with. That is a slower disk as a migration tool sees it (commits that wait for the flush pay,
// those that do not, do not), on a machine whose own disk flushes in microseconds.
func flushDelayOptions(delay time.Duration) []string {
	if delay <= 0 {
		return nil
	}
	return []string{"-c commit_delay=" + strconv.FormatInt(delay.Microseconds(), 10), "-c commit_siblings=0"}
}

// StartLocal starts a throwaway PostgreSQL from pgbin (Debian's postgresql-15: /usr/lib/postgresql/15/bin)
// in a temporary directory, on 127.0.0.1 and a free port, with a random password. Close stops it
// and deletes its data.
func StartLocal(ctx context.Context, pgbin string, flushDelay time.Duration, log io.Writer) (*Server, error) {
	if flushDelay < 0 || flushDelay > 100*time.Millisecond {
		return nil, fmt.Errorf("flush delay %s: PostgreSQL's commit_delay takes 0 to 100ms", flushDelay)
	}
	if _, err := os.Stat(filepath.Join(pgbin, "postgres")); err != nil {
		return nil, fmt.Errorf("PostgreSQL server binaries not found in %s: install postgresql-15 (apt-get install postgresql-15), set -pgbin, or give -postgres-url", pgbin)
	}
	asPG, owner, err := serverUser()
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "visiona-peers-pg.")
	if err != nil {
		return nil, err
	}
	removeWork := func() { os.RemoveAll(work) }
	if err := os.Chmod(work, 0o755); err != nil {
		removeWork()
		return nil, err
	}
	if owner != nil {
		if err := os.Chown(work, owner.uid, owner.gid); err != nil {
			removeWork()
			return nil, err
		}
	}

	password := randomHex(16)
	pwfile := filepath.Join(work, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		removeWork()
		return nil, err
	}
	if owner != nil {
		if err := os.Chown(pwfile, owner.uid, owner.gid); err != nil {
			removeWork()
			return nil, err
		}
	}
	// pg runs one of PostgreSQL's programs as the server's user.
	pg := func(ctx context.Context, prog string, args ...string) *exec.Cmd {
		argv := append(slices.Clone(asPG), filepath.Join(pgbin, prog))
		argv = append(argv, args...)
		return exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	data := filepath.Join(work, "data")
	initdb := pg(ctx, "initdb", "-D", data, "-U", "postgres", "--pwfile="+pwfile,
		"--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8")
	if out, err := initdb.CombinedOutput(); err != nil {
		removeWork()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	os.Remove(pwfile)

	logFile := filepath.Join(work, "server.log")
	stop := func() {
		// Not ctx: the server must stop even when the run was interrupted.
		pg(context.Background(), "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
		removeWork()
	}
	opts := strings.Join(append(slices.Clone(serverOptions), flushDelayOptions(flushDelay)...), " ") + " -c unix_socket_directories='" + work + "'"
	for range 5 {
		port, err := freePort()
		if err != nil {
			removeWork()
			return nil, err
		}
		start := pg(ctx, "pg_ctl", "-D", data, "-l", logFile, "-w", "-t", "60", "start", "-o", opts+" -c port="+strconv.Itoa(port))
		if err := start.Run(); err != nil {
			tail, _ := os.ReadFile(logFile)
			fmt.Fprintf(log, "peers: PostgreSQL did not start on port %d (%v), trying another:\n%s\n", port, err, lastLines(string(tail), 5))
			continue
		}
		srv := &Server{Host: "127.0.0.1", Port: port, User: "postgres", Password: password, stop: stop}
		if err := srv.connect(ctx, "postgres"); err != nil {
			stop()
			return nil, err
		}
		return srv, nil
	}
	stop()
	return nil, errors.New("could not start PostgreSQL on a free port (see the log lines above)")
}

// Connect uses an existing server: a superuser postgres:// URL. The harness creates and drops
// visiona_peers_* databases on it and touches nothing else.
func Connect(ctx context.Context, url string) (*Server, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return nil, errors.New("parse -postgres-url: not a valid PostgreSQL URL")
	}
	srv := &Server{Host: cfg.Host, Port: int(cfg.Port), User: cfg.User, Password: cfg.Password, stop: func() {}}
	if err := srv.connect(ctx, cfg.Database); err != nil {
		return nil, err
	}
	return srv, nil
}

func (s *Server) connect(ctx context.Context, dbname string) error {
	conn, err := pgx.ConnectConfig(ctx, s.config(dbname))
	if err != nil {
		return fmt.Errorf("connect to %s:%d: %w", s.Host, s.Port, err)
	}
	s.admin = conn
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&s.Version); err != nil {
		return fmt.Errorf("read server_version: %w", err)
	}
	return nil
}

func (s *Server) config(dbname string) *pgx.ConnConfig {
	cfg, _ := pgx.ParseConfig("")
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = s.Host, uint16(s.Port), s.User, s.Password, dbname
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	return cfg
}

// Close stops a server StartLocal started and deletes its data directory.
func (s *Server) Close() {
	if s.admin != nil {
		s.admin.Close(context.Background())
	}
	s.stop()
}

// CreateDatabase makes an empty database for one run.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	_, err := s.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// DropDatabase removes a run's database, disconnecting anything left on it.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	_, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// Checkpoint flushes dirty buffers before a timed step, so no tool pays for the WAL and the
// buffers the previous one left behind.
func (s *Server) Checkpoint(ctx context.Context) error {
	_, err := s.admin.Exec(ctx, "CHECKPOINT")
	return err
}

// Tables counts the generated tables (t_NNNNNN) in a database: N after an up, 0 after a down.
func (s *Server) Tables(ctx context.Context, dbname string) (int, error) {
	conn, err := pgx.ConnectConfig(ctx, s.config(dbname))
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^t_[0-9]{6}$'`).Scan(&n)
	return n, err
}

type uidGid struct{ uid, gid int }

// serverUser returns the command prefix that runs PostgreSQL's programs as benchUser when the
// harness is root (creating the system user if needed), and that user's ids; nothing otherwise.
func serverUser() (prefix []string, owner *uidGid, err error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	u, err := user.Lookup(benchUser)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", benchUser).CombinedOutput()
		if err != nil {
			return nil, nil, fmt.Errorf("create system user %s (PostgreSQL will not run as root): %w\n%s", benchUser, err, out)
		}
		if u, err = user.Lookup(benchUser); err != nil {
			return nil, nil, err
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return []string{"runuser", "-u", benchUser, "--"}, &uidGid{uid, gid}, nil
}

// freePort asks the kernel for a free port. Another process could take it before the server binds
// it; StartLocal then tries another.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
