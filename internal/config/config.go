// Package config is the only reader of the environment: every VISIONA_* variable is parsed and
// validated here, once, and everything below takes plain values.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lookup reads one environment variable; os.LookupEnv in production, a map in tests.
type Lookup func(key string) (string, bool)

// Error reports one invalid variable by name. It never holds the variable's value when that value
// could be a secret.
type Error struct {
	Var    string
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Var, e.Reason) }

// ErrDatabaseNotConfigured is returned by DB.Require when HOST, USER or NAME is missing.
var ErrDatabaseNotConfigured = errors.New("database not configured: set VISIONA_DB_HOST, VISIONA_DB_USER and VISIONA_DB_NAME (and VISIONA_DB_PASSWORD if the server asks for one)")

// SSL modes libpq and pgx understand; anything else is a typo we would rather catch at load.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// Config is everything the tooling reads from the environment.
type Config struct {
	DB       DB
	Redis    Redis
	TestDB   TestDB
	LogLevel string // debug, info, warn, error
	// MigrationsDir, when set, is a folder of migration files on disk that every command uses
	// instead of the embedded set (VISIONA_MIGRATIONS_DIR; the -path flag overrides it).
	MigrationsDir string
}

// TestDB points `mage testDB` at existing servers instead of containers; it then works inside
// throwaway databases (and a key prefix) it creates and removes, never touching existing data.
// The container images are read by internal/testenv (VISIONA_TESTDB_*_IMAGE).
type TestDB struct {
	PostgresURL string // superuser postgres:// URL
	RedisURL    string // redis:// URL
}

// DB describes one PostgreSQL database.
type DB struct {
	Host     string
	Port     int
	User     string
	Password string
	Name     string
	SSLMode  string
	// TLS files, as libpq's sslrootcert, sslcert and sslkey: the CA that signs the server's
	// certificate (verify-ca, verify-full; with require it verifies too), and a client
	// certificate and key for servers that ask for one.
	SSLRootCert string
	SSLCert     string
	SSLKey      string

	AutoMigrate bool          // a server migrates up at start
	LockTimeout time.Duration // how long to wait for another migrator's lock
	// PostgreSQL's lock_timeout and statement_timeout inside each migration (0: none), so a
	// migration stuck behind a long transaction fails fast instead of blocking every query on
	// the table.
	MigrationLockTimeout      time.Duration
	MigrationStatementTimeout time.Duration
	// MigrationSyncCommit makes every migration's COMMIT wait for the WAL flush, as psql's would.
	// By default only the run's last wait happens (see internal/db's flushWAL): a server crash in
	// the middle of a run may then lose its last few migrations whole, never half of one.
	MigrationSyncCommit bool
	// A migration that fails on lock_timeout (another transaction holds a lock it needs) is
	// retried whole, up to MigrationRetries times, after MigrationRetryDelay doubled at each
	// retry, with jitter, so a deploy behind a long report query waits politely.
	MigrationRetries    int
	MigrationRetryDelay time.Duration
	MaxConns            int32 // pool size for servers; migrations use one connection
	MinConns            int32
	AppName             string // application_name, shown to whoever looks at pg_stat_activity
	// AllowRemoteReset lets dbReset drop objects on a non-loopback host.
	AllowRemoteReset bool
}

// Redis describes the session store.
type Redis struct {
	Addr     string
	Password string
	DB       int
}

// Defaults for unset variables.
const (
	DefaultPort        = 5432
	DefaultSSLMode     = "prefer"
	DefaultLockTimeout = 30 * time.Second
	// DefaultMigrationLockTimeout is short: while a migration waits for a table lock, every new
	// query on that table queues behind it.
	DefaultMigrationLockTimeout      = 5 * time.Second
	DefaultMigrationStatementTimeout = 15 * time.Minute
	DefaultMigrationRetries          = 3
	DefaultMigrationRetryDelay       = 2 * time.Second
)

