package db_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/config"
	"visiona-backend/internal/db"
	"visiona-backend/internal/postgres"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
	"visiona-backend/testdata/seed"
)

// resetDB is newDB for Reset: the shared test server may be a remote one
// (VISIONA_TEST_POSTGRES_URL), which Reset refuses without the override.
func resetDB(t *testing.T) config.DB {
	t.Helper()
	cfg := newDB(t)
	cfg.AllowRemoteReset = !cfg.IsLocal()
	return cfg
}

// mustReset resets cfg's database with the real migrations and seed.
func mustReset(t *testing.T, cfg config.DB) *db.ResetReport {
	t.Helper()
	rep, err := db.Reset(context.Background(), cfg, migrations.FS, seed.FS)
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	return rep
}

func TestResetRefusesRemoteHostsBeforeConnecting(t *testing.T) {
	// A cancelled context makes any connection attempt fail at once with ErrInterrupted, so a
	// refusal proves the check ran first, and the test never waits on a dial.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		host    string
		allow   bool
		refused bool
	}{
		{"10.1.2.3", false, true},
		{"db.example.com", false, true},
		{"2001:db8::1", false, true},
		{"127.0.0.1,10.1.2.3", false, true}, // a host list is only as local as its least local host
		{"127.0.0.1", false, false},
		{"127.0.0.2", false, false},
		{"localhost", false, false},
		{"::1", false, false},
		{"/var/run/postgresql", false, false},
		{"10.1.2.3", true, false},
		{"db.example.com", true, false},
	} {
		t.Run(fmt.Sprintf("%s allow=%v", tc.host, tc.allow), func(t *testing.T) {
			cfg := config.DB{Host: tc.host, Port: 5432, User: "visiona", Password: "s3cret-pw", Name: "visiona", SSLMode: "disable", AllowRemoteReset: tc.allow}
			start := time.Now()
			rep, err := db.Reset(ctx, cfg, migrations.FS, seed.FS)
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %s: something waited on the network", elapsed)
			}
			var rre *db.RemoteResetError
			if !tc.refused {
				if errors.Is(err, db.ErrRemoteReset) || !errors.Is(err, db.ErrInterrupted) {
					t.Fatalf("err = %v, want the refusal lifted (and the cancelled connection attempt to fail)", err)
				}
				return
			}
			if !errors.Is(err, db.ErrRemoteReset) || !errors.As(err, &rre) || rep != nil {
				t.Fatalf("err = %v, report %v; want *RemoteResetError and no report", err, rep)
			}
			if rre.Target != cfg.SafeTarget() {
				t.Errorf("target = %q, want %q", rre.Target, cfg.SafeTarget())
			}
			msg := err.Error()
			if strings.Contains(msg, "s3cret") {
				t.Errorf("the message prints the password: %q", msg)
			}
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "VISIONA_DB_ALLOW_REMOTE_RESET=true") || !strings.Contains(msg, cfg.SafeTarget()) {
				t.Errorf("message %q: want one line naming the target and the override", msg)
			}
		})
	}
}

// TestResetRemoteOverride reaches the test server through an address that is not loopback: the
// refusal, and the override that lifts it, against a real server.
func TestResetRemoteOverride(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t)
	remote := cfg
	if cfg.IsLocal() {
		remote.Host = nonLoopbackAddress(t, cfg)
	}
	remote.AllowRemoteReset = false
	if _, err := db.Reset(ctx, remote, migrations.FS, seed.FS); !errors.Is(err, db.ErrRemoteReset) {
		t.Fatalf("err = %v, want ErrRemoteReset", err)
	}
	if tableExists(t, connect(t, cfg), "schema_migrations") {
		t.Fatal("the refused reset migrated the database")
	}
	remote.AllowRemoteReset = true
	rep, err := db.Reset(ctx, remote, migrations.FS, seed.FS)
	if err != nil {
		t.Fatalf("reset with the override: %v", err)
	}
	if rep.Version == 0 || rep.SeedRows == 0 {
		t.Errorf("report %+v: want migrated and seeded", rep)
	}
}

