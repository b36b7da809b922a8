package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the wait strategy
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	superuser = "postgres"
	// adminDB is the database every PostgreSQL server has; test databases are created next to it.
	adminDB = "postgres"
	// pgdata is PGDATA in both the official and the local image.
	pgdata = "/var/lib/postgresql/data"
)

// noTLS is the connection parameters of a container: neither image has TLS configured.
func noTLS() url.Values { return url.Values{"sslmode": {"disable"}} }

// Postgres is a running PostgreSQL server: a container started by StartPostgres, or an
// existing server (VISIONA_TEST_POSTGRES_URL). It prints without its password.
type Postgres struct {
	// AdminURL is a postgres:// URL for the superuser on the database "postgres". It contains
	// the password: never log it; log SafeTarget instead.
	AdminURL string
	Image    string // "" for an existing server
	Version  string // server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)"
	Host     string
	Port     int
	User     string
	Password string
	Started  time.Duration // from the start call until the server answered a query

	query url.Values                    // connection parameters kept in URL (e.g. sslmode)
	ctr   *tcpostgres.PostgresContainer // nil for an existing server
}

// URL returns a postgres:// URL, password escaped, for database dbname on this server.
func (p *Postgres) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(p.User, p.Password),
		Host:     net.JoinHostPort(p.Host, strconv.Itoa(p.Port)),
		Path:     "/" + dbname,
		RawQuery: p.query.Encode(),
	}
	return u.String()
}

// SafeTarget renders user@host:port/dbname, with no password: what logs and errors show.
func (p *Postgres) SafeTarget(dbname string) string {
	return fmt.Sprintf("%s@%s/%s", p.User, net.JoinHostPort(p.Host, strconv.Itoa(p.Port)), dbname)
}

// String keeps the password out of %v and %+v.
func (p *Postgres) String() string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("PostgreSQL %s at %s (image %q)", p.Version, p.SafeTarget(adminDB), p.Image)
}

// GoString keeps the password out of %#v.
func (p *Postgres) GoString() string { return p.String() }

// Terminate stops and removes the container; a second call, or a server that was not started
// here, is a no-op. Not safe for concurrent use.
func (p *Postgres) Terminate(ctx context.Context) error {
	if p == nil || p.ctr == nil {
		return nil
	}
	ctr := p.ctr
	p.ctr = nil
	if err := ctr.Terminate(ctx); err != nil {
		return fmt.Errorf("terminate postgres container: %w", err)
	}
	return nil
}

// StartPostgres starts image with testcontainers' postgres module, a random superuser
// password and PGDATA on tmpfs (initdb's files never touch the disk, so it starts faster, and
// nothing needs to outlive the container). It returns once the server answers a query. On
// error nothing is left running.
func StartPostgres(ctx context.Context, image string, opts ...testcontainers.ContainerCustomizer) (*Postgres, error) {
	start := time.Now()
	present, err := checkImage(ctx, image)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	password, err := randomPassword()
	if err != nil {
		return nil, err
	}
	ctr, err := tcpostgres.Run(ctx, image, append([]testcontainers.ContainerCustomizer{
		tcpostgres.WithUsername(superuser),
		tcpostgres.WithPassword(password),
		tcpostgres.WithDatabase(adminDB),
		// The module sets no wait strategy. A query over the published port is the one sign
		// of readiness both images give: the official image logs "ready to accept
		// connections" twice (a temporary server, then the real one), the local image once
		// when it starts from its build's cluster; neither temporary server listens on TCP.
		testcontainers.WithWaitStrategy(wait.ForSQL("5432/tcp", "pgx", func(host string, port network.Port) string {
			return (&Postgres{User: superuser, Password: password, Host: host, Port: int(port.Num()), query: noTLS()}).URL(adminDB)
		}).WithPollInterval(50 * time.Millisecond)),
		testcontainers.WithTmpfs(map[string]string{pgdata: "rw"}),
	}, append(runLabel(), opts...)...)...)
	if err != nil {
		return nil, startError("postgres", image, !present, ctr, err)
	}
	p := &Postgres{
		Image:    image,
		User:     superuser,
		Password: password,
		query:    noTLS(),
		ctr:      ctr,
	}
	if p.Host, err = ctr.Host(ctx); err != nil {
		return nil, startError("postgres", image, false, ctr, fmt.Errorf("host: %w", err))
	}
	port, err := ctr.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return nil, startError("postgres", image, false, ctr, fmt.Errorf("mapped port: %w", err))
	}
	p.Port = int(port.Num())
	p.AdminURL = p.URL(adminDB)
	if p.Version, err = serverVersion(ctx, p.AdminURL); err != nil {
		return nil, startError("postgres", image, false, ctr, fmt.Errorf("query %s: %w", p.SafeTarget(adminDB), err))
	}
	p.Started = time.Since(start)
	return p, nil
}

// ConnectPostgres describes an existing server from a superuser URL (what
// VISIONA_TEST_POSTGRES_URL or VISIONA_TESTDB_POSTGRES_URL holds) and checks that it answers.
// Terminate does nothing to it. Its errors do not name the variable: the caller knows which.
func ConnectPostgres(ctx context.Context, rawURL string) (*Postgres, error) {
	start := time.Now()
	// Parse errors can quote the URL, password included: report them without it.
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, errors.New("not a postgres://user:password@host:port/db URL")
	}
	p := &Postgres{Host: u.Hostname(), Port: 5432, query: u.Query()}
	if ps := u.Port(); ps != "" {
		if p.Port, err = strconv.Atoi(ps); err != nil {
			return nil, fmt.Errorf("bad port %q", ps)
		}
	}
	if u.User != nil {
		p.User = u.User.Username()
		p.Password, _ = u.User.Password()
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = adminDB
	}
	p.AdminURL = p.URL(db)
	if p.Version, err = serverVersion(ctx, p.AdminURL); err != nil {
		return nil, fmt.Errorf("%s: %w", p.SafeTarget(db), err)
	}
	p.Started = time.Since(start)
	return p, nil
}

func serverVersion(ctx context.Context, connURL string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	err = conn.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&v)
	return v, err
}

// randomPassword makes each container's password unique, so a URL leaked from one run opens
// nothing else; hex needs no escaping anywhere it may be pasted.
func randomPassword() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random password: %w", err)
	}
	return hex.EncodeToString(b), nil
}