// Load parses and validates every variable. A malformed value fails here, naming the variable;
// a missing database is not an error until a command needs one (see DB.Require).
func Load(lookup Lookup) (Config, error) {
	p := parser{lookup: lookup}
	cfg := Config{
		DB: DB{
			Host:                      p.str("VISIONA_DB_HOST", ""),
			Port:                      p.port("VISIONA_DB_PORT", DefaultPort),
			User:                      p.str("VISIONA_DB_USER", ""),
			Password:                  p.str("VISIONA_DB_PASSWORD", ""),
			Name:                      p.str("VISIONA_DB_NAME", ""),
			SSLMode:                   p.oneOf("VISIONA_DB_SSLMODE", DefaultSSLMode, sslModes),
			SSLRootCert:               p.str("VISIONA_DB_SSLROOTCERT", ""),
			SSLCert:                   p.str("VISIONA_DB_SSLCERT", ""),
			SSLKey:                    p.str("VISIONA_DB_SSLKEY", ""),
			AutoMigrate:               p.boolean("VISIONA_DB_AUTO_MIGRATE", false),
			LockTimeout:               p.duration("VISIONA_DB_LOCK_TIMEOUT", DefaultLockTimeout),
			MigrationLockTimeout:      p.durationOrZero("VISIONA_DB_MIGRATION_LOCK_TIMEOUT", DefaultMigrationLockTimeout),
			MigrationStatementTimeout: p.durationOrZero("VISIONA_DB_MIGRATION_STATEMENT_TIMEOUT", DefaultMigrationStatementTimeout),
			MigrationSyncCommit:       p.boolean("VISIONA_DB_MIGRATION_SYNC_COMMIT", false),
			MigrationRetries:          p.intRange("VISIONA_DB_MIGRATION_RETRIES", DefaultMigrationRetries, 0, 100),
			MigrationRetryDelay:       p.duration("VISIONA_DB_MIGRATION_RETRY_DELAY", DefaultMigrationRetryDelay),
			MaxConns:                  int32(p.intRange("VISIONA_DB_MAX_CONNS", 10, 1, 1000)),
			MinConns:                  int32(p.intRange("VISIONA_DB_MIN_CONNS", 0, 0, 1000)),
			AppName:                   p.str("VISIONA_DB_APP_NAME", ""),
			AllowRemoteReset:          p.boolean("VISIONA_DB_ALLOW_REMOTE_RESET", false),
		},
		Redis: Redis{
			Addr:     p.str("VISIONA_REDIS_ADDR", ""),
			Password: p.str("VISIONA_REDIS_PASSWORD", ""),
			DB:       p.intRange("VISIONA_REDIS_DB", 0, 0, 15),
		},
		TestDB: TestDB{
			PostgresURL: p.str("VISIONA_TESTDB_POSTGRES_URL", ""),
			RedisURL:    p.str("VISIONA_TESTDB_REDIS_URL", ""),
		},
		LogLevel:      p.oneOf("VISIONA_LOG_LEVEL", "info", []string{"debug", "info", "warn", "error"}),
		MigrationsDir: p.str("VISIONA_MIGRATIONS_DIR", ""),
	}
	if p.err == nil && cfg.DB.MinConns > cfg.DB.MaxConns {
		p.err = &Error{Var: "VISIONA_DB_MIN_CONNS", Reason: fmt.Sprintf("%d is more than VISIONA_DB_MAX_CONNS (%d)", cfg.DB.MinConns, cfg.DB.MaxConns)}
	}
	if p.err == nil && (cfg.DB.SSLCert == "") != (cfg.DB.SSLKey == "") {
		p.err = &Error{Var: "VISIONA_DB_SSLCERT", Reason: "a client certificate needs both VISIONA_DB_SSLCERT and VISIONA_DB_SSLKEY; set both or neither"}
	}
	if p.err == nil && strings.ContainsAny(cfg.DB.Host, " '\\") {
		p.err = &Error{Var: "VISIONA_DB_HOST", Reason: fmt.Sprintf("%q is not a host name, address or socket directory", cfg.DB.Host)}
	}
	return cfg, p.err
}

// Lint is what `migrate lint` reads from the environment. It is loaded on its own (LoadLint), so
// the lint runs whatever the database variables say.
type Lint struct {
	// ServerMajor and ServerMinor are the PostgreSQL the migrations target
	// (VISIONA_DB_SERVER_VERSION, "14" or "14.3"): 0 when unset; ServerMinor -1 when only the
	// major is given.
	ServerMajor int
	ServerMinor int
	// GitHubActions: running as a GitHub Actions step (GITHUB_ACTIONS=true), where annotations
	// are the default output.
	GitHubActions bool
}

// LoadLint parses the lint's variables; a malformed VISIONA_DB_SERVER_VERSION fails naming it.
func LoadLint(lookup Lookup) (Lint, error) {
	p := parser{lookup: lookup}
	l := Lint{ServerMinor: -1}
	if v := p.str("VISIONA_DB_SERVER_VERSION", ""); v != "" {
		majorText, minorText, hasMinor := strings.Cut(strings.TrimSpace(v), ".")
		major, err := strconv.Atoi(majorText)
		minor := -1
		if err == nil && hasMinor {
			minor, err = strconv.Atoi(minorText)
		}
		if err != nil || major < 10 || major > 99 || (hasMinor && minor < 0) {
			p.fail("VISIONA_DB_SERVER_VERSION", fmt.Sprintf("%q is not a PostgreSQL version such as 14 or 14.3 (10 or later)", v))
		} else {
			l.ServerMajor, l.ServerMinor = major, minor
		}
	}
	// GitHub sets GITHUB_ACTIONS=true on its runners; anything else means not there.
	l.GitHubActions = p.str("GITHUB_ACTIONS", "") == "true"
	return l, p.err
}

