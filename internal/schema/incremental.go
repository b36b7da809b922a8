package schema

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Incremental snapshots, for RoundTrip.
//
// A full snapshot reads the whole schema, so a walk that takes one after each of N migrations
// costs O(N²). RoundTrip instead installs a DDL log: two event triggers that record every object
// a command creates, alters, comments on or drops (pg_event_trigger_ddl_commands at
// ddl_command_end, pg_event_trigger_dropped_objects at sql_drop) in a table of a schema of their
// own, which the walk's snapshots leave out. After each migration the tracker reads the entries
// the migration added, finds the units they touch (logUnitsSQL) and reads only those, with Take's
// queries narrowed to them (queries.go): one round trip when only relations were touched
// (walkStepSQL), the common case, and one more otherwise. The schema is kept as a map from unit
// name to the unit's objects, so the state after a step is the one before with the touched
// units replaced: a step costs what it changed, not the size of the schema.
//
// This file holds the tracker; ddllog.go the log's SQL and the reading of its rows, walkread.go
// the catalog reads, state.go the state and how a step's reads change it (no database: its
// tests run without one).
//
// Event triggers fire for DDL run from functions, DO blocks and other event triggers, and ours
// are ENABLE ALWAYS so that session_replication_role cannot silence them. What they do not show,
// and how the tracker copes:
//
//   - Shared objects (roles, tablespaces) have no event triggers, yet a policy prints role names
//     and an index its tablespace: a step after which pg_authid or pg_tablespace changed takes a
//     full snapshot.
//   - ALTER SCHEMA (a rename changes the name of everything in the schema, and of what other
//     schemas' objects print), ALTER EXTENSION (members added or removed), DROP OWNED (which also
//     edits policies' role lists), a command on a relation with inheritance children or on one
//     of its triggers (changes propagate down trees of any depth), and ALTER TABLE on a
//     partitioned table (DETACH PARTITION is logged on the parent only, but changes the former
//     partition): full snapshot.
//   - No-transaction migrations (REINDEX, which event triggers report only from PostgreSQL 17,
//     is run CONCURRENTLY there): full snapshot.
//   - A migration that drops or disables the log's event triggers: full snapshots from then on.
//   - Catalog updates by hand (UPDATE pg_class ...), SET event_triggers = off (PostgreSQL 17):
//     nothing sees them as they happen. The next full snapshot does: RoundTrip takes one at the
//     end of each walk, compares it with the incremental state, and walks again with full
//     snapshots if they differ. A step the log cannot be trusted for also takes a full snapshot,
//     and such a change found there counts as that step's; and a unit read again for another
//     reason shows it from then on. Either can blame a migration for what an earlier one did
//     without DDL, or, if a later migration undoes it the same way, miss it altogether: the
//     proof is exact for migrations that change the schema with DDL.

// tracker keeps the schema of one database up to date, incrementally when it can.
type tracker struct {
	conn      *pgx.Conn
	excluded  []string
	installed bool   // the DDL log is in the database: remove it at the end
	logging   bool   // the DDL log is in use: installed, and its event triggers in place
	lastID    int64  // the last log entry read
	shared    string // the shared catalogs' fingerprint at the last snapshot
	st        *state

	// Set by each step, for reports and tests: whether it read the whole schema, and why.
	lastFull   bool
	lastReason string
}

// newTracker prepares conn, which must be dedicated to the tracker: its session settings are
// changed for good. With log set it installs the DDL log, if the role may create event triggers
// (superuser); otherwise every step is a full snapshot.
func newTracker(ctx context.Context, conn *pgx.Conn, opts []Option, log bool) (*tracker, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	t := &tracker{conn: conn, excluded: o.excluded, st: newState()}
	if _, err := conn.Exec(ctx, sessionSettingsSQL); err != nil {
		return nil, fmt.Errorf("apply snapshot settings: %w", err)
	}
	if !log {
		return t, nil
	}
	var super bool
	if err := conn.QueryRow(ctx, "SELECT current_setting('is_superuser') = 'on'").Scan(&super); err != nil {
		return nil, fmt.Errorf("check for superuser: %w", err)
	}
	if !super {
		return t, nil
	}
	if _, err := conn.Exec(ctx, installLogSQL); err != nil {
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42P06" { // duplicate_schema
			return nil, fmt.Errorf("%w: the database already has a schema %s: a round trip on it was interrupted? Use a fresh database", ErrAlreadyMigrated, logSchema)
		}
		return nil, fmt.Errorf("install the DDL log: %w", err)
	}
	t.installed, t.logging = true, true
	return t, nil
}

