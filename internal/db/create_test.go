package db

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"visiona-backend/internal/migfile"
)

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	up, down, err := Create(dir, "add_devices")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(up) != "000001_add_devices.up.sql" || filepath.Base(down) != "000001_add_devices.down.sql" {
		t.Fatalf("created %s and %s", up, down)
	}
	sums, err := os.ReadFile(filepath.Join(dir, migfile.SumFile))
	if err != nil || strings.Count(string(sums), "\n") != 3 {
		t.Fatalf("create should record the pair in %s: %q, %v", migfile.SumFile, sums, err)
	}
	// A pair fresh from create holds only comments: discovery refuses it until it is written.
	if _, err := migfile.LoadSource(os.DirFS(dir)); !errors.Is(err, migfile.ErrInvalidSource) {
		t.Fatalf("unfilled template loaded: %v", err)
	}
	os.WriteFile(up, []byte("CREATE TABLE d (id int);\n"), 0o644)
	os.WriteFile(down, []byte("DROP TABLE d;\n"), 0o644)
	// Filled in but not re-hashed: create must not paper over it by rewriting the sum file.
	if _, _, err := Create(dir, "second"); !errors.Is(err, migfile.ErrChecksum) {
		t.Fatalf("create over an unhashed edit: err = %v, want migfile.ErrChecksum", err)
	}
	if _, err := migfile.WriteSums(dir); err != nil { // what `migrate hash` does
		t.Fatal(err)
	}
	up2, _, err := Create(dir, "second")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(up2) != "000002_second.up.sql" {
		t.Errorf("second migration is %s, want version 000002", filepath.Base(up2))
	}
	if _, _, err := Create(dir, "Add Devices!"); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), `"add_devices"`) {
		t.Errorf("bad name: err = %v, want ErrInvalidArgument suggesting add_devices", err)
	}
}
