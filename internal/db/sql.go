package db

import (
	"fmt"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
)

// SQL the driver builds: the version row, the per-migration timeouts and the guard that follows
// a migration's body.

// guardMessage identifies the guard's error: a failed cast of this text, which no file's own
// statement would produce.
const guardMessage = "visiona guard: the migration ended its own transaction"

// guardEnd follows a migration's body where no version row is inserted after it (in single-
// transaction mode, and reverting the first migration), and marks where the body's results end.
// queue sets a transaction-local setting before the body, and it must still be there after it: a
// COMMIT, ROLLBACK or END in the body ends the transaction the tool put the file in, resets the
// setting, and the guard then fails, so nothing after it runs or commits. The lint reports such
// statements before they run; this catches them wherever the lint was not run. A cast that fails
// rather than a DO block: one plain statement, no PL/pgSQL to compile per migration.
func guardEnd(version int) string {
	return fmt.Sprintf("SELECT (CASE WHEN current_setting('visiona.migration', true) = '%[1]d' THEN '%[1]d' ELSE '%[2]s' || coalesce(current_setting('visiona.migration', true), '') END)::int AS %[3]s;",
		version, guardMessage, bodyEndColumn)
}

// timeoutSettings is the line that bounds each migration's waits: a migration stuck behind a long
// transaction's lock would otherwise queue every other query on that table behind it.
func timeoutSettings(lock, statement time.Duration) string {
	if s := formatTimeouts(lock, statement, "SET LOCAL %s = %d; "); s != "" {
		return s + "\n"
	}
	return ""
}

// timeoutConfigs is the same as set_config calls, each followed by a comma.
func timeoutConfigs(lock, statement time.Duration) string {
	return formatTimeouts(lock, statement, "set_config('%s', '%d', true), ")
}

// formatTimeouts writes format (a setting's name, its milliseconds) once per timeout that is set.
func formatTimeouts(lock, statement time.Duration, format string) string {
	var b strings.Builder
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"lock_timeout", lock}, {"statement_timeout", statement}} {
		if t.d > 0 {
			fmt.Fprintf(&b, format, t.name, t.d.Milliseconds())
		}
	}
	return b.String()
}

// bookkeeping replaces the version row: one row, or none for no version, as golang-migrate keeps
// it. DELETE rather than golang-migrate's TRUNCATE: TRUNCATE makes new files for the table and its
// index on every migration (measured in bench/: about a quarter of up's time and 40% of down's)
// and takes an exclusive lock that blocks anyone reading the version meanwhile.
func (d *driver) bookkeeping(version int, dirty bool) string {
	sql := "DELETE FROM " + d.table + ";"
	if version >= 0 || (version == database.NilVersion && dirty) {
		sql += fmt.Sprintf(" INSERT INTO %s (version, dirty) VALUES (%d, %t);", d.table, version, dirty)
	}
	return sql
}