// stopLogging removes the DDL log; later steps are full snapshots. Safe to call more than once
// and after a failure: it does not depend on what the walk or a migration left of the log.
func (t *tracker) stopLogging(ctx context.Context) error {
	t.logging = false
	if !t.installed {
		return nil
	}
	t.installed = false
	if _, err := t.conn.Exec(ctx, removeLogSQL); err != nil {
		return fmt.Errorf("remove the DDL log: %w", err)
	}
	return nil
}

// step brings the state up to date after a migration and returns what changed. It reads only
// the units the log names, unless full is set or the log cannot be trusted for this step.
//
// One statement (walkStepSQL) reads the log, finds the touched units and reads those that are
// relations, the common case; the units of the other families, and the table of a dropped index
// that nothing else touched, take a second round trip with the statements of just those
// families. For a few units, starting a statement's executor costs about as much as running it,
// so a step does not pay for the queries of families it did not touch.
func (t *tracker) step(ctx context.Context, full bool) (delta, error) {
	if full || !t.logging {
		reason := "forced"
		if !t.logging {
			reason = "no DDL log"
		}
		return t.full(ctx, reason)
	}
	read := map[unitID]*readUnit{}
	lr := &logRead{}
	rows, err := t.conn.Query(ctx, walkStepSQL, t.excluded, t.lastID)
	if err == nil {
		err = readRows(rows, read, lr)
	}
	if err != nil {
		return nil, fmt.Errorf("read catalogs: %w", err)
	}
	if ok, why := lr.trusted(t.shared); !ok {
		if lr.triggers != 2 {
			// A migration dropped or disabled our event triggers: nothing it or any later
			// migration does can be trusted to be logged.
			t.logging = false
		}
		return t.full(ctx, why)
	}
	if lr.lastID > 0 {
		t.lastID = lr.lastID
	}

	touched, more := t.st.toRead(lr)
	if len(more) > 0 {
		b := &pgx.Batch{}
		n := 0
		for _, code := range []byte(unitCodes) {
			switch {
			case len(more[code]) == 0:
				continue
			case usesExcluded(code):
				b.Queue(walkScopedSQL[code], t.excluded, more[code])
			default:
				b.Queue(walkScopedSQL[code], more[code])
			}
			n++
		}
		err := t.sendBatch(ctx, b, func(br pgx.BatchResults) error {
			for range n {
				rows, err := br.Query()
				if err == nil {
					err = readRows(rows, read, nil)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	d, ok := t.st.apply(touched, read)
	if !ok {
		// Two units claim one name: the log missed a rename or a drop.
		return t.full(ctx, "the log missed a change (two units with one name)")
	}
	t.st.dropLostIdentities(d)
	t.lastFull, t.lastReason = false, ""
	return d, nil
}

// full reads the whole schema, replaces the state with it and returns what changed.
func (t *tracker) full(ctx context.Context, reason string) (delta, error) {
	b := &pgx.Batch{}
	if t.logging {
		b.Queue(unitsSQL, t.lastID)
	}
	b.Queue(walkFullSQL, t.excluded)
	read := map[unitID]*readUnit{}
	lr := &logRead{}
	err := t.sendBatch(ctx, b, func(br pgx.BatchResults) error {
		if t.logging {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			var tag string
			var code, info pgtype.Text
			var oid pgtype.Uint32
			_, err = pgx.ForEachRow(rows, []any{&tag, &code, &oid, &info}, func() error { return lr.add(tag, code, oid, info) })
			if err != nil {
				return err
			}
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return readRows(rows, read, nil)
	})
	if err != nil {
		return nil, err
	}
	if t.logging {
		if lr.lastID > 0 {
			t.lastID = lr.lastID
		}
		t.shared = lr.shared
		if lr.triggers != 2 {
			t.logging = false
		}
	}
	st, err := stateFrom(read)
	if err != nil {
		return nil, err
	}
	d := t.st.changes(st)
	t.st = st
	t.lastFull, t.lastReason = true, reason
	return d, nil
}
