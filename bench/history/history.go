// Package history generates migration histories shaped like a real application's, for the
// round-trip proof's benchmark and for trying the proof on a folder (cmd/genhistory).
//
// A history is a few shared objects (a schema for reports, a domain, the trigger functions every
// table uses, an audit table) and then one block of migrations per entity, each block growing a
// table the way teams do over months: an enum type and values added to it, the table, columns
// added, renamed and dropped, a sequence-backed column, foreign keys to the previous entity, a
// check constraint, plain, partial, unique and expression indexes (one built CONCURRENTLY, outside
// a transaction), comments, triggers, views and a view on a view (one replaced with a wider
// definition, whose down rebuilds the view that depends on it), a materialized view, SQL and
// PL/pgSQL functions (one replaced with a new body), a table renamed, and data migrations. Every
// down restores exactly the schema before its up, so the proof must pass with no finding.
package history

import (
	"fmt"
	"strings"
	"testing/fstest"
	"time"
)

// Migration is one generated migration.
type Migration struct {
	Version uint64 // a timestamp, YYYYMMDDhhmmss, as `migrate create -format` would name it
	Name    string // snake_case title
	NoTx    bool   // runs outside a transaction
	Up      string
	Down    string
}

// UpFile and DownFile are the migration's file names in golang-migrate's format.
func (m Migration) UpFile() string   { return fmt.Sprintf("%d_%s.up.sql", m.Version, m.Name) }
func (m Migration) DownFile() string { return fmt.Sprintf("%d_%s.down.sql", m.Version, m.Name) }

// noTxMarker is the comment that makes a migration run outside a transaction (migfile.NoTransactionMarker;
// not imported so that the generator does not depend on the tool it exercises).
const noTxMarker = "-- migrate:no-transaction"

// Realistic returns the first n migrations of the realistic history. The same n always gives the
// same files.
func Realistic(n int) []Migration {
	g := &gen{start: time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)}
	g.shared()
	for k := 1; len(g.migs) < n; k++ {
		g.entity(k)
	}
	return g.migs[:n]
}

// FS is migs as files.
func FS(migs []Migration) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, m := range migs {
		up, down := m.Up, m.Down
		if m.NoTx {
			up, down = noTxMarker+"\n"+up, noTxMarker+"\n"+down
		}
		fsys[m.UpFile()] = &fstest.MapFile{Data: []byte(up)}
		fsys[m.DownFile()] = &fstest.MapFile{Data: []byte(down)}
	}
	return fsys
}

type gen struct {
	start time.Time
	migs  []Migration
}

// add appends a migration; up and down are SQL statements, each ended by the generator.
func (g *gen) add(name string, up, down []string) {
	g.addMig(name, false, up, down)
}

func (g *gen) addNoTx(name string, up, down []string) {
	g.addMig(name, true, up, down)
}

func (g *gen) addMig(name string, noTx bool, up, down []string) {
	// Migrations a few hours to a few days apart, as a team writes them.
	at := g.start.Add(time.Duration(len(g.migs)) * 29 * time.Hour).Add(time.Duration(len(g.migs)%7) * 13 * time.Minute)
	v := uint64(0)
	fmt.Sscan(at.Format("20060102150405"), &v)
	g.migs = append(g.migs, Migration{Version: v, Name: name, NoTx: noTx, Up: script(up), Down: script(down)})
}

func script(stmts []string) string {
	var b strings.Builder
	for _, s := range stmts {
		b.WriteString(strings.TrimSpace(s))
		b.WriteString(";\n")
	}
	return b.String()
}

// shared creates what every entity uses.
func (g *gen) shared() {
	g.add("create_reporting_schema",
		[]string{"CREATE SCHEMA reporting", "COMMENT ON SCHEMA reporting IS 'read models for dashboards'"},
		[]string{"DROP SCHEMA reporting"})
	g.add("create_email_domain",
		[]string{`CREATE DOMAIN email AS text CONSTRAINT email_check CHECK (VALUE ~ '^[^@\s]+@[^@\s]+$')`},
		[]string{"DROP DOMAIN email"})
	g.add("create_touch_updated_at",
		[]string{`CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$`},
		[]string{"DROP FUNCTION touch_updated_at()"})
	g.add("create_audit_log",
		[]string{`CREATE TABLE audit_log (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	table_name text NOT NULL,
	op text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE')),
	row_id bigint,
	at timestamptz NOT NULL DEFAULT now()
)`, "CREATE INDEX audit_log_table_name_at_idx ON audit_log (table_name, at DESC)"},
		[]string{"DROP TABLE audit_log"})
	g.add("create_audit_row",
		[]string{`CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
	INSERT INTO audit_log (table_name, op, row_id)
	VALUES (TG_TABLE_NAME, TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
	RETURN NULL;
END
$$`},
		[]string{"DROP FUNCTION audit_row()"})
	g.add("create_settings",
		[]string{`CREATE TABLE settings (key text PRIMARY KEY, value jsonb NOT NULL DEFAULT '{}')`,
			`INSERT INTO settings (key, value) VALUES ('retention_days', '90'), ('currency', '"EUR"')`},
		[]string{"DROP TABLE settings"})
}

