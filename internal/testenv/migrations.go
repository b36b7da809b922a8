package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// Migration is one generated version: the name after its number, and the SQL of its two files.
type Migration struct{ Name, Up, Down string }

// A Step makes migration v (from 1) of a generated set.
type Step func(v int) Migration

// GenerateSet is the set of n migrations made by step, as NNNNNN_<name>.up.sql and .down.sql
// pairs: every generated set in the tests and benchmarks comes from here, each with its own step.
func GenerateSet(n int, step Step) fstest.MapFS {
	fsys := fstest.MapFS{}
	for v := 1; v <= n; v++ {
		m := step(v)
		fsys[fmt.Sprintf("%06d_%s.up.sql", v, m.Name)] = &fstest.MapFile{Data: []byte(m.Up)}
		fsys[fmt.Sprintf("%06d_%s.down.sql", v, m.Name)] = &fstest.MapFile{Data: []byte(m.Down)}
	}
	return fsys
}

// Pairs is the set whose migration v runs pairs[v-1]: its up and down SQL, named step_<v>.
func Pairs(pairs ...[2]string) fstest.MapFS {
	return GenerateSet(len(pairs), func(v int) Migration {
		p := pairs[v-1]
		return Migration{Name: fmt.Sprintf("step_%d", v), Up: p[0] + "\n", Down: p[1] + "\n"}
	})
}

// TableName is the table TableStep's migration v creates.
func TableName(v int) string { return fmt.Sprintf("t_%06d", v) }

// TableStep creates one table with a primary key and an index; its down drops the table. The
// benchmarks use it, here and against the other tools (bench/peers), so their figures compare.
func TableStep(v int) Migration {
	t := TableName(v)
	return Migration{
		Name: "create_" + t,
		Up:   fmt.Sprintf("CREATE TABLE %[1]s (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());\nCREATE INDEX %[1]s_name_idx ON %[1]s (name);\n", t),
		Down: fmt.Sprintf("DROP TABLE %s;\n", t),
	}
}

// GrowingStep grows a history the way real ones do: of every five migrations, two create a table
// with a few columns, a foreign key to the previous table, a CHECK and an index; the third adds a
// column with a default and a NOT VALID constraint; the fourth a concurrent index in a
// no-transaction file; the fifth validates the constraint and adds a function and a trigger.
// Every change is written the safe way, so the lint finds nothing in it.
func GrowingStep(v int) Migration {
	// Tables created up to and including v: two in every full group of five, plus the group's own.
	tables := 2*((v-1)/5) + min((v-1)%5+1, 2)
	switch v % 5 {
	case 1, 2:
		ref := ""
		if tables > 1 {
			ref = fmt.Sprintf(",\n    parent_id bigint references t%d (id)", tables-1)
		}
		return Migration{Name: fmt.Sprintf("create_t%d", tables), Up: fmt.Sprintf(`-- Table %[1]d of the history.
create table t%[1]d (
    id         bigint generated always as identity primary key,
    name       text not null,
    state      text not null default 'new' check (state in ('new', 'live', 'gone')),
    labels     text[] not null default '{}',
    created_at timestamptz not null default now()%[2]s
);
create index t%[1]d_name_idx on t%[1]d (name);
comment on table t%[1]d is 'generated table %[1]d';
`, tables, ref), Down: fmt.Sprintf("drop table t%d;\n", tables)}
	case 3:
		return Migration{Name: fmt.Sprintf("add_t%d_note", tables), Up: fmt.Sprintf(`alter table t%[1]d
    add column note text,
    add column rank integer not null default 0,
    add constraint t%[1]d_rank_positive check (rank >= 0) not valid;
`, tables), Down: fmt.Sprintf("alter table t%[1]d drop constraint t%[1]d_rank_positive, drop column rank, drop column note;\n", tables)}
	case 4:
		return Migration{Name: fmt.Sprintf("index_t%d_note", tables), Up: fmt.Sprintf(`-- migrate:no-transaction
create index concurrently if not exists t%[1]d_note_idx on t%[1]d (note);
`, tables), Down: fmt.Sprintf("-- migrate:no-transaction\ndrop index concurrently if exists t%d_note_idx;\n", tables)}
	default:
		return Migration{Name: fmt.Sprintf("validate_t%d_rank", tables), Up: fmt.Sprintf(`alter table t%[1]d validate constraint t%[1]d_rank_positive;
create function t%[1]d_touch() returns trigger language plpgsql as $$
begin
    new.note := coalesce(new.note, '');
    return new;
end $$;
create trigger t%[1]d_touch before insert on t%[1]d for each row execute function t%[1]d_touch();
`, tables), Down: fmt.Sprintf("drop trigger t%[1]d_touch on t%[1]d;\ndrop function t%[1]d_touch();\n", tables)}
	}
}

// WriteFiles writes files (name to content) into a new temporary folder and returns it: a
// migration set on disk, for the commands that read a folder.
func WriteFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
