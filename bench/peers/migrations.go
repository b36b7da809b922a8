package peers

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"visiona-backend/internal/migfile"
	"visiona-backend/internal/testenv"
)

// Set is one generated history of N migrations (testenv.TableStep), written once in every tool's
// format. Migration v creates table t_<v> with a primary key and an index; its down drops the table:
//
//	CREATE TABLE t_000123 (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
//	CREATE INDEX t_000123_name_idx ON t_000123 (name);
//	-- down
//	DROP TABLE t_000123;
//
// It is the same history bench/migrate_bench_test.go uses, so the two benchmarks can be compared.
type Set struct {
	N int
	// PairDir holds NNNNNN_name.up.sql and .down.sql pairs: golang-migrate's format, and ours,
	// with the migrations.sum our create and hash commands write (ours verifies it before every up
	// and down, as it does with the repository's set; golang-migrate ignores the file).
	PairDir string
	// GooseDir holds NNNNNN_name.sql files with "-- +goose Up" and "-- +goose Down" sections.
	GooseDir string
	// DbmateDir holds NNNNNN_name.sql files with "-- migrate:up" and "-- migrate:down" sections.
	DbmateDir string
	// The psql floor: PsqlUp and PsqlDown commit once per migration, with the same version
	// bookkeeping ours writes (DELETE + INSERT of the one schema_migrations row) in that transaction;
	// PsqlUpAllInOne and PsqlDownAllInOne are every migration's SQL and one bookkeeping write, for
	// psql --single-transaction.
	PsqlUp, PsqlDown, PsqlUpAllInOne, PsqlDownAllInOne string
}

// VersionTableSQL creates the bookkeeping table in the layout golang-migrate and ours share.
const VersionTableSQL = "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);"

func upSQL(v int) string   { return testenv.TableStep(v).Up }
func downSQL(v int) string { return testenv.TableStep(v).Down }

// bookkeeping is what ours writes with each migration: the one version row, or none at version 0.
func bookkeeping(version int) string {
	if version == 0 {
		return "DELETE FROM schema_migrations;\n"
	}
	return fmt.Sprintf("DELETE FROM schema_migrations; INSERT INTO schema_migrations (version, dirty) VALUES (%d, false);\n", version)
}

// WriteSet generates the n-migration history under dir, in every format.
func WriteSet(dir string, n int) (*Set, error) {
	s := &Set{
		N:                n,
		PairDir:          filepath.Join(dir, "pairs"),
		GooseDir:         filepath.Join(dir, "goose"),
		DbmateDir:        filepath.Join(dir, "dbmate"),
		PsqlUp:           filepath.Join(dir, "psql", "up.sql"),
		PsqlDown:         filepath.Join(dir, "psql", "down.sql"),
		PsqlUpAllInOne:   filepath.Join(dir, "psql", "up-all-in-one.sql"),
		PsqlDownAllInOne: filepath.Join(dir, "psql", "down-all-in-one.sql"),
	}
	files := map[string]string{}
	var up, down, upAll, downAll strings.Builder
	up.WriteString(VersionTableSQL + "\n")
	upAll.WriteString(VersionTableSQL + "\n")
	for v := 1; v <= n; v++ {
		name := fmt.Sprintf("%06d_%s", v, testenv.TableStep(v).Name)
		files[filepath.Join(s.PairDir, name+".up.sql")] = upSQL(v)
		files[filepath.Join(s.PairDir, name+".down.sql")] = downSQL(v)
		files[filepath.Join(s.GooseDir, name+".sql")] = "-- +goose Up\n" + upSQL(v) + "\n-- +goose Down\n" + downSQL(v)
		files[filepath.Join(s.DbmateDir, name+".sql")] = "-- migrate:up\n" + upSQL(v) + "\n-- migrate:down\n" + downSQL(v)
		fmt.Fprintf(&up, "BEGIN;\n%s%sCOMMIT;\n", upSQL(v), bookkeeping(v))
		upAll.WriteString(upSQL(v))
	}
	for v := n; v >= 1; v-- {
		fmt.Fprintf(&down, "BEGIN;\n%s%sCOMMIT;\n", downSQL(v), bookkeeping(v-1))
		downAll.WriteString(downSQL(v))
	}
	upAll.WriteString(bookkeeping(n))
	downAll.WriteString(bookkeeping(0))
	files[s.PsqlUp], files[s.PsqlDown] = up.String(), down.String()
	files[s.PsqlUpAllInOne], files[s.PsqlDownAllInOne] = upAll.String(), downAll.String()

	for _, d := range []string{s.PairDir, s.GooseDir, s.DbmateDir, filepath.Dir(s.PsqlUp)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	for path, body := range files {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return nil, fmt.Errorf("write migration: %w", err)
		}
	}
	if _, err := migfile.WriteSums(s.PairDir); err != nil {
		return nil, err
	}
	return s, nil
}
