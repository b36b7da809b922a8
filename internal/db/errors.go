package db

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/lines"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/postgres"
)

// Sentinel errors. Each typed error below unwraps to one of them, so callers can branch with
// errors.Is and still get the details with errors.As.
var (
	// ErrMigrationFailed: a migration's SQL failed; see *MigrationError (Up, Down, Goto).
	ErrMigrationFailed = errors.New("migration failed")
	// ErrDirty: the database is marked dirty and the tool cannot know what ran; see *DirtyError.
	ErrDirty = errors.New("database is dirty")
	// ErrLockTimeout: another migrator held the lock for longer than the configured wait.
	ErrLockTimeout = errors.New("timed out waiting for the migration lock")
	// ErrDatabaseAhead: the database is at a version that no file describes; see *AheadError.
	ErrDatabaseAhead = errors.New("database is ahead of the migration files")
	// ErrUnknownVersion: goto or force named a version that has no file (Goto, Force).
	ErrUnknownVersion = errors.New("no migration with that version")
	// ErrInterrupted: the context was cancelled; the run stopped between two migrations, or
	// while connecting. The same sentinel as postgres.ErrInterrupted.
	ErrInterrupted = postgres.ErrInterrupted
	// ErrInvalidArgument: a caller passed a value the operation cannot take.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrPooler: the connection goes through a pooler that cannot run what was asked (statement
	// pooling, or a no-transaction file through a pooler); see *PoolerError (Up, Down, Goto).
	ErrPooler = errors.New("not possible through this connection pooler")
	// ErrMoved: another migrator moved the database away from this run's path while it ran (a
	// down racing an up); nothing of the step in question was applied (Up, Down, Goto).
	ErrMoved = errors.New("another migrator moved the database")
)

// PoolerError is a run refused because of the pooler between the tool and PostgreSQL, before
// anything of it was applied.
type PoolerError struct {
	Reason string
}

func (e *PoolerError) Error() string { return e.Reason }

func (e *PoolerError) Unwrap() error { return ErrPooler }

// MigrationError is a migration whose SQL failed. The database was left at Version, clean, unless
// Dirty says otherwise (a no-transaction file).
type MigrationError struct {
	Direction Direction
	migfile.SQLFailure
	Version uint // where the database is now (0: no version)
	Dirty   bool // only for a no-transaction file
	// Unknown: the connection broke while a batch ran, so the database may be past Version.
	Unknown bool
	Recover string
	Err     error
}

func (e *MigrationError) Error() string {
	s := e.Describe("migrations/" + e.File)
	if e.Dirty {
		at := fmt.Sprintf("version %d", e.Version)
		if e.Version == 0 { // a failed revert of the first migration
			at = "no version"
		}
		return s + fmt.Sprintf("; the database is marked dirty at %s: %s", at, e.Recover)
	}
	if e.Unknown {
		// A server restart or failover in the middle of a run: each migration is one
		// transaction, so none is half applied, and a rerun starts from wherever the server got to.
		return s + "; the last version known committed is " + strings.TrimPrefix(versionText(int(e.Version)), "version ") +
			" (the server may have committed more before the connection broke); nothing is half applied: run the command again to resume"
	}
	return s + "; nothing of it was applied, the database is still at " + versionText(int(e.Version))
}

func (e *MigrationError) Unwrap() []error {
	if e.Dirty {
		return []error{ErrMigrationFailed, ErrDirty, e.Err}
	}
	return []error{ErrMigrationFailed, e.Err}
}

// PartialError is a run of Up, Down, DownAll or Goto that stopped with an error once it had
// reached its migrations. Applied are the migrations it committed, in order (the same Results the
// call returns beside the error; none when a single transaction rolled back); Failed is the
// migration whose file failed, nil when the run stopped between migrations or the failure is not
// one file's (a lock, an interrupt, the single transaction's COMMIT). Its text is Err's, and it
// unwraps to Err, so errors.Is and errors.As reach the cause.
type PartialError struct {
	Applied []Result
	Failed  *Result
	Err     error
}

func (e *PartialError) Error() string { return e.Err.Error() }

func (e *PartialError) Unwrap() error { return e.Err }

// DirtyError is a database marked dirty by a run the tool cannot account for: a no-transaction file
// that failed, or a run of another tool that was killed mid-migration.
type DirtyError struct {
	Version uint // 0: no version, the revert of the first migration was interrupted
	Recover string
}

func (e *DirtyError) Error() string {
	// For no version the row golang-migrate keeps holds -1, and the message names the row as it is.
	v := int(e.Version)
	if v == 0 {
		v = database.NilVersion
	}
	return fmt.Sprintf("database is dirty at version %d: a migration was interrupted outside a transaction, so only a person can tell what ran; %s", v, e.Recover)
}

func (e *DirtyError) Unwrap() error { return ErrDirty }

// LockHolder is the session that holds the migration lock, from pg_locks and pg_stat_activity.
type LockHolder struct {
	PID             int
	ApplicationName string
	ClientAddr      string
	Since           time.Time // backend_start: when the holder's session connected
	State           string
	StateChange     time.Time // when State last changed
	XactStart       time.Time // when its transaction began; zero outside one
}

// Leaked reports whether the holder looks like a lock left behind: a session idle outside any
// transaction for longer than wait. A migrator holds its lock only while it works, so an idle
// holder is a client that went away while its server connection stayed (a session-level lock on
// a pooled server connection, or an abandoned psql).
func (h LockHolder) Leaked(wait time.Duration) bool {
	return h.State == "idle" && !h.StateChange.IsZero() && time.Since(h.StateChange) > wait
}

