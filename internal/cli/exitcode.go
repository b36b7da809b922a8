package cli

import (
	"context"
	"errors"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/postgres"
	"visiona-backend/internal/schema"
)

// Exit codes: the same from cmd/migrate, from mage targets and from the server's auto-migrate.
// They are documented in the README; add new ones at the end, never renumber.
const (
	ExitOK             = 0
	ExitInternal       = 1  // a bug or an unexpected failure
	ExitUsage          = 2  // unknown command or flag, bad argument
	ExitConfig         = 3  // database not configured, or a VISIONA_* value is invalid
	ExitConnect        = 4  // unreachable host, wrong password, missing database
	ExitMigration      = 5  // a migration's SQL failed
	ExitDirty          = 6  // the database is marked dirty
	ExitLockTimeout    = 7  // another migrator held the lock too long
	ExitDatabaseAhead  = 8  // the database is at a version no file has
	ExitInvalidSource  = 9  // the migration files are not a valid set
	ExitUnknownVersion = 10 // goto/force to a version that has no file
	ExitRemoteReset    = 11 // reset refused: the host is not local
	ExitSeed           = 12 // reset: a seed file failed (rolled back)
	ExitChecksum       = 13 // the migrations do not match migrations.sum
	ExitLint           = 14 // lint found errors in the migration SQL
	ExitDrift          = 15 // drift: the live schema differs from migrations/schema.snapshot
	ExitPooler         = 16 // the connection's pooler cannot run this (statement pooling, a no-transaction file)
	ExitMoved          = 17 // another migrator moved the database off this run's path
	// mage testDB (internal/testdb's errors carry these as CodedError; cmd/migrate never links
	// TestDB's containers)
	ExitTestServers   = 20 // no Docker and no existing servers, or a server failed to start
	ExitRoundTrip     = 21 // a migration's down does not reverse its up
	ExitStaleSnapshot = 22 // migrations/schema.snapshot differs from what the migrations build
	ExitSuites        = 23 // a dbtest suite failed
	// mage image and release (internal/release)
	ExitNoDocker    = 24 // mage image: no docker command, or no engine answers
	ExitNoCommit    = 25 // mage release/image: Go recorded no commit (not a git clone, or a worktree)
	ExitInterrupted = 130
)

// CodedError is a failure whose own package names its exit code, for packages this one must not
// import (internal/testdb: cmd/migrate would link its containers). ExitCode maps it, wrapped or
// not, to Code.
type CodedError struct {
	Msg  string
	Code int
}

func (e *CodedError) Error() string { return e.Msg }

// ExitCode maps an error from internal/db, internal/postgres, internal/config or a CodedError to its exit code: the
// one mapping behind every door.
func ExitCode(err error) int {
	var (
		cfgErr *config.Error
		coded  *CodedError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, db.ErrInterrupted), errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.As(err, &coded):
		return coded.Code
	case errors.Is(err, config.ErrDatabaseNotConfigured), errors.As(err, &cfgErr):
		return ExitConfig
	case errors.Is(err, postgres.ErrUnavailable):
		return ExitConnect
	case errors.Is(err, db.ErrDirty): // before failed: a failure that left the database dirty says so
		return ExitDirty
	case errors.Is(err, db.ErrMigrationFailed):
		return ExitMigration
	case errors.Is(err, db.ErrLockTimeout):
		return ExitLockTimeout
	case errors.Is(err, db.ErrPooler):
		return ExitPooler
	case errors.Is(err, db.ErrMoved):
		return ExitMoved
	case errors.Is(err, db.ErrDatabaseAhead):
		return ExitDatabaseAhead
	case errors.Is(err, migfile.ErrInvalidSource):
		return ExitInvalidSource
	case errors.Is(err, db.ErrUnknownVersion):
		return ExitUnknownVersion
	case errors.Is(err, errLint):
		return ExitLint
	case errors.Is(err, errDrift):
		return ExitDrift
	case errors.Is(err, errRoundTrip), errors.Is(err, schema.ErrNotReversible):
		return ExitRoundTrip
	case errors.Is(err, schema.ErrInvalidOption):
		return ExitUsage
	case errors.Is(err, migfile.ErrChecksum):
		return ExitChecksum
	case errors.Is(err, db.ErrRemoteReset):
		return ExitRemoteReset
	case errors.Is(err, db.ErrSeedFailed):
		return ExitSeed
	case errors.Is(err, db.ErrInvalidArgument), errors.Is(err, errUsage):
		return ExitUsage
	}
	return ExitInternal
}
