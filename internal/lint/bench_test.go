package lint

import (
	"fmt"
	"os"
	"testing"
	"testing/fstest"

	"visiona-backend/internal/migfile"
)

// generatedHistory is a history of n migrations that grows the way real ones do: each creates a
// table with a few columns, a foreign key, a CHECK and an index, or alters an earlier table (a
// column with a default, a NOT VALID constraint validated later, a concurrent index in a
// no-transaction file, a function and a trigger), so every rule's code runs.
func generatedHistory(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	add := func(v int, name, up, down string) {
		fsys[fmt.Sprintf("%06d_%s.up.sql", v, name)] = &fstest.MapFile{Data: []byte(up)}
		fsys[fmt.Sprintf("%06d_%s.down.sql", v, name)] = &fstest.MapFile{Data: []byte(down)}
	}
	tables := 0
	for v := 1; v <= n; v++ {
		switch v % 5 {
		case 1, 2:
			tables++
			ref := ""
			if tables > 1 {
				ref = fmt.Sprintf(",\n    parent_id bigint references t%d (id)", tables-1)
			}
			add(v, fmt.Sprintf("create_t%d", tables), fmt.Sprintf(`-- Table %[1]d of the history.
create table t%[1]d (
    id         bigint generated always as identity primary key,
    name       text not null,
    state      text not null default 'new' check (state in ('new', 'live', 'gone')),
    labels     text[] not null default '{}',
    created_at timestamptz not null default now()%[2]s
);
create index t%[1]d_name_idx on t%[1]d (name);
comment on table t%[1]d is 'generated table %[1]d';
`, tables, ref), fmt.Sprintf("drop table t%d;\n", tables))
		case 3:
			add(v, fmt.Sprintf("add_t%d_note", tables), fmt.Sprintf(`alter table t%[1]d
    add column note text,
    add column rank integer not null default 0,
    add constraint t%[1]d_rank_positive check (rank >= 0) not valid;
`, tables), fmt.Sprintf("alter table t%[1]d drop constraint t%[1]d_rank_positive, drop column rank, drop column note;\n", tables))
		case 4:
			add(v, fmt.Sprintf("index_t%d_note", tables), fmt.Sprintf(`-- migrate:no-transaction
create index concurrently if not exists t%[1]d_note_idx on t%[1]d (note);
`, tables), fmt.Sprintf("-- migrate:no-transaction\ndrop index concurrently if exists t%d_note_idx;\n", tables))
		default:
			add(v, fmt.Sprintf("validate_t%d_rank", tables), fmt.Sprintf(`alter table t%[1]d validate constraint t%[1]d_rank_positive;
create function t%[1]d_touch() returns trigger language plpgsql as $$
begin
    new.note := coalesce(new.note, '');
    return new;
end $$;
create trigger t%[1]d_touch before insert on t%[1]d for each row execute function t%[1]d_touch();
`, tables), fmt.Sprintf("drop trigger t%[1]d_touch on t%[1]d;\ndrop function t%[1]d_touch();\n", tables))
		}
	}
	return fsys
}

// The generated history is what it claims: valid, and clean under the lint (every change written
// the safe way), so the benchmark measures a full pass, not an early stop.
func TestGeneratedHistoryIsClean(t *testing.T) {
	findings := checkFS(t, generatedHistory(50))
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
		{"generated-1000", func() (fstest.MapFS, error) { return generatedHistory(1000), nil }},
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
