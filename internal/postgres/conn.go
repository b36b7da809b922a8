// Package postgres is the service's runtime access to PostgreSQL: connection settings built from
// the configuration alone, one connection or a pool, transactions (WithTx), and the one mapping of
// driver errors to sentinels (MapError) that stores and health checks branch on. It knows nothing
// of migrations.
package postgres

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
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
//
// The configuration is the only source: pgx would also read PG* variables, ~/.pgpass and the
// client certificates under ~/.postgresql. Every setting those could change is therefore given
// explicitly, so the string always wins, and pgx still builds the sslmode's attempts itself:
// prefer tries TLS and then plaintext, allow plaintext and then TLS, as libpq does.
func ConnConfig(d config.DB) (*pgx.ConnConfig, error) {
	if err := d.Require(); err != nil {
		return nil, err
	}
	if err := checkTLSFiles(d); err != nil {
		return nil, err
	}
	kv := []string{
		"host=" + quoteValue(d.Host),
		"port=" + strconv.Itoa(d.Port),
		"user=" + quoteValue(d.User),
		"dbname=" + quoteValue(d.Name),
		"sslmode=" + quoteValue(d.SSLMode),
		"sslrootcert=" + quoteValue(d.SSLRootCert),
		"sslcert=" + quoteValue(d.SSLCert),
		"sslkey=" + quoteValue(d.SSLKey),
		"sslpassword=''",
		"sslcertmode='allow'",
		"sslsni='1'",
		"sslnegotiation='postgres'",
		"target_session_attrs='any'",
		"channel_binding='prefer'",
		"min_protocol_version='3.0'",
		"max_protocol_version='3.0'",
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
	// What the string cannot pin down: a password from ~/.pgpass or PGPASSWORD when ours is
	// empty, server options (PGOPTIONS, PGTZ) and a session check from a service file.
	cfg.Password = d.Password
	cfg.RuntimeParams = map[string]string{"application_name": cmp.Or(d.AppName, DefaultAppName)}
	cfg.ValidateConnect = nil
	return cfg, nil
}

// checkTLSFiles names the variable whose file cannot be used, before pgx says only that the
// settings are invalid.
func checkTLSFiles(d config.DB) error {
	for _, f := range []struct{ name, path string }{
		{"VISIONA_DB_SSLROOTCERT", d.SSLRootCert},
		{"VISIONA_DB_SSLCERT", d.SSLCert},
		{"VISIONA_DB_SSLKEY", d.SSLKey},
	} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return &config.Error{Var: f.name, Reason: fmt.Sprintf("cannot read %s: %v", f.path, unwrapPathError(err))}
		}
		if block, _ := pem.Decode(b); block == nil {
			return &config.Error{Var: f.name, Reason: fmt.Sprintf("%s holds no PEM block; give the PEM file", f.path)}
		}
	}
	return nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func quoteValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// ErrInterrupted: the caller cancelled the context while connecting (Connect, NewPool). A
// migration run that stops between migrations reports the same sentinel.
var ErrInterrupted = errors.New("interrupted")

// ConnectError says why the database could not be used, for the safe target only. It unwraps to
// ErrUnavailable, the one sentinel of an outage, and to the driver's error.
type ConnectError struct {
	Target string // SafeTarget: never a password
	Reason string // one line, already stripped of connection details
	Hint   string
	Err    error // the driver's error, for errors.As; its text is never shown
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to %s: %s; %s", e.Target, e.Reason, e.Hint)
}