// entity adds the block of migrations of entity k: about twenty.
func (g *gen) entity(k int) {
	t := fmt.Sprintf("ent%02d", k)      // the table's name until it is renamed
	prev := fmt.Sprintf("ent%02d", k-1) // the previous entity's table, renamed by now
	status := t + "_status"             // enum type
	if k > 1 {
		prev += "_items"
	}
	g.add("create_"+status,
		[]string{fmt.Sprintf("CREATE TYPE %s AS ENUM ('new', 'active', 'archived')", status)},
		[]string{"DROP TYPE " + status})
	g.add("create_"+t,
		[]string{fmt.Sprintf(`CREATE TABLE %[1]s (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL,
	status %[2]s NOT NULL DEFAULT 'new',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
)`, t, status)},
		[]string{"DROP TABLE " + t})
	// A value added to the enum: PostgreSQL cannot remove one, so the down builds the type again
	// without it and moves the column over (its default cannot be cast, so it is set again).
	g.add("add_suspended_to_"+status,
		[]string{fmt.Sprintf("ALTER TYPE %s ADD VALUE 'suspended' BEFORE 'archived'", status)},
		[]string{
			fmt.Sprintf("ALTER TYPE %[1]s RENAME TO %[1]s_old", status),
			fmt.Sprintf("CREATE TYPE %s AS ENUM ('new', 'active', 'archived')", status),
			fmt.Sprintf("ALTER TABLE %s ALTER COLUMN status DROP DEFAULT", t),
			fmt.Sprintf("ALTER TABLE %[1]s ALTER COLUMN status TYPE %[2]s USING status::text::%[2]s", t, status),
			fmt.Sprintf("ALTER TABLE %s ALTER COLUMN status SET DEFAULT 'new'", t),
			fmt.Sprintf("DROP TYPE %s_old", status),
		})
	g.add("add_"+t+"_touch_trigger",
		[]string{fmt.Sprintf("CREATE TRIGGER %[1]s_touch BEFORE UPDATE ON %[1]s FOR EACH ROW EXECUTE FUNCTION touch_updated_at()", t)},
		[]string{fmt.Sprintf("DROP TRIGGER %[1]s_touch ON %[1]s", t)})
	g.add("seed_"+t,
		[]string{fmt.Sprintf("INSERT INTO %s (name, status) SELECT '%s ' || g, CASE WHEN g %% 3 = 0 THEN 'active' ELSE 'new' END::%s FROM generate_series(1, %d) g", t, t, status, 20+k*5)},
		[]string{fmt.Sprintf("DELETE FROM %s WHERE name LIKE '%s %%'", t, t)})
	g.add("add_"+t+"_owner_email",
		[]string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN owner_email email", t),
			fmt.Sprintf("COMMENT ON COLUMN %s.owner_email IS 'who to ask about it'", t)},
		[]string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN owner_email", t)})
	if k > 1 {
		g.add("add_"+t+"_parent",
			[]string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN parent_id bigint", t),
				fmt.Sprintf("ALTER TABLE %[1]s ADD CONSTRAINT %[1]s_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES %[2]s (id) ON DELETE SET NULL", t, prev),
				fmt.Sprintf("CREATE INDEX %[1]s_parent_id_idx ON %[1]s (parent_id)", t)},
			[]string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN parent_id", t)})
	} else {
		g.add("add_"+t+"_parent",
			[]string{fmt.Sprintf("ALTER TABLE %[1]s ADD COLUMN parent_id bigint REFERENCES %[1]s (id)", t)},
			[]string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN parent_id", t)})
	}
	g.add("add_"+t+"_name_check",
		[]string{fmt.Sprintf("ALTER TABLE %[1]s ADD CONSTRAINT %[1]s_name_check CHECK (char_length(name) BETWEEN 1 AND 200) NOT VALID", t),
			fmt.Sprintf("ALTER TABLE %[1]s VALIDATE CONSTRAINT %[1]s_name_check", t)},
		[]string{fmt.Sprintf("ALTER TABLE %[1]s DROP CONSTRAINT %[1]s_name_check", t)})
	if k%4 == 2 {
		g.addNoTx("index_"+t+"_lower_name",
			[]string{fmt.Sprintf("CREATE INDEX CONCURRENTLY %[1]s_lower_name_idx ON %[1]s (lower(name)) WHERE status <> 'archived'", t)},
			[]string{fmt.Sprintf("DROP INDEX CONCURRENTLY %s_lower_name_idx", t)})
	} else {
		g.add("index_"+t+"_lower_name",
			[]string{fmt.Sprintf("CREATE INDEX %[1]s_lower_name_idx ON %[1]s (lower(name)) WHERE status <> 'archived'", t)},
			[]string{fmt.Sprintf("DROP INDEX %s_lower_name_idx", t)})
	}
	g.add("comment_"+t,
		[]string{fmt.Sprintf("COMMENT ON TABLE %s IS 'entity %d: what the app tracks'", t, k),
			fmt.Sprintf("COMMENT ON COLUMN %s.status IS 'lifecycle'", t)},
		[]string{fmt.Sprintf("COMMENT ON TABLE %s IS NULL", t), fmt.Sprintf("COMMENT ON COLUMN %s.status IS NULL", t)})
	g.add("rename_"+t+"_name_to_title",
		[]string{fmt.Sprintf("ALTER TABLE %s RENAME COLUMN name TO title", t)},
		[]string{fmt.Sprintf("ALTER TABLE %s RENAME COLUMN title TO name", t)})
	active := "reporting." + t + "_active"
	activeV1 := fmt.Sprintf("CREATE VIEW %s AS SELECT e.id, e.title, e.parent_id FROM %s e WHERE e.status = 'active'", active, t)
	g.add("create_"+t+"_active_view", []string{activeV1}, []string{"DROP VIEW " + active})
	summary := "reporting." + t + "_summary"
	summaryDef := fmt.Sprintf("CREATE VIEW %s AS SELECT a.id, a.title, count(c.id) AS children FROM %s a LEFT JOIN %s c ON c.parent_id = a.id GROUP BY a.id, a.title", summary, active, t)
	g.add("create_"+t+"_summary_view",
		[]string{summaryDef, fmt.Sprintf("COMMENT ON VIEW %s IS 'active ones with their children'", summary)},
		[]string{"DROP VIEW " + summary})
	// A sequence-backed reference number, owned by its column.
	g.add("add_"+t+"_ref",
		[]string{fmt.Sprintf("CREATE SEQUENCE %s_ref_seq AS integer START 1000 INCREMENT 7", t),
			fmt.Sprintf("ALTER TABLE %[1]s ADD COLUMN ref integer NOT NULL DEFAULT nextval('%[1]s_ref_seq')", t),
			fmt.Sprintf("ALTER SEQUENCE %[1]s_ref_seq OWNED BY %[1]s.ref", t),
			fmt.Sprintf("CREATE UNIQUE INDEX %[1]s_ref_key ON %[1]s (ref)", t)},
		[]string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN ref", t)})
	// The view gets wider: CREATE OR REPLACE VIEW can add columns but not remove them, so the down
	// drops it and the view built on it, and builds both again.
	g.add("widen_"+t+"_active_view",
		[]string{fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT e.id, e.title, e.parent_id, e.ref, e.updated_at FROM %s e WHERE e.status = 'active'", active, t)},
		[]string{"DROP VIEW " + summary, "DROP VIEW " + active, activeV1, summaryDef,
			fmt.Sprintf("COMMENT ON VIEW %s IS 'active ones with their children'", summary)})
	countBody := func(extra string) string {
		return fmt.Sprintf(`CREATE OR REPLACE FUNCTION %[1]s_count(p_status %[2]s) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT count(*) FROM %[1]s WHERE status = p_status%[3]s
$$`, t, status, extra)
	}
	g.add("create_"+t+"_count", []string{countBody("")}, []string{fmt.Sprintf("DROP FUNCTION %s_count(%s)", t, status)})
	g.add("count_"+t+"_since_2020", []string{countBody(" AND created_at >= '2020-01-01'")}, []string{countBody("")})
	g.add("add_"+t+"_audit_trigger",
		[]string{fmt.Sprintf("CREATE TRIGGER %[1]s_audit AFTER INSERT OR UPDATE OR DELETE ON %[1]s FOR EACH ROW EXECUTE FUNCTION audit_row()", t)},
		[]string{fmt.Sprintf("DROP TRIGGER %[1]s_audit ON %[1]s", t)})
	g.add("activate_old_"+t,
		[]string{fmt.Sprintf("UPDATE %s SET status = 'suspended' WHERE status = 'new' AND id %% 5 = 0", t)},
		[]string{fmt.Sprintf("UPDATE %s SET status = 'new' WHERE status = 'suspended'", t)})
	// A column added and dropped again: the down puts it back at the end, where it was.
	g.add("add_"+t+"_legacy_code",
		[]string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN legacy_code varchar(12)", t)},
		[]string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN legacy_code", t)})
	g.add("drop_"+t+"_legacy_code",
		[]string{fmt.Sprintf("ALTER TABLE %s DROP COLUMN legacy_code", t)},
		[]string{fmt.Sprintf("ALTER TABLE %s ADD COLUMN legacy_code varchar(12)", t)})
	if k%3 == 0 {
		mv := "reporting." + t + "_stats"
		g.add("create_"+t+"_stats",
			[]string{fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS SELECT status, count(*) AS n FROM %s GROUP BY status", mv, t),
				fmt.Sprintf("CREATE UNIQUE INDEX %s_stats_status_key ON %s (status)", t, mv)},
			[]string{"DROP MATERIALIZED VIEW " + mv})
	}
	g.add("rename_"+t+"_to_items",
		[]string{fmt.Sprintf("ALTER TABLE %[1]s RENAME TO %[1]s_items", t)},
		[]string{fmt.Sprintf("ALTER TABLE %[1]s_items RENAME TO %[1]s", t)})
}