// nonLoopbackAddress finds an address of this machine, other than loopback, on which the test
// server answers (Docker publishes ports on every interface), or skips.
func nonLoopbackAddress(t *testing.T, cfg config.DB) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("list this machine's addresses: %v", err)
	}
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.IsLoopback() || ipnet.IP.IsLinkLocalUnicast() || ipnet.IP.To4() == nil {
			continue
		}
		ip := ipnet.IP.String()
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort(ip, strconv.Itoa(cfg.Port)))
		if err != nil {
			continue
		}
		c.Close()
		return ip
	}
	t.Skip("the test server answers on no non-loopback address of this machine; the refusal logic is covered by TestResetRefusesRemoteHostsBeforeConnecting")
	return ""
}

// junkSQL is what a developer leaves behind: objects of every kind Reset must remove, an extra
// schema with contents, and a row that is not seed data.
const junkSQL = `
create table junk_table (id serial primary key, note text);
create type junk_mood as enum ('happy', 'sad');
create domain junk_positive as integer check (value > 0);
create sequence junk_seq;
create view junk_view as select id from junk_table;
create materialized view junk_matview as select count(*) as n from users;
create function junk_fn(m junk_mood) returns integer language sql as 'select 1';
create schema junk_schema;
create table junk_schema.inner_table (id integer, m junk_mood);
create function junk_schema.inner_fn() returns integer language sql as 'select 2';
insert into users (email, password_hash) values ('junk@example.com', 'not-seed');
grant usage on schema public to pg_read_all_data;
`

func TestResetDropsEverythingAndReseeds(t *testing.T) {
	ctx := context.Background()
	cfg := resetDB(t)
	latest := newMigrator(t, cfg, nil).Source().Latest()

	// From an empty database: nothing to drop, everything to apply.
	first := mustReset(t, cfg)
	if len(first.Dropped) != 0 {
		t.Errorf("first reset dropped %v from an empty database", first.Dropped)
	}
	if uint(len(first.Applied)) != latest || first.Version != latest {
		t.Errorf("first reset applied %d migrations to version %d, want %d", len(first.Applied), first.Version, latest)
	}
	wantFiles := []string{"001_users.sql", "002_models.sql", "003_devices.sql", "004_tokens.sql"}
	if !slices.Equal(first.SeedFiles, wantFiles) {
		t.Errorf("seed files = %v, want %v", first.SeedFiles, wantFiles)
	}
	conn := connect(t, cfg)
	seeded := rowCounts(t, conn)
	if sum(seeded) != first.SeedRows || first.SeedRows == 0 {
		t.Errorf("tables hold %v rows, the report says %d were inserted", seeded, first.SeedRows)
	}
	cleanObjects := objects(t, conn)
	seedIDs := userIDs(t, conn)
	publicACL := publicSchema(t, conn)

	// Junk of every kind, plus an extension when the server has one to install.
	junk := junkSQL
	withExtension := false
	if err := conn.QueryRow(ctx, "select exists (select 1 from pg_available_extensions where name = 'citext')").Scan(&withExtension); err != nil {
		t.Fatal(err)
	}
	if withExtension {
		junk += "create extension citext;\ncreate table junk_ci (email citext);\n"
	}
	if _, err := conn.Exec(ctx, junk); err != nil {
		t.Fatal(err)
	}
	publicACLWithGrant := publicSchema(t, conn)
	if publicACLWithGrant == publicACL {
		t.Fatal("the junk's grant on schema public did not change its privileges")
	}
	conn.Close(ctx)

	rep := mustReset(t, cfg)
	want := map[string]int{
		// users, models, devices, pairing_tokens, session_tokens, schema_migrations,
		// schema_migrations_history, junk_table, junk_schema.inner_table; junk_table's serial
		// sequence goes with it and is not counted.
		"table":             9,
		"view":              1,
		"materialized view": 1,
		"sequence":          1,
		"function":          3, // set_updated_at, junk_fn, junk_schema.inner_fn
		"type":              1,
		"domain":            1,
		"schema":            1,
	}
	if withExtension {
		want["table"]++
		want["extension"] = 1
	}
	if !maps.Equal(rep.Dropped, want) {
		t.Errorf("dropped %v, want %v", rep.Dropped, want)
	}
	if uint(len(rep.Applied)) != latest || rep.Version != latest {
		t.Errorf("applied %d migrations to version %d, want %d", len(rep.Applied), rep.Version, latest)
	}
	mustVersion(t, newMigrator(t, cfg, nil), latest)

	conn = connect(t, cfg)
	if got := objects(t, conn); !slices.Equal(got, cleanObjects) {
		t.Errorf("objects after the reset differ from a fresh database's:\nextra: %v\nmissing: %v", minus(got, cleanObjects), minus(cleanObjects, got))
	}
	if got := rowCounts(t, conn); !maps.Equal(got, seeded) || rep.SeedRows != first.SeedRows {
		t.Errorf("rows after the reset %v (report: %d), want the seed's %v (%d)", got, rep.SeedRows, seeded, first.SeedRows)
	}
	if got := userIDs(t, conn); !slices.Equal(got, seedIDs) {
		t.Errorf("users after the reset %v, want the seed's %v", got, seedIDs)
	}
	// public is emptied, not recreated: the privileges granted on it survive.
	if got := publicSchema(t, conn); got != publicACLWithGrant {
		t.Errorf("schema public after the reset: %s, want it unchanged: %s", got, publicACLWithGrant)
	}
}

