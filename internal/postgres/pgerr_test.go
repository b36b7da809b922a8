package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/postgres"
)

// secretish is what a PostgreSQL error may carry and MapError's message must never show.
var secretish = []string{"insert into", "users_email_lower_key", "users", "alice@example.com", "Key (", "duplicate key", "hunter2", "5432"}

func pgError(code string) *pgconn.PgError {
	return &pgconn.PgError{
		Severity: "ERROR", Code: code,
		Message:        `duplicate key value violates unique constraint "users_email_lower_key"`,
		Detail:         "Key (lower(email))=(alice@example.com) already exists.",
		InternalQuery:  "insert into users (email) values ('alice@example.com')",
		TableName:      "users",
		ConstraintName: "users_email_lower_key",
		ColumnName:     "email",
	}
}

// TestMapErrorSQLStates covers every SQLSTATE MapError classifies, including those the dbtest
// suite cannot provoke on a shared server (57P02 needs a crashed backend, 57P03 a server
// starting up, 08xxx a broken protocol), and a few it must leave alone.
func TestMapErrorSQLStates(t *testing.T) {
	cases := []struct {
		code string
		kind error
		text string
	}{
		{"23505", postgres.ErrConflict, "conflict (unique violation)"},
		{"23503", postgres.ErrForeignKey, "foreign key violation (referenced row missing or still referenced)"},
		{"23514", postgres.ErrCheck, "invalid value (check violation)"},
		{"23502", postgres.ErrCheck, "invalid value (not-null violation)"},
		{"40001", postgres.ErrRetryable, "transaction conflict, retry (serialization failure)"},
		{"40P01", postgres.ErrRetryable, "transaction conflict, retry (deadlock detected)"},
		{"57P01", postgres.ErrUnavailable, "database unavailable (server terminated the connection)"},
		{"57P02", postgres.ErrUnavailable, "database unavailable (server terminated the connection)"},
		{"57P03", postgres.ErrUnavailable, "database unavailable (server not accepting connections)"},
		{"08006", postgres.ErrUnavailable, "database unavailable (connection exception)"},
		{"08P01", postgres.ErrUnavailable, "database unavailable (connection exception)"},
		{"08000", postgres.ErrUnavailable, "database unavailable (connection exception)"},
		{"42P01", nil, "database error (SQLSTATE 42P01)"},
		{"22P02", nil, "database error (SQLSTATE 22P02)"},
		{"57014", nil, "database error (SQLSTATE 57014)"},
	}
	sentinels := []error{postgres.ErrNotFound, postgres.ErrConflict, postgres.ErrForeignKey, postgres.ErrCheck, postgres.ErrRetryable, postgres.ErrUnavailable}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			orig := pgError(c.code)
			err := postgres.MapError(fmt.Errorf("exec: %w", orig))
			if err.Error() != c.text {
				t.Errorf("text = %q, want %q", err.Error(), c.text)
			}
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == c.kind; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s, got, want)
				}
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr != orig {
				t.Error("the original *pgconn.PgError is not reachable with errors.As")
			}
			var e *postgres.Error
			if !errors.As(err, &e) || e.SQLState != c.code || e.Constraint != "users_email_lower_key" || e.Table != "users" || e.Column != "email" {
				t.Errorf("*postgres.Error fields = %+v, want the SQLSTATE, constraint, table and column", e)
			}
			assertSafe(t, err)
		})
	}
}

func assertSafe(t *testing.T, err error) {
	t.Helper()
	for _, s := range secretish {
		if strings.Contains(err.Error(), s) {
			t.Errorf("message %q contains %q", err.Error(), s)
		}
	}
}

func TestMapErrorOtherErrors(t *testing.T) {
	connectErr := &postgres.ConnectError{Target: "u@h:5432/d?sslmode=disable", Reason: "password authentication failed for user \"u\"", Hint: "check it", Err: errors.New("hunter2")}
	cases := []struct {
		name string
		err  error
		kind error // nil: no sentinel
		is   error // must also hold
		text string
	}{
		{"no rows", fmt.Errorf("scan: %w", pgx.ErrNoRows), postgres.ErrNotFound, pgx.ErrNoRows, "not found"},
		{"our connect error", connectErr, postgres.ErrUnavailable, postgres.ErrUnavailable, "database unavailable (cannot connect)"},
		{"eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), postgres.ErrUnavailable, io.ErrUnexpectedEOF, "database unavailable (connection lost)"},
		{"net", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, postgres.ErrUnavailable, nil, "database unavailable (connection lost)"},
		{"conn closed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), postgres.ErrUnavailable, pgconn.ErrConnClosed, "database unavailable (connection lost)"},
		{"closed pool", errors.New("closed pool"), postgres.ErrUnavailable, nil, "database unavailable (connection lost)"},
		{"cancelled", fmt.Errorf("timeout: %w", context.Canceled), nil, context.Canceled, "database error (interrupted: context canceled)"},
		{"cancelled connect", fmt.Errorf("%w while connecting", postgres.ErrInterrupted), nil, postgres.ErrInterrupted, "database error (interrupted: context canceled)"},
		{"deadline", fmt.Errorf("timeout: %w", context.DeadlineExceeded), nil, context.DeadlineExceeded, "database error (interrupted: context deadline exceeded)"},
		{"commit rolled back", pgx.ErrTxCommitRollback, nil, pgx.ErrTxCommitRollback, "database error (commit resulted in rollback)"},
		{"anything else", errors.New("pgx: something about hunter2"), nil, nil, "database error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := postgres.MapError(c.err)
			if err.Error() != c.text {
				t.Errorf("text = %q, want %q", err.Error(), c.text)
			}
			if c.kind != nil && !errors.Is(err, c.kind) {
				t.Errorf("errors.Is(err, %v) = false", c.kind)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("errors.Is(err, %v) = false: the original is lost", c.is)
			}
			assertSafe(t, err)
		})
	}
	if postgres.MapError(nil) != nil {
		t.Error("MapError(nil) != nil")
	}
	once := postgres.MapError(pgError("23505"))
	if twice := postgres.MapError(fmt.Errorf("again: %w", once)); twice.Error() != "again: conflict (unique violation)" {
		t.Errorf("mapping a mapped error changed it: %q", twice)
	}
}
