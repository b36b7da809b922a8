package db

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/config"
	"visiona-backend/internal/logger"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/postgres"
)

// VersionReader answers `migrate version` at the cost of what it reads: the migration folder's
// listing, one connection and one query. It never opens a migration file, so their contents are
// not checked here; their names are, as LoadSource checks them, and every command that runs,
// lists or verifies the files checks the contents too.
type VersionReader struct{ m *Migrator }

// NewVersionReader validates the configuration and the migration files' names.
func NewVersionReader(dbcfg config.DB, fsys fs.FS) (*VersionReader, error) {
	if err := dbcfg.Require(); err != nil {
		return nil, err
	}
	src, err := migfile.LoadNames(fsys)
	if err != nil {
		return nil, err
	}
	return &VersionReader{&Migrator{db: dbcfg, fsys: fsys, src: src, log: logger.Discard()}}, nil
}

// Version is Migrator.Version.
func (r *VersionReader) Version(ctx context.Context) (VersionInfo, error) { return r.m.Version(ctx) }

// Version reads where the database stands without taking the lock or writing anything.
func (m *Migrator) Version(ctx context.Context) (VersionInfo, error) {
	st, err := m.readState(ctx, false)
	if err != nil {
		return VersionInfo{}, err
	}
	info := m.versionInfo(st.version, st.dirty)
	info.InvalidIndexes = st.invalidIndexes
	if info.Dirty {
		info.Recover = withIndexDrop(info.Recover, info.InvalidIndexes)
	}
	return info, nil
}

// Status lists every migration file as applied or pending, with what the history table recorded
// of it, and the applied migrations no file describes.
func (m *Migrator) Status(ctx context.Context) (Status, error) {
	state, err := m.readState(ctx, true)
	if err != nil {
		return Status{}, err
	}
	var st Status
	st.VersionInfo = m.versionInfo(state.version, state.dirty)
	st.InvalidIndexes = state.invalidIndexes
	if st.Dirty {
		st.Recover = withIndexDrop(st.Recover, st.InvalidIndexes)
	}
	recorded := map[uint]HistoryEntry{}
	for _, h := range state.history {
		recorded[h.Version] = h
		if _, ok := m.src.Find(h.Version); !ok {
			st.Unknown = append(st.Unknown, h)
		}
	}
	for mig := range m.src.All() {
		ms := MigrationStatus{Version: mig.Version, Name: mig.Name, Applied: mig.Version <= st.Version, Current: mig.Version == st.Version}
		if ms.Current && st.Dirty {
			ms.Applied = false
		}
		if h, ok := recorded[mig.Version]; ok && ms.Applied {
			ms.AppliedAt, ms.AppliedBy, ms.Duration, ms.Adopted = h.AppliedAt, h.AppliedBy, h.Duration, h.Adopted
			ms.Changed = h.Checksum != mig.Checksum()
		}
		st.Migrations = append(st.Migrations, ms)
	}
	return st, nil
}

// dbState is what Version and Status read from the database.
type dbState struct {
	version        int
	dirty          bool
	history        []HistoryEntry // read for Status only
	invalidIndexes []string
}

// readState reads the database's state in one round trip when it can (see readStateAtOnce), and
// otherwise statement by statement, naming every table by the connection's current schema as the
// driver does.
func (m *Migrator) readState(ctx context.Context, withHistory bool) (dbState, error) {
	conn, err := postgres.Connect(ctx, m.db)
	if err != nil {
		return dbState{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if st, ok := readStateAtOnce(ctx, conn.PgConn(), withHistory); ok {
		return st, nil
	}
	d, err := newDriver(ctx, conn, m.src, driverOptions{log: m.log})
	if err != nil {
		return dbState{}, err
	}
	var st dbState
	if st.version, st.dirty, err = readVersion(ctx, conn.PgConn(), d.table); err != nil {
		return dbState{}, err
	}
	if withHistory {
		if st.history, err = readHistory(ctx, conn.PgConn(), d.history); err != nil {
			return dbState{}, err
		}
	}
	if st.invalidIndexes, err = invalidIndexes(ctx, conn.PgConn()); err != nil {
		return dbState{}, err
	}
	return st, nil
}

// readStateAtOnce sends every read as one simple-protocol query: one round trip. The tables are
// named unqualified, so the query needs no schema looked up first; its first statement checks
// that each name resolves to the table in the current schema, which is the one the driver
// writes, and not to a temporary table or one in a schema later on the search path. Anything
// else (a table missing, a name resolving elsewhere, no current schema, any error) returns false,
// and the caller reads statement by statement, as the driver does, with the same outcomes.
func readStateAtOnce(ctx context.Context, conn *pgconn.PgConn, withHistory bool) (dbState, bool) {
	tables := []string{VersionTable}
	if withHistory {
		tables = append(tables, HistoryTable)
	}
	check := "SELECT true"
	for _, t := range tables {
		check += " AND to_regclass(" + sqlLiteral(pgx.Identifier{t}.Sanitize()) + ") IS NOT DISTINCT FROM to_regclass(format('%I.%I', current_schema(), " + sqlLiteral(t) + "))"
	}
	sql := check + ";\n" + invalidIndexesSQL + ";\n"
	if withHistory {
		sql += historySelect(pgx.Identifier{HistoryTable}.Sanitize()) + ";\n"
	}
	table := pgx.Identifier{VersionTable}.Sanitize()
	sql += versionSelect(table)
	rs, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil || len(rs) != len(tables)+2 || len(rs[0].Rows) != 1 || string(rs[0].Rows[0][0]) != "t" {
		return dbState{}, false
	}
	st := dbState{invalidIndexes: firstColumn(rs[1].Rows)}
	if withHistory {
		st.history = historyRows(rs[2].Rows)
	}
	if st.version, st.dirty, err = versionRow(table, rs[len(rs)-1].Rows); err != nil {
		return dbState{}, false
	}
	return st, true
}
