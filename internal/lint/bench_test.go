package lint

import (
	"os"
	"testing"
	"testing/fstest"

	"visiona-backend/internal/migfile"
	"visiona-backend/internal/testenv"
)

// testenv.GrowingStep's history is what it claims: valid, and clean under the lint (every change written
// the safe way), so the benchmark measures a full pass, not an early stop.
func TestGeneratedHistoryIsClean(t *testing.T) {
	findings := checkFS(t, testenv.GenerateSet(50, testenv.GrowingStep))
	if len(findings) > 0 {
		t.Errorf("generated history has findings:\n%s", render(t, findings))
	}
}

// BenchmarkLint lints, loading included, our own history and a generated one of 1000 migrations.
// Each must stay well under a second.
func BenchmarkLint(b *testing.B) {
	if _, _, _, err := parse("select 1"); err != nil {
		b.Skip(err)
	}
	for _, c := range []struct {
		name string
		fsys func() (fstest.MapFS, error)
	}{
		{"ours", func() (fstest.MapFS, error) { return readDir("../../migrations") }},
		{"generated-1000", func() (fstest.MapFS, error) { return testenv.GenerateSet(1000, testenv.GrowingStep), nil }},
	} {
		b.Run(c.name, func(b *testing.B) {
			fsys, err := c.fsys()
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				src, err := migfile.LoadSource(fsys)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Check(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// readDir copies a folder's files into memory, so the benchmark measures the lint, not the disk.
func readDir(dir string) (fstest.MapFS, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fsys := fstest.MapFS{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		fsys[e.Name()] = &fstest.MapFile{Data: data}
	}
	return fsys, nil
}
