package db

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/config"
)

// DefaultAppName is the application_name of connections whose configuration names none: a
// server's. The migration tools set their own (see internal/cli), so whoever reads
// pg_stat_activity, or our lock-holder report, can tell them apart.
const DefaultAppName = "visiona-backend"

// connectTimeout bounds how long an unreachable host can stall a command.
const connectTimeout = 10 * time.Second

// ConnConfig builds pgx's configuration from ours. It goes through a keyword/value string with
// every value quoted, so no character of a password can change its meaning, and pgx's own parse
// error (which could echo the string) is never shown.
func ConnConfig(d config.DB) (*pgx.ConnConfig, error) {
	if err := d.Require(); err != nil {
		return nil, err
	}
	kv := []string{
		"host=" + quoteValue(d.Host),
		"port=" + strconv.Itoa(d.Port),
		"user=" + quoteValue(d.User),
		"dbname=" + quoteValue(d.Name),
		"sslmode=" + quoteValue(d.SSLMode),
		"application_name=" + quoteValue(cmp.Or(d.AppName, DefaultAppName)),
		"connect_timeout=" + strconv.Itoa(int(connectTimeout/time.Second)),
	}
	if d.Password != "" {
		kv = append(kv, "password="+quoteValue(d.Password))
	}
	cfg, err := pgx.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		return nil, &ConnectError{Target: d.SafeTarget(), Reason: "invalid connection settings", Hint: "check the VISIONA_DB_* variables", Err: errors.New("pgx rejected the connection settings")}
	}
	// pgx also reads PG* variables and ~/.pgpass; config is the only source here, so undo what
	// they could have set: the password, extra server options, target session attributes.
	cfg.Fallbacks = nil
	cfg.Password = d.Password
	cfg.RuntimeParams = map[string]string{"application_name": cmp.Or(d.AppName, DefaultAppName)}
	cfg.ValidateConnect = nil
	return cfg, nil
}

func quoteValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Connect opens one connection and classifies failures into a *ConnectError that says what to fix.
func Connect(ctx context.Context, d config.DB) (*pgx.Conn, error) {
	cfg, err := ConnConfig(d)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classifyConnectError(d, err)
	}
	return conn, nil
}

func classifyConnectError(d config.DB, err error) error {
	ce := &ConnectError{Target: d.SafeTarget(), Err: err}
	var pgErr *pgconn.PgError
	var netErr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w while connecting: %w", ErrInterrupted, context.Canceled)
	case errors.As(err, &pgErr):
		ce.Reason = fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
		switch pgErr.Code {
		case "28P01", "28000":
			ce.Reason = fmt.Sprintf("password authentication failed for user %q (SQLSTATE %s)", d.User, pgErr.Code)
			ce.Hint = "check VISIONA_DB_USER and VISIONA_DB_PASSWORD"
		case "3D000":
			ce.Reason = fmt.Sprintf("database %q does not exist (SQLSTATE 3D000)", d.Name)
			ce.Hint = fmt.Sprintf("create it (createdb %s) or fix VISIONA_DB_NAME", d.Name)
		case "53300":
			ce.Hint = "the server has no free connection slots; retry later"
		default:
			ce.Hint = "check the server's log"
		}
	case errors.As(err, &dnsErr):
		ce.Reason = fmt.Sprintf("host %q not found", d.Host)
		ce.Hint = "check VISIONA_DB_HOST"
	case errors.As(err, &netErr) && netErr.Timeout(), pgconn.Timeout(err):
		ce.Reason = fmt.Sprintf("no answer within %s", connectTimeout)
		ce.Hint = "check VISIONA_DB_HOST, VISIONA_DB_PORT and any firewall in between"
	case strings.Contains(err.Error(), "connection refused"):
		ce.Reason = "connection refused"
		ce.Hint = "is PostgreSQL running there? check VISIONA_DB_HOST and VISIONA_DB_PORT"
	case strings.Contains(err.Error(), "no such file or directory"):
		ce.Reason = "no PostgreSQL socket in that directory"
		ce.Hint = "is PostgreSQL running? check VISIONA_DB_HOST and VISIONA_DB_PORT"
	case strings.Contains(err.Error(), "server refused TLS connection") || strings.Contains(err.Error(), "tls: "):
		ce.Reason = "TLS negotiation failed"
		ce.Hint = "check VISIONA_DB_SSLMODE against what the server offers"
	default:
		ce.Reason = "the server could not be reached"
		ce.Hint = "check VISIONA_DB_HOST, VISIONA_DB_PORT and VISIONA_DB_SSLMODE"
	}
	return ce
}