// Configured reports whether enough is set to connect.
func (d DB) Configured() bool { return d.Host != "" && d.User != "" && d.Name != "" }

// Require returns ErrDatabaseNotConfigured, naming what is missing, unless Configured.
func (d DB) Require() error {
	if d.Configured() {
		return nil
	}
	var missing []string
	for _, v := range []struct{ name, val string }{{"VISIONA_DB_HOST", d.Host}, {"VISIONA_DB_USER", d.User}, {"VISIONA_DB_NAME", d.Name}} {
		if v.val == "" {
			missing = append(missing, v.name)
		}
	}
	return fmt.Errorf("%w (missing: %s)", ErrDatabaseNotConfigured, strings.Join(missing, ", "))
}

// SafeTarget renders user@host:port/db?sslmode=... without the password. It is the only form of
// the connection that may appear in a log line or an error.
func (d DB) SafeTarget() string {
	host := d.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "/") {
		host = "[" + host + "]" // IPv6 literal
	}
	return fmt.Sprintf("%s@%s:%d/%s?sslmode=%s", d.User, host, d.Port, d.Name, d.SSLMode)
}

// IsLocal reports whether the host is loopback or a unix socket directory: the only hosts a
// destructive local reset may touch without an explicit override.
func (d DB) IsLocal() bool {
	if strings.HasPrefix(d.Host, "/") || d.Host == "localhost" {
		return true
	}
	ip := net.ParseIP(d.Host)
	return ip != nil && ip.IsLoopback()
}

// WithName returns a copy pointing at another database on the same server.
func (d DB) WithName(name string) DB {
	d.Name = name
	return d
}

// parser accumulates the first error so Load reads as a list of fields.
type parser struct {
	lookup Lookup
	err    error
}

func (p *parser) fail(name, reason string) {
	if p.err == nil {
		p.err = &Error{Var: name, Reason: reason}
	}
}

func (p *parser) str(name, def string) string {
	v, ok := p.lookup(name)
	if !ok || v == "" {
		return def
	}
	return v
}

func (p *parser) intRange(name string, def, lo, hi int) int {
	v, ok := p.lookup(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		p.fail(name, fmt.Sprintf("%q is not a whole number from %d to %d", v, lo, hi))
		return def
	}
	return n
}

func (p *parser) port(name string, def int) int { return p.intRange(name, def, 1, 65535) }

func (p *parser) boolean(name string, def bool) bool {
	v, ok := p.lookup(name)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.fail(name, fmt.Sprintf("%q is not true or false", v))
		return def
	}
	return b
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v, ok := p.lookup(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		p.fail(name, fmt.Sprintf("%q is not a positive duration such as 30s or 2m", v))
		return def
	}
	return d
}

// durationOrZero is duration where "0" means "no limit".
func (p *parser) durationOrZero(name string, def time.Duration) time.Duration {
	if v, ok := p.lookup(name); ok && strings.TrimSpace(v) == "0" {
		return 0
	}
	return p.duration(name, def)
}

func (p *parser) oneOf(name, def string, allowed []string) string {
	v, ok := p.lookup(name)
	if !ok || v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")))
	return def
}

// DBFromURL reads a postgres:// URL, for tests and for pointing TestDB at an existing server. Its
// errors never repeat the URL, which may hold a password.
func DBFromURL(raw string) (DB, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return DB{}, errors.New("not a postgres://user:password@host:port/dbname URL")
	}
	d := DB{Host: u.Hostname(), Port: DefaultPort, User: u.User.Username(), Name: strings.TrimPrefix(u.Path, "/"),
		SSLMode: DefaultSSLMode, LockTimeout: DefaultLockTimeout, MaxConns: 10,
		MigrationLockTimeout: DefaultMigrationLockTimeout, MigrationStatementTimeout: DefaultMigrationStatementTimeout}
	d.Password, _ = u.User.Password()
	if p := u.Port(); p != "" {
		if d.Port, err = strconv.Atoi(p); err != nil || d.Port < 1 || d.Port > 65535 {
			return DB{}, fmt.Errorf("URL port %q is not a port number", p)
		}
	}
	if m := u.Query().Get("sslmode"); m != "" {
		if !slices.Contains(sslModes, m) {
			return DB{}, fmt.Errorf("URL sslmode %q is not one of %s", m, strings.Join(sslModes, ", "))
		}
		d.SSLMode = m
	}
	return d, nil
}