func TestResetTwiceGivesTheSameRows(t *testing.T) {
	cfg := resetDB(t)
	first := mustReset(t, cfg)
	conn := connect(t, cfg)
	rows, objs := rowCounts(t, conn), objects(t, conn)
	conn.Close(context.Background())

	second := mustReset(t, cfg)
	// A reset database holds the schema's own objects only.
	if want := map[string]int{"table": 7, "function": 1}; !maps.Equal(second.Dropped, want) {
		t.Errorf("second reset dropped %v, want %v", second.Dropped, want)
	}
	conn = connect(t, cfg)
	if got := rowCounts(t, conn); !maps.Equal(got, rows) || second.SeedRows != first.SeedRows {
		t.Errorf("second reset: rows %v (report %d), first: %v (report %d)", got, second.SeedRows, rows, first.SeedRows)
	}
	if got := objects(t, conn); !slices.Equal(got, objs) {
		t.Errorf("second reset: objects differ:\nextra: %v\nmissing: %v", minus(got, objs), minus(objs, got))
	}
}

// TestSeedCoversEveryState pins what testdata/seed promises its readers: every state the schema
// allows is there to look at.
func TestSeedCoversEveryState(t *testing.T) {
	cfg := resetDB(t)
	mustReset(t, cfg)
	conn := connect(t, cfg)
	for _, c := range []struct {
		what  string
		query string
	}{
		{"every table has rows", `select (select count(*) from users) > 0 and (select count(*) from models) > 0
			and (select count(*) from devices) > 0 and (select count(*) from pairing_tokens) > 0 and (select count(*) from session_tokens) > 0`},
		{"an email whose case differs from its lower()", `select exists (select 1 from users where email <> lower(email))`},
		{"a user with the default display name", `select exists (select 1 from users where display_name = '')`},
		{"every model source", `select array_agg(distinct source order by source) = '{builtin,import,upload}' from models`},
		{"a model with labels and supported chips", `select exists (select 1 from models where cardinality(labels) > 1 and cardinality(supported_chips) > 1)`},
		{"a model with the default empty arrays", `select exists (select 1 from models where labels = '{}' and supported_chips = '{}')`},
		{"supported chips include the target chip", `select bool_and(target_chip = any(supported_chips)) from models where supported_chips <> '{}'`},
		{"a soft-deleted model whose name a live one took", `select exists (select 1 from models d join models l using (owner_id, name)
			where d.deleted_at is not null and l.deleted_at is null)`},
		{"every lifecycle state among live devices", `select array_agg(distinct lifecycle_state order by lifecycle_state) = '{paired,pairing,retired,unpaired}' from devices where deleted_at is null`},
		{"every connection state among live devices", `select array_agg(distinct connection_state order by connection_state) = '{offline,online,unknown}' from devices where deleted_at is null`},
		{"a soft-deleted device whose serial a live one registered again", `select exists (select 1 from devices d join devices l using (serial)
			where d.deleted_at is not null and l.deleted_at is null)`},
		{"a consumed, an expired and a live pairing token", `select count(*) filter (where consumed_at is not null) > 0
			and count(*) filter (where consumed_at is null and revoked_at is null and expires_at < now()) > 0
			and count(*) filter (where consumed_at is null and revoked_at is null and expires_at > now()) > 0 from pairing_tokens`},
		{"the pairing device has its live token", `select exists (select 1 from devices d join pairing_tokens p on p.device_id = d.id
			where d.lifecycle_state = 'pairing' and p.consumed_at is null and p.revoked_at is null and p.expires_at > now())`},
		{"a revoked and a live session token", `select count(*) filter (where revoked_at is not null) > 0
			and count(*) filter (where revoked_at is null and expires_at > now()) > 0 from session_tokens`},
		{"a deleted device's tokens are revoked", `select not exists (
			select 1 from devices d join pairing_tokens p on p.device_id = d.id where d.deleted_at is not null and p.revoked_at is null and p.consumed_at is null
			union all
			select 1 from devices d join session_tokens s on s.device_id = d.id where d.deleted_at is not null and s.revoked_at is null)`},
		{"the seeded tokens are the documented strings' hashes", `select exists (select 1 from session_tokens where token_hash = sha256('seed-session-front-gate'::bytea))`},
	} {
		t.Run(c.what, func(t *testing.T) {
			var ok bool
			if err := conn.QueryRow(context.Background(), c.query).Scan(&ok); err != nil {
				t.Errorf("%s: %v", c.what, err)
			} else if !ok {
				t.Errorf("the seed lacks %s", c.what)
			}
		})
	}
}

