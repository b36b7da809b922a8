package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/migfile"
)

// ErrSeedFailed: a seed file failed to load; see *SeedError (Reset).
var ErrSeedFailed = errors.New("seed failed")

// SeedError is a seed file that failed to load. The whole seed was rolled back: the database is
// at the latest version with no seed rows, and running the reset again is safe.
type SeedError struct {
	migfile.SQLFailure       // File is the name inside the seed FS
	Err                error // the driver's error, for errors.As; nil when the file broke a rule of ours
}

func (e *SeedError) Error() string {
	return e.Describe("seed "+e.File) + "; the seed was rolled back: the database is migrated and holds no seed rows"
}

func (e *SeedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrSeedFailed}
	}
	return []error{ErrSeedFailed, e.Err}
}

// seedFile is one seed file, read before connecting so a missing or unreadable file is reported
// before anything is dropped.
type seedFile struct {
	name string
	body []byte
}

// readSeed reads every *.sql file at the top of seed, in name order. Names starting with a dot
// are editors' lock and backup files, not seed.
func readSeed(seed fs.FS) ([]seedFile, error) {
	if seed == nil {
		return nil, nil
	}
	entries, err := fs.ReadDir(seed, ".")
	if err != nil {
		return nil, fmt.Errorf("read the seed directory: %w", err)
	}
	var files []seedFile
	for _, e := range entries { // ReadDir sorts by name
		if e.IsDir() || path.Ext(e.Name()) != ".sql" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		body, err := fs.ReadFile(seed, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read seed %s: %w", e.Name(), err)
		}
		files = append(files, seedFile{name: e.Name(), body: body})
	}
	if len(files) == 0 {
		// A seed directory without SQL is a wrong path, not a wish for an empty database (that is
		// a nil seed).
		return nil, fmt.Errorf("%w: the seed directory has no *.sql file", ErrInvalidArgument)
	}
	return files, nil
}

// loadSeed runs the seed files in one transaction and returns the rows their INSERTs reported.
// Each file goes as one simple-protocol query, so PostgreSQL's error position is an offset into
// that file.
func loadSeed(ctx context.Context, conn *pgx.Conn, files []seedFile) (int64, error) {
	if len(files) == 0 {
		return 0, nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin the seed: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var rows int64
	for _, f := range files {
		results, err := conn.PgConn().Exec(ctx, string(f.body)).ReadAll()
		if err != nil {
			return 0, seedError(f, err)
		}
		// A COMMIT or ROLLBACK in the file ended our transaction: what ran before it may be
		// committed, which breaks the all-or-nothing promise, so say so rather than carry on.
		if conn.PgConn().TxStatus() != 'T' {
			return 0, &SeedError{SQLFailure: migfile.SQLFailure{File: f.name, Message: "the file ends the seed's transaction (COMMIT or ROLLBACK in it); remove the transaction control and reset again, as part of the seed may have been committed"}}
		}
		for _, r := range results {
			if r.CommandTag.Insert() {
				rows += r.CommandTag.RowsAffected()
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit the seed: %w", err)
	}
	return rows, nil
}

// seedError points a seed failure at its file, line and column, the way migration errors do.
func seedError(f seedFile, err error) *SeedError {
	me := sqlError(err, Up, f.name, f.body, 0, 0)
	se := &SeedError{SQLFailure: me.SQLFailure, Err: err}
	se.File = f.name
	if se.SQLState == "" {
		se.Message = "the connection to the database broke while loading the file"
	}
	return se
}