func (e *ConnectError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

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
	var (
		pgErr       *pgconn.PgError
		netErr      net.Error
		dnsErr      *net.DNSError
		unknownCA   x509.UnknownAuthorityError
		wrongHost   x509.HostnameError
		invalidCert x509.CertificateInvalidError
	)
	// A PostgreSQL error comes first: with sslmode prefer or allow, the server's answer to the
	// second attempt (a wrong password, say) is the real cause, not the first attempt's TLS.
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w while connecting: %w", ErrInterrupted, context.Canceled)
	case errors.As(err, &pgErr):
		ce.Reason = fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
		switch {
		case pgErr.Code == "28P01":
			ce.Reason = fmt.Sprintf("password authentication failed for user %q (SQLSTATE %s)", d.User, pgErr.Code)
			ce.Hint = "check VISIONA_DB_USER and VISIONA_DB_PASSWORD"
		case pgErr.Code == "28000" && strings.Contains(pgErr.Message, "no encryption"):
			ce.Reason = fmt.Sprintf("the server accepts user %q only over TLS (SQLSTATE 28000)", d.User)
			ce.Hint = "set VISIONA_DB_SSLMODE to prefer, require, verify-ca or verify-full"
		case pgErr.Code == "28000":
			ce.Hint = "the server's pg_hba.conf does not let this user in from here; check VISIONA_DB_USER, VISIONA_DB_SSLMODE and the client certificate (VISIONA_DB_SSLCERT, VISIONA_DB_SSLKEY)"
		case pgErr.Code == "3D000":
			ce.Reason = fmt.Sprintf("database %q does not exist (SQLSTATE 3D000)", d.Name)
			ce.Hint = fmt.Sprintf("create it (createdb %s) or fix VISIONA_DB_NAME", d.Name)
		case pgErr.Code == "53300":
			ce.Hint = "the server has no free connection slots; retry later"
		default:
			ce.Hint = "check the server's log"
		}
	case errors.As(err, &dnsErr):
		ce.Reason = fmt.Sprintf("host %q not found", d.Host)
		ce.Hint = "check VISIONA_DB_HOST"
	case errors.As(err, &unknownCA):
		ce.Reason = "the server's TLS certificate is not trusted: signed by an authority VISIONA_DB_SSLROOTCERT does not hold"
		if d.SSLRootCert == "" {
			ce.Reason = "the server's TLS certificate is not trusted: no VISIONA_DB_SSLROOTCERT is set and the system's authorities did not sign it"
		}
		ce.Hint = "set VISIONA_DB_SSLROOTCERT to the CA certificate that signed the server's, or VISIONA_DB_SSLMODE=require to encrypt without verifying"
	case errors.As(err, &wrongHost):
		ce.Reason = fmt.Sprintf("the server's TLS certificate is not valid for host %q", d.Host)
		ce.Hint = "set VISIONA_DB_HOST to a name the certificate holds, or VISIONA_DB_SSLMODE=verify-ca to check only who signed it"
	case errors.As(err, &invalidCert):
		ce.Reason = "the server's TLS certificate is invalid: " + invalidCert.Error()
		ce.Hint = "renew the server's certificate, or check this machine's clock"
	case strings.Contains(err.Error(), "server refused TLS connection"):
		ce.Reason = fmt.Sprintf("the server does not accept TLS, which VISIONA_DB_SSLMODE=%s requires", d.SSLMode)
		ce.Hint = "turn ssl on in the server's configuration, or set VISIONA_DB_SSLMODE=prefer to fall back to an unencrypted connection"
	case errors.As(err, &netErr) && netErr.Timeout(), pgconn.Timeout(err):
		ce.Reason = fmt.Sprintf("no answer within %s", connectTimeout)
		ce.Hint = "check VISIONA_DB_HOST, VISIONA_DB_PORT and any firewall in between"
	case strings.Contains(err.Error(), "connection refused"):
		ce.Reason = "connection refused"
		ce.Hint = "is PostgreSQL running there? check VISIONA_DB_HOST and VISIONA_DB_PORT"
	case strings.Contains(err.Error(), "no such file or directory"):
		ce.Reason = "no PostgreSQL socket in that directory"
		ce.Hint = "is PostgreSQL running? check VISIONA_DB_HOST and VISIONA_DB_PORT"
	case strings.Contains(err.Error(), "tls: "):
		ce.Reason = "TLS negotiation failed (" + tlsDetail(err) + ")"
		ce.Hint = "check VISIONA_DB_SSLMODE, VISIONA_DB_SSLROOTCERT, VISIONA_DB_SSLCERT/KEY and the server's ssl settings"
	default:
		ce.Reason = "the server could not be reached"
		ce.Hint = "check VISIONA_DB_HOST, VISIONA_DB_PORT and VISIONA_DB_SSLMODE"
	}
	return ce
}

// tlsDetail is the part of a TLS failure from "tls: " on ("tls: certificate required"): the
// handshake's own words, which hold nothing secret, without pgx's connection prefix.
func tlsDetail(err error) string {
	msg := err.Error()
	i := strings.LastIndex(msg, "tls: ")
	return strings.TrimSpace(strings.SplitN(msg[i:], "\n", 2)[0])
}
