package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"visiona-backend/internal/config"
	"visiona-backend/internal/postgres"
)

// ErrRemoteReset: Reset refused a database that is not on this machine; see *RemoteResetError.
// It lives here rather than in errors.go because only Reset returns it.
var ErrRemoteReset = errors.New("refusing to reset a remote database")

// RemoteResetError is Reset refusing a host that is neither loopback nor a unix socket. It is
// returned before any connection is attempted.
type RemoteResetError struct {
	Target string // SafeTarget: never a password
}

func (e *RemoteResetError) Error() string {
	return fmt.Sprintf("refusing to reset %s: the host is not loopback or a unix socket, and a reset drops everything in the database; set VISIONA_DB_ALLOW_REMOTE_RESET=true to reset it anyway", e.Target)
}

func (e *RemoteResetError) Unwrap() error { return ErrRemoteReset }

// ResetReport is what Reset did, for the caller to print.
type ResetReport struct {
	Target string `json:"target"` // SafeTarget
	// Dropped counts the objects dropped by kind, named as PostgreSQL's pg_identify_object names
	// them ("table", "view", "materialized view", "sequence", "function", "procedure", "type",
	// ...) plus "domain", "schema" and "extension". Objects that belong to another one (an index,
	// a serial column's sequence, a table's row type, an extension's functions, a partition) go
	// with it and are not counted.
	Dropped   map[string]int `json:"dropped"`
	Applied   []Result       `json:"applied"`
	Version   uint           `json:"version"`    // where the migrations left the database
	SeedFiles []string       `json:"seed_files"` // loaded, in order
	SeedRows  int64          `json:"seed_rows"`  // rows inserted by the seed's INSERT statements

	DropDuration    time.Duration `json:"drop_duration_ns"`
	MigrateDuration time.Duration `json:"migrate_duration_ns"`
	SeedDuration    time.Duration `json:"seed_duration_ns"`
}

// DroppedTotal is the number of objects dropped, all kinds together.
func (r *ResetReport) DroppedTotal() int {
	n := 0
	for _, c := range r.Dropped {
		n += c
	}
	return n
}

// Reset empties the configured database, migrates it to the latest version and loads the seed:
// the `dbReset` of a developer's machine.
//
// It refuses, before connecting, a host that is neither loopback nor a unix socket unless
// cfg.AllowRemoteReset (VISIONA_DB_ALLOW_REMOTE_RESET=true) is set: see *RemoteResetError.
//
// The database itself is kept, and so are its owner, settings and grants; what goes is every
// object in it, in one transaction: the extensions installed after initdb, every schema other
// than public with its contents, and everything in public, whose own owner and grants are left
// alone. Objects outside any schema (event triggers, publications, foreign servers, casts,
// default privileges) stay unless they depend on a dropped object. The drop holds the migration
// lock, so it never runs under a migrator.
//
// Then it migrates up with a Migrator built from migrations and opts (WithLogger, WithLockTimeout
// and WithProgress apply; the logger and the lock timeout also serve the drop), and loads every
// *.sql file at the top of seed, in name order, in one transaction. seed may be nil for no seed
// data. Seed files must not contain transaction control (BEGIN, COMMIT, ROLLBACK).
//
// The migrations and the seed are read and validated before the connection. Once connected, the
// report describes the steps that completed even when an error is returned.
func Reset(ctx context.Context, cfg config.DB, migrations fs.FS, seed fs.FS, opts ...Option) (*ResetReport, error) {
	if err := cfg.Require(); err != nil {
		return nil, err
	}
	if !cfg.IsLocal() && !cfg.AllowRemoteReset {
		return nil, &RemoteResetError{Target: cfg.SafeTarget()}
	}
	m, err := New(cfg, migrations, opts...)
	if err != nil {
		return nil, err
	}
	seeds, err := readSeed(seed)
	if err != nil {
		return nil, err
	}
	if !cfg.IsLocal() {
		m.log.Warn("resetting a database that is not on this machine (VISIONA_DB_ALLOW_REMOTE_RESET=true)")
	}

	conn, err := postgres.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rep := &ResetReport{Target: cfg.SafeTarget()}

	start := time.Now()
	rep.Dropped, err = dropAll(ctx, conn, m.lockTimeout, m.log)
	rep.DropDuration = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("%w while dropping objects; nothing was dropped", ErrInterrupted)
		}
		return rep, err
	}
	m.log.Debug("dropped every object", "objects", rep.DroppedTotal(), "duration", rep.DropDuration)

	start = time.Now()
	rep.Applied, err = m.Up(ctx)
	rep.MigrateDuration = time.Since(start)
	if err != nil {
		// The Migrator's errors say where the database stands; they are the same as `migrate up`'s.
		return rep, err
	}
	rep.Version = m.src.Latest()

	start = time.Now()
	rep.SeedRows, err = loadSeed(ctx, conn, seeds)
	rep.SeedDuration = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("%w while loading the seed; it was rolled back, the database is migrated and holds no seed rows", ErrInterrupted)
		}
		return rep, err
	}
	for _, s := range seeds {
		rep.SeedFiles = append(rep.SeedFiles, s.name)
	}
	if len(seeds) > 0 {
		m.log.Debug("seeded", "files", len(seeds), "rows", rep.SeedRows, "duration", rep.SeedDuration)
	}
	return rep, nil
}