// leakAdvice is what to say about a leaked lock: why it looks so, and the statement that clears it.
func (h LockHolder) leakAdvice() string {
	return fmt.Sprintf("it has been idle outside any transaction for %s, which looks like a lock left behind by a pooled or abandoned session; if no migration is running, clear it with: SELECT pg_terminate_backend(%d);",
		time.Since(h.StateChange).Round(time.Second), h.PID)
}

func (h LockHolder) String() string {
	app := h.ApplicationName
	if app == "" {
		app = "(no application_name)"
	}
	s := fmt.Sprintf("pid %d, %s", h.PID, app)
	if h.ClientAddr != "" {
		s += " from " + h.ClientAddr
	}
	if !h.Since.IsZero() {
		s += fmt.Sprintf(", connected since %s (%s ago)", h.Since.UTC().Format(time.RFC3339), time.Since(h.Since).Round(time.Second))
	}
	if h.State != "" {
		s += ", " + h.State
	}
	if !h.XactStart.IsZero() {
		s += fmt.Sprintf(", transaction open for %s", time.Since(h.XactStart).Round(time.Millisecond))
	}
	return s
}

// LockTimeoutError reports how long we waited and who held the lock.
type LockTimeoutError struct {
	Waited time.Duration
	Holder *LockHolder // nil when the holder could not be seen (e.g. no pg_stat_activity access)
}

func (e *LockTimeoutError) Error() string {
	who := "a session this user cannot see in pg_stat_activity"
	if e.Holder != nil {
		who = e.Holder.String()
	}
	if e.Holder != nil && e.Holder.Leaked(e.Waited) {
		return fmt.Sprintf("timed out after %s waiting for the migration lock held by %s: %s", e.Waited.Round(time.Millisecond), who, e.Holder.leakAdvice())
	}
	return fmt.Sprintf("timed out after %s waiting for the migration lock held by %s; wait for it to finish, or raise VISIONA_DB_LOCK_TIMEOUT", e.Waited.Round(time.Millisecond), who)
}

func (e *LockTimeoutError) Unwrap() error { return ErrLockTimeout }

// AheadError is a database at a version the files do not have: code older than the database.
type AheadError struct {
	DatabaseVersion uint
	LatestFile      uint
}

func (e *AheadError) Error() string {
	if e.DatabaseVersion < e.LatestFile {
		return fmt.Sprintf("database is at version %d, which no file has (the files go past it to %06d): a migration file was deleted or renumbered; restore the %06d_*.sql pair that was applied", e.DatabaseVersion, e.LatestFile, e.DatabaseVersion)
	}
	return fmt.Sprintf("database is at version %d but the newest migration file is %06d: this build is older than the database; deploy the newer code (or, if version %d was abandoned, roll it back with the build that has it)", e.DatabaseVersion, e.LatestFile, e.DatabaseVersion)
}

func (e *AheadError) Unwrap() error { return ErrDatabaseAhead }

// knownVersion is golang-migrate's version (NilVersion, -1, for none) as this package reports
// versions: 0 for none.
func knownVersion(v int) uint { return uint(max(v, 0)) }

// versionText names a version; none for 0 or golang-migrate's NilVersion.
func versionText(v int) string {
	if v <= 0 {
		return "no version (empty)"
	}
	return fmt.Sprintf("version %d", v)
}

// sqlError turns a PostgreSQL error raised by body into a *MigrationError that points at the line.
// offset is how many characters were sent before body in the same query.
func sqlError(err error, dir Direction, file string, body []byte, offset, version int) *MigrationError {
	me := &MigrationError{Direction: dir, SQLFailure: migfile.SQLFailure{File: file, Message: "the statement failed"}, Version: knownVersion(version), Err: err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		me.SQLState, me.Message, me.Detail, me.Hint = pgErr.Code, pgErr.Message, pgErr.Detail, pgErr.Hint
		if pgErr.Where != "" {
			// Inside a DO block or a function, PostgreSQL says where in the body: keep that.
			me.Detail = strings.TrimPrefix(me.Detail+"; at "+lines.Fold(pgErr.Where), "; ")
		}
		if pos := int(pgErr.Position) - offset; pos > 0 {
			me.Line, me.Column = migfile.LineColumn(body, pos)
		}
		switch pgErr.Code {
		case "55P03": // lock_not_available, from lock_timeout
			me.Hint = "another transaction holds a lock this migration needs; nothing waited longer than VISIONA_DB_MIGRATION_LOCK_TIMEOUT, so other queries were not blocked behind it: retry when that transaction ends, or raise the variable"
		case "53200": // out_of_shared_memory: the lock table is full
			me.Hint = "a transaction holds a lock per object it touches; with -single-transaction over many migrations, raise max_locks_per_transaction or migrate without it"
		case "57014": // query_canceled, from statement_timeout
			me.Hint = "the statement ran longer than VISIONA_DB_MIGRATION_STATEMENT_TIMEOUT; raise it (0 disables it) if this migration is expected to take that long"
		}
	} else {
		me.Message = lostConnectionMessage(err)
	}
	return me
}

// lostConnectionMessage describes a non-SQL failure (the connection broke) without its details,
// which may include addresses but must never include credentials.
func lostConnectionMessage(err error) string {
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return "the connection to the database failed before the statement ran"
	}
	return "the connection to the database broke during the migration (its transaction was rolled back by the server)"
}
