package db

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"

	"visiona-backend/internal/config"
	"visiona-backend/internal/logger"
)

// AutoMigrate is what a server runs at start, through the same Migrator as mage and cmd/migrate.
// With cfg.AutoMigrate (VISIONA_DB_AUTO_MIGRATE=true) it migrates up, logging one line per
// migration; replicas starting together are serialised by the migration lock. Without it, it only
// reads the version and warns when migrations are pending, so a server never changes a schema it
// was not told to. A dirty database is an error either way: serving on it would hide the problem.
// A nil log discards the lines. opts come after the defaults; a server should pass WithPreflight(lint.PrepareFile), as the CLI does.
func AutoMigrate(ctx context.Context, cfg config.DB, fsys fs.FS, log *slog.Logger, opts ...Option) error {
	if log == nil {
		log = logger.Discard()
	}
	m, err := New(cfg, fsys, append([]Option{WithLogger(log), WithProgress(func(r Result) {
		log.Info("migrated", "version", r.Version, "name", r.Name, "direction", r.Direction, "duration", r.Duration)
	})}, opts...)...)
	if err != nil {
		return err
	}
	if cfg.AutoMigrate {
		results, err := m.Up(ctx)
		if err != nil {
			return fmt.Errorf("auto-migrate: %w", err)
		}
		log.Info("schema up to date", "applied", len(results), "version", m.Source().Latest())
		return nil
	}
	info, err := m.Version(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("check schema version: %w", err)
	case info.Dirty:
		return &DirtyError{Version: info.Version, Recover: m.dirtyRecovery(int(info.Version))}
	case info.Ahead:
		// Normal during a rolling deploy: the old build keeps serving on the new schema.
		log.Warn("database is ahead of this build", "version", info.Version, "latest_file", info.Latest)
	case info.Pending > 0:
		log.Warn("migrations pending; run `mage migrateUp` or set VISIONA_DB_AUTO_MIGRATE=true", "version", info.Version, "pending", info.Pending, "latest", info.Latest)
	}
	return nil
}
