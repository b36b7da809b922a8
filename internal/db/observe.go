package db

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// observedColumn names the observer query's result; no file's own statements would name a column so.
const observedColumn = "visiona_observed"

// Observer reads something inside each transactional migration's own transaction, after its
// statements and just before its COMMIT: what only that transaction can see, such as the locks
// it holds (pg_locks lists them until the commit releases them).
type Observer struct {
	// Query is one SQL statement returning one row of one column, without a trailing semicolon.
	Query string
	// Func receives each migration's Result and the query's value (nil for SQL NULL) once the
	// migration has committed, before the progress function (WithProgress) sees it. It is not
	// called for no-transaction files, which run outside any transaction of the tool's.
	Func func(Result, []byte)
}

// WithObserver runs o.Query in each transactional migration's transaction before its COMMIT.
// Each migration keeps its own transaction (batching sends several in one query, never in one
// transaction), so what the query sees is that migration's alone; single-transaction mode, where
// it would see every migration of the run so far, refuses it.
func WithObserver(o Observer) Option {
	return func(m *Migrator) error {
		if strings.TrimSpace(o.Query) == "" || o.Func == nil {
			return fmt.Errorf("%w: an observer needs a query and a func", ErrInvalidArgument)
		}
		m.observer = &o
		return nil
	}
}

// observerSQL is the statement queue appends after a migration's bookkeeping.
func (d *driver) observerSQL() string {
	if d.observer == nil || d.inTx {
		return ""
	}
	return "SELECT (" + d.observer.Query + ") AS " + observedColumn + ";"
}

// observed passes the observer the value found in results, the query's results from the marker
// of the migration that applied to the next one's (or the end).
func (d *driver) observed(r Result, results []*pgconn.Result) {
	if d.observer == nil || d.inTx {
		return
	}
	for _, res := range results {
		if len(res.Rows) == 1 && len(res.FieldDescriptions) == 1 && res.FieldDescriptions[0].Name == observedColumn {
			d.observer.Func(r, res.Rows[0][0])
			return
		}
	}
}
