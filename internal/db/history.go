package db

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/migfile"
)

// HistoryTable is our record of what is applied, beside golang-migrate's one-row version table:
// which migrations, with which checksum, when, by whom and how long they took. It is written in
// the same transaction as each migration, so it can never disagree with the schema.
const HistoryTable = "schema_migrations_history"

// HistoryEntry is one applied migration as the database remembers it.
type HistoryEntry struct {
	Version   uint          `json:"version"`
	Name      string        `json:"name"`
	Checksum  string        `json:"checksum"`
	AppliedAt time.Time     `json:"applied_at"`
	AppliedBy string        `json:"applied_by"`
	Duration  time.Duration `json:"duration_ns"`
	// Adopted marks rows back-filled for migrations applied by another tool (the stock
	// golang-migrate CLI) or recorded by force: their checksum is the file's at adoption time.
	Adopted bool `json:"adopted"`
}

func (d *driver) historyTableSQL() string {
	return "CREATE TABLE IF NOT EXISTS " + d.history + ` (
	version bigint NOT NULL PRIMARY KEY,
	name text NOT NULL,
	checksum text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	applied_by text NOT NULL DEFAULT current_user,
	duration_ms double precision,
	adopted boolean NOT NULL DEFAULT false
);`
}

func sqlLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// serverDuration is a migration's duration measured by the server, for a history row written in
// the migration's transaction: from the start queue's marker recorded to the row.
const serverDuration = "1000 * (extract(epoch FROM clock_timestamp())::float8 - current_setting('visiona.started')::float8)"

// historyUpSQL records m as applied, in the migration's own transaction; durationMS is an
// SQL expression for its duration in milliseconds.
func (d *driver) historyUpSQL(m migfile.Migration, durationMS string) string {
	return d.historyUpRowsSQL(historyUpRow(m, durationMS))
}

// historyUpRow is one row of historyUpRowsSQL.
func historyUpRow(m migfile.Migration, durationMS string) string {
	return fmt.Sprintf("(%d, %s, %s, %s)", m.Version, sqlLiteral(m.Name), sqlLiteral(m.Checksum()), durationMS)
}

// historyUpRowsSQL records rows from historyUpRow in one statement: single-transaction mode writes
// the run's rows at COMMIT, since an INSERT per migration inside a long DDL transaction costs as
// much as a seventh of a migration (measured: 0.15-0.2 ms each on the n=1000 benchmark).
func (d *driver) historyUpRowsSQL(rows ...string) string {
	return fmt.Sprintf(` INSERT INTO %s (version, name, checksum, duration_ms) VALUES %s
	ON CONFLICT (version) DO UPDATE SET name = excluded.name, checksum = excluded.checksum, applied_at = now(), applied_by = current_user, duration_ms = excluded.duration_ms, adopted = false;`,
		d.history, strings.Join(rows, ", "))
}

func (d *driver) historyDownSQL(versions ...uint) string {
	list := make([]string, len(versions))
	for i, v := range versions {
		list[i] = strconv.FormatUint(uint64(v), 10)
	}
	return fmt.Sprintf(" DELETE FROM %s WHERE version IN (%s);", d.history, strings.Join(list, ", "))
}

// millis is a duration as history.duration_ms takes it.
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64)
}

// reconcileHistorySQL makes the history agree with version: rows above it go, rows missing at or
// below it are back-filled as adopted. This is how a database migrated by the stock golang-migrate
// CLI, or moved by force, is taken over without complaint.
func (d *driver) reconcileHistorySQL(version int) string {
	sql := fmt.Sprintf("DELETE FROM %s WHERE version > %d;", d.history, version)
	var rows []string
	for m := range d.src.All() {
		if int(m.Version) <= version {
			rows = append(rows, fmt.Sprintf("(%d, %s, %s, true)", m.Version, sqlLiteral(m.Name), sqlLiteral(m.Checksum())))
		}
	}
	if len(rows) > 0 {
		sql += fmt.Sprintf(" INSERT INTO %s (version, name, checksum, adopted) VALUES %s ON CONFLICT (version) DO NOTHING;",
			d.history, strings.Join(rows, ", "))
	}
	return sql
}

// reconcileHistory runs under the lock before any migration: one cheap query tells whether the
// history matches the version row, and only a mismatch pays for the back-fill.
func (d *driver) reconcileHistory() error {
	rs, err := d.conn.Exec(d.stmtCtx(), fmt.Sprintf(`SELECT v.version, v.dirty,
		(SELECT count(*) FROM %[2]s h WHERE h.version <= v.version), (SELECT count(*) FROM %[2]s)
	FROM (SELECT coalesce((SELECT version FROM %[1]s LIMIT 1), -1) AS version, coalesce((SELECT dirty FROM %[1]s LIMIT 1), false) AS dirty) v`, d.table, d.history)).ReadAll()
	if err != nil {
		return fmt.Errorf("read %s: %w", d.history, err)
	}
	row := rs[0].Rows[0]
	version, _ := strconv.Atoi(string(row[0]))
	below, _ := strconv.Atoi(string(row[2]))
	total, _ := strconv.Atoi(string(row[3]))
	if string(row[1]) == "t" {
		return nil // dirty: golang-migrate refuses to go on; force reconciles
	}
	if _, ok := d.src.Find(uint(version)); version > 0 && !ok {
		return nil // ahead of the files: Version reports it, and the history is not ours to fix
	}
	applied := 0
	for m := range d.src.All() {
		if int(m.Version) <= version {
			applied++
		}
	}
	if below == applied && total == below {
		return nil
	}
	rs, err = d.conn.Exec(d.stmtCtx(), d.reconcileHistorySQL(version)).ReadAll()
	if err != nil {
		return fmt.Errorf("adopt the existing migrations into %s: %w", d.history, err)
	}
	var changed int64
	for _, r := range rs {
		changed += r.CommandTag.RowsAffected()
	}
	if changed > 0 {
		d.log.Info("recorded migrations applied by another tool", "version", version, "table", HistoryTable, "rows", changed)
	}
	return nil
}

// readHistory returns the applied migrations, oldest first; none when the table does not exist.
func readHistory(ctx context.Context, conn *pgconn.PgConn, table string) ([]HistoryEntry, error) {
	rs, err := conn.Exec(ctx, historySelect(table)).ReadAll()
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01":
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return historyRows(rs[0].Rows), nil
}

func historySelect(table string) string {
	return `SELECT version, name, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		applied_by, coalesce(duration_ms, 0), adopted FROM ` + table + ` ORDER BY version`
}

// historyRows reads historySelect's rows.
func historyRows(rows [][][]byte) []HistoryEntry {
	var out []HistoryEntry
	for _, row := range rows {
		v, _ := strconv.ParseUint(string(row[0]), 10, 64)
		at, _ := time.Parse(time.RFC3339Nano, string(row[3]))
		ms, _ := strconv.ParseFloat(string(row[5]), 64)
		out = append(out, HistoryEntry{Version: uint(v), Name: string(row[1]), Checksum: string(row[2]), AppliedAt: at,
			AppliedBy: string(row[4]), Duration: time.Duration(ms * float64(time.Millisecond)), Adopted: string(row[6]) == "t"})
	}
	return out
}