func TestResetSeedErrorNamesFileAndLine(t *testing.T) {
	ctx := context.Background()
	cfg := resetDB(t)
	bad := fstest.MapFS{
		"001_users.sql": {Data: []byte("insert into users (email, password_hash) values ('a@example.com', 'x');\n")},
		"002_bad.sql": {Data: []byte("-- a user whose email breaks users_email_check\n" +
			"insert into users (email, password_hash)\n" +
			"values ('b@example.com', 'x');\n" +
			"select nope from users;\n")},
		"README.md":   {Data: []byte("not seed\n")},
		".#003.sql":   {Data: []byte("an editor's lock file, not seed\n")},
		"sub/004.sql": {Data: []byte("not at the top, not seed\n")},
	}
	rep, err := db.Reset(ctx, cfg, migrations.FS, bad)
	var se *db.SeedError
	if !errors.As(err, &se) || !errors.Is(err, db.ErrSeedFailed) {
		t.Fatalf("err = %v, want *SeedError", err)
	}
	if se.File != "002_bad.sql" || se.Line != 4 || se.Column != 8 || se.SQLState != "42703" {
		t.Errorf("error = %+v, want 002_bad.sql line 4 column 8 SQLSTATE 42703", se)
	}
	for _, want := range []string{"seed 002_bad.sql:4:8: ", "42703", "rolled back"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	latest := newMigrator(t, cfg, nil).Source().Latest()
	if rep == nil || rep.Version != latest || rep.SeedFiles != nil || rep.SeedRows != 0 {
		t.Errorf("report %+v: want migrated to %d and nothing seeded", rep, latest)
	}
	mustVersion(t, newMigrator(t, cfg, nil), latest)
	if got := rowCounts(t, connect(t, cfg)); sum(got) != 0 {
		t.Errorf("rows %v kept from a failed seed, want none", got)
	}
}

func TestResetSeedMayNotEndItsTransaction(t *testing.T) {
	cfg := resetDB(t)
	committing := fstest.MapFS{"001.sql": {Data: []byte("insert into users (email, password_hash) values ('a@example.com', 'x');\ncommit;\n")}}
	_, err := db.Reset(context.Background(), cfg, migrations.FS, committing)
	var se *db.SeedError
	if !errors.As(err, &se) || se.File != "001.sql" || !strings.Contains(err.Error(), "COMMIT") {
		t.Fatalf("err = %v, want a *SeedError about the file's COMMIT", err)
	}
}

func TestResetRejectsAnEmptySeedDirectoryBeforeConnecting(t *testing.T) {
	cfg := config.DB{Host: "127.0.0.1", Port: 1, User: "u", Name: "n", SSLMode: "disable"}
	_, err := db.Reset(context.Background(), cfg, migrations.FS, fstest.MapFS{"README.md": {Data: []byte("x")}})
	if !errors.Is(err, db.ErrInvalidArgument) || errors.Is(err, postgres.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrInvalidArgument before any connection", err)
	}
}

func TestResetWaitsForTheMigrationLock(t *testing.T) {
	ctx := context.Background()
	cfg := resetDB(t)
	mustReset(t, cfg)
	holderCfg := cfg
	holderCfg.AppName = "reset-lock-holder"
	holder := connect(t, holderCfg)
	key := holdLock(t, holder)
	t.Run("while the lock is held", func(t *testing.T) {
		_, err := db.Reset(ctx, cfg, migrations.FS, seed.FS, db.WithLockTimeout(300*time.Millisecond))
		var lte *db.LockTimeoutError
		if !errors.As(err, &lte) || lte.Holder == nil || lte.Holder.ApplicationName != "reset-lock-holder" {
			t.Fatalf("err = %v, want *LockTimeoutError naming reset-lock-holder", err)
		}
		if got := rowCounts(t, connect(t, cfg)); sum(got) == 0 {
			t.Error("the reset that timed out dropped the data")
		}
	})
	if _, err := holder.Exec(ctx, "select pg_advisory_unlock($1)", key); err != nil {
		t.Fatal(err)
	}

	// Once the lock is free; without a seed the tables stay empty.
	t.Run("once the lock is free", func(t *testing.T) {
		rep, err := db.Reset(ctx, cfg, migrations.FS, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.SeedFiles != nil || rep.SeedRows != 0 {
			t.Errorf("report %+v: want no seed", rep)
		}
		if got := rowCounts(t, connect(t, cfg)); sum(got) != 0 {
			t.Errorf("rows %v after a reset without seed, want none", got)
		}
	})
}

// rowCounts counts the rows of every table of the schema.
func rowCounts(t *testing.T, conn *pgx.Conn) map[string]int64 {
	t.Helper()
	counts := map[string]int64{}
	for _, table := range []string{"users", "models", "devices", "pairing_tokens", "session_tokens"} {
		var n int64
		if err := conn.QueryRow(context.Background(), "select count(*) from "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		counts[table] = n
	}
	return counts
}

func sum(counts map[string]int64) int64 {
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}

func userIDs(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	var ids []string
	if err := conn.QueryRow(context.Background(), "select coalesce(array_agg(id::text order by id), '{}') from users").Scan(&ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

// objects lists everything in the user schemas, implicit objects (indexes, row and array types,
// constraints' triggers) included, and the extensions and schemas themselves: two databases with
// the same list have the same schema as far as a reset is concerned.
func objects(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	const q = `with n as (select oid, nspname from pg_namespace where nspname !~ '^pg_' and nspname <> 'information_schema')
	select 'schema ' || nspname from n
	union all select 'extension ' || extname from pg_extension
	union all select 'relation/' || c.relkind::text || ' ' || n.nspname || '.' || c.relname from pg_class c join n on n.oid = c.relnamespace
	union all select 'function ' || p.oid::regprocedure::text from pg_proc p join n on n.oid = p.pronamespace
	union all select 'type ' || t.oid::regtype::text from pg_type t join n on n.oid = t.typnamespace
	union all select 'constraint ' || c.conname from pg_constraint c join n on n.oid = c.connamespace
	union all select 'trigger ' || tgname from pg_trigger where not tgisinternal
	order by 1`
	return testenv.Column[string](t, conn, q)
}

// publicSchema describes schema public's owner and privileges.
func publicSchema(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), "select nspowner::regrole::text || ' ' || coalesce(nspacl::text, '') from pg_namespace where nspname = 'public'").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
