package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors of data access, returned (wrapped in *Error) by MapError and by every store
// built on it, whatever the backend: callers branch with errors.Is and never see a SQLSTATE.
var (
	// ErrNotFound: no row matched (pgx.ErrNoRows), or the row is soft-deleted.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique rule would be broken (23505), e.g. a second live device with a serial.
	ErrConflict = errors.New("conflict")
	// ErrForeignKey: a referenced row is missing, or a row is still referenced (23503).
	ErrForeignKey = errors.New("foreign key violation")
	// ErrCheck: a value breaks a rule of the schema: a CHECK constraint (23514) or a NOT NULL
	// column left null (23502). Both are invalid input from the caller's point of view: retrying
	// the same values fails the same way.
	ErrCheck = errors.New("invalid value")
	// ErrRetryable: the transaction lost a race with another one (40001 serialization failure,
	// 40P01 deadlock) and was rolled back; running the whole transaction again may succeed.
	ErrRetryable = errors.New("transaction conflict, retry")
	// ErrUnavailable: the database cannot be used right now: connecting failed (whatever the
	// reason: refused, timeout, authentication, too many connections), the connection broke
	// (08xxx, EOF), the server is going away or not accepting connections (57P01, 57P02, 57P03),
	// or the pool is closed.
	ErrUnavailable = errors.New("database unavailable")
)

// Error is what MapError returns: a driver error reduced to a sentinel (Kind) and a message
// that is safe to log or return to a client. The details a store needs to word its own message
// (which constraint, which table) are fields, never part of Error().
type Error struct {
	Kind       error  // one of the sentinels above; nil for an error MapError does not classify
	Reason     string // generic, e.g. "unique violation"; never SQL, values or connection details
	SQLState   string // "" when the error did not come from the server
	Constraint string // e.g. "users_email_lower_key"; for stores to tell which rule was broken
	Table      string
	Column     string
	Err        error // the original error, for errors.As; its text is never shown
}

func (e *Error) Error() string {
	kind := "database error"
	if e.Kind != nil {
		kind = e.Kind.Error()
	}
	if e.Reason == "" {
		return kind
	}
	return kind + " (" + e.Reason + ")"
}

// Unwrap exposes the sentinel and the original error, so both errors.Is(err, ErrConflict) and
// errors.As(err, &pgErr) work.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// SQLSTATEs MapError classifies. Listed here rather than taken from jackc/pgerrcode, which this
// module does not depend on directly.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeCheckViolation      = "23514"
	codeNotNullViolation    = "23502"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeAdminShutdown       = "57P01"
	codeCrashShutdown       = "57P02"
	codeCannotConnectNow    = "57P03"
)

// closedPoolText is puddle.ErrClosedPool's text: pgxpool returns that error unwrapped when the
// pool is closed but does not re-export it, and importing puddle only for it would make it a
// direct dependency. A dbtest pins the text against the real pool.
const closedPoolText = "closed pool"

// MapError is the one translation of pgx and PostgreSQL errors into the sentinels above. nil
// stays nil; an error already mapped is returned as is; a context cancellation or deadline keeps
// its context error (errors.Is(err, context.Canceled) holds) with a safe message and no Kind,
// except a deadline while connecting (connect_timeout), which is ErrUnavailable; anything else
// becomes an *Error without a Kind whose message is only its SQLSTATE. The original error is
// always reachable with errors.As.
func MapError(err error) error {
	if err == nil {
		return nil
	}
	var mapped *Error
	if errors.As(err, &mapped) {
		return err
	}
	e := &Error{Err: err}
	var pgErr *pgconn.PgError
	var pgConnectErr *pgconn.ConnectError
	var ourConnectErr *ConnectError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		e.Kind = ErrNotFound
	case errors.Is(err, pgx.ErrTxCommitRollback):
		// A statement of the transaction failed and its error was ignored: a bug, not a state
		// of the database.
		e.Reason = "commit resulted in rollback"
	case errors.Is(err, context.Canceled), errors.Is(err, ErrInterrupted):
		// Not "unavailable": the caller gave up, the database may be fine. Checked before the
		// connect errors: a connect attempt cut short by the caller wraps the cancellation (or
		// is ErrInterrupted, from Connect and NewPool).
		e.Reason = "interrupted: " + context.Canceled.Error()
	// A failure to connect is "unavailable" whatever the server answered (a wrong password,
	// too many connections) or did not (connect_timeout): the request cannot be served, and
	// the cause is in the ConnectError for whoever reads the logs.
	case errors.As(err, &ourConnectErr), errors.As(err, &pgConnectErr):
		e.Kind, e.Reason = ErrUnavailable, "cannot connect"
		if errors.As(err, &pgErr) {
			e.SQLState = pgErr.Code
		}
	case errors.As(err, &pgErr):
		e.SQLState, e.Constraint, e.Table, e.Column = pgErr.Code, pgErr.ConstraintName, pgErr.TableName, pgErr.ColumnName
		e.Reason, e.Kind = classifySQLState(pgErr.Code)
		if e.Kind == nil {
			e.Reason = "SQLSTATE " + pgErr.Code
		}
	case errors.Is(err, context.DeadlineExceeded):
		// The caller's deadline passed during a query: slow, not necessarily unavailable.
		e.Reason = "interrupted: " + context.DeadlineExceeded.Error()
	case brokenConnection(err):
		e.Kind, e.Reason = ErrUnavailable, "connection lost"
	}
	return e
}

// classifySQLState maps one server error code to its sentinel and a generic reason.
func classifySQLState(code string) (reason string, kind error) {
	switch code {
	case codeUniqueViolation:
		return "unique violation", ErrConflict
	case codeForeignKeyViolation:
		return "referenced row missing or still referenced", ErrForeignKey
	case codeCheckViolation:
		return "check violation", ErrCheck
	case codeNotNullViolation:
		return "not-null violation", ErrCheck
	case codeSerialization:
		return "serialization failure", ErrRetryable
	case codeDeadlock:
		return "deadlock detected", ErrRetryable
	case codeAdminShutdown, codeCrashShutdown:
		return "server terminated the connection", ErrUnavailable
	case codeCannotConnectNow:
		return "server not accepting connections", ErrUnavailable
	}
	if strings.HasPrefix(code, "08") { // connection exception class
		return "connection exception", ErrUnavailable
	}
	return "", nil
}

// brokenConnection recognises the ways a connection dies under a query: the socket closed or
// failed, pgx marked the connection closed, or the pool was closed.
func brokenConnection(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, pgconn.ErrConnClosed), errors.As(err, &netErr):
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == closedPoolText {
			return true
		}
	}
	return false
}
