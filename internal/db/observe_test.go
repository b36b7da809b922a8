package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"visiona-backend/internal/db"
)

// TestObserver: the observer's query runs inside each transactional migration's own transaction
// (batched or not), its value reaches the func before the progress function sees the migration,
// no-transaction files are skipped, and single-transaction mode refuses an observer.
func TestObserver(t *testing.T) {
	ctx := context.Background()
	fsys := tables(6, map[string]string{
		"000007_index.up.sql":   "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY t1_id_idx ON t1 (id);\n",
		"000007_index.down.sql": "-- migrate:no-transaction\nDROP INDEX CONCURRENTLY t1_id_idx;\n",
	})
	var events []string
	txids := map[string]bool{}
	obs := db.Observer{
		// The transaction-local setting the tool gives each migration's transaction, and the
		// transaction's id.
		Query: "SELECT current_setting('visiona.migration', true) || ' ' || txid_current()",
		Func: func(r db.Result, v []byte) {
			setting, txid, _ := strings.Cut(string(v), " ")
			events = append(events, fmt.Sprintf("observed %s %d %s", r.Direction, r.Version, setting))
			txids[txid] = true
		},
	}
	m := newMigrator(t, newDB(t), fsys, db.WithObserver(obs), db.WithProgress(func(r db.Result) {
		events = append(events, fmt.Sprintf("applied %s %d", r.Direction, r.Version))
	}))
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Down(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var want []string
	for v := 1; v <= 6; v++ {
		want = append(want, fmt.Sprintf("observed up %d %d", v, v), fmt.Sprintf("applied up %d", v))
	}
	// Reverting 000006 leaves the database at 5: the setting is the version being reached.
	want = append(want, "applied up 7", "applied down 7", "observed down 6 5", "applied down 6")
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	if len(txids) != 7 {
		t.Errorf("%d transactions observed, want 7 (one per transactional migration)", len(txids))
	}

	if _, err := db.New(newDB(t), fsys, db.WithObserver(obs), db.WithSingleTransaction()); !errors.Is(err, db.ErrInvalidArgument) {
		t.Errorf("an observer in single-transaction mode: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := db.New(newDB(t), fsys, db.WithObserver(db.Observer{Query: " "})); !errors.Is(err, db.ErrInvalidArgument) {
		t.Errorf("an empty observer: err = %v, want ErrInvalidArgument", err)
	}
}
