package history

import (
	"slices"
	"strings"
	"testing"

	"visiona-backend/internal/migfile"
)

// The history loads as the migrator would load it, with strict names, and each n gives a prefix
// of the same history.
func TestRealistic(t *testing.T) {
	migs := Realistic(340)
	src, err := migfile.LoadSource(FS(migs))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(src.Migrations()); got != 340 {
		t.Fatalf("%d migrations, want 340", got)
	}
	noTx := 0
	for _, m := range src.Migrations() {
		if !migfile.StrictName(m.UpFile) || !migfile.StrictName(m.DownFile) {
			t.Errorf("%s: not a strict name", m.UpFile)
		}
		if m.UpNoTx {
			noTx++
		}
	}
	if noTx == 0 {
		t.Error("no migration runs outside a transaction")
	}
	kinds := map[string]bool{}
	for _, m := range migs {
		for _, k := range []string{"CREATE TYPE", "ADD VALUE", "CREATE TABLE", "ADD COLUMN", "DROP COLUMN", "RENAME COLUMN", "RENAME TO",
			"FOREIGN KEY", "CHECK", "CREATE INDEX", "CREATE UNIQUE INDEX", "CONCURRENTLY", "CREATE VIEW", "CREATE OR REPLACE VIEW",
			"MATERIALIZED VIEW", "CREATE OR REPLACE FUNCTION", "CREATE TRIGGER", "CREATE SEQUENCE", "COMMENT ON", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE DOMAIN"} {
			if strings.Contains(m.Up+m.Down, k) {
				kinds[k] = true
			}
		}
	}
	if len(kinds) != 23 {
		t.Errorf("the history has only %d of the 23 kinds of statement: %v", len(kinds), kinds)
	}
	if short := Realistic(40); !slices.Equal(short, migs[:40]) {
		t.Error("Realistic(40) is not the first 40 of Realistic(340)")
	}
}
