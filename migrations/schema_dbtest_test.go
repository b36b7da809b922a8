//go:build dbtest

// The schema's behaviour on real PostgreSQL: the rules docs/database.md promises, each checked by
// its SQLSTATE and the name of the constraint or index that enforces it, so a renamed or dropped
// constraint fails here too. Run by `go run mage.go testDB` (go test -tags dbtest), which provides
// a migrated template database; see testenv.DBTestDatabase.
package migrations_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"visiona-backend/internal/db"
	"visiona-backend/internal/lines"
	"visiona-backend/internal/migfile"
	"visiona-backend/internal/testenv"
	"visiona-backend/migrations"
)

// SQLSTATEs asserted below.
const (
	uniqueViolation     = "23505"
	checkViolation      = "23514"
	notNullViolation    = "23502"
	foreignKeyViolation = "23503"
)

// past is a time no test runs at: a row stamped with it shows whether a statement touched it.
var past = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func TestSchema(t *testing.T) {
	pool, err := pgxpool.New(t.Context(), testenv.DBTestDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	// Registered after the database's drop, so it runs before it.
	t.Cleanup(pool.Close)
	requireLatest(t, pool)

	// Each case runs in its own transaction, rolled back at the end: the cases share the
	// database and run in parallel without seeing each other's rows, as long as their unique
	// values differ. Inside a transaction now() is fixed, which makes "set to now()" exact.
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, tx pgx.Tx)
	}{
		{"email is unique case-insensitively", emailUniqueness},
		{"email must look like an address", emailCheck},
		{"live serials are unique, deleted ones free", serialUniqueness},
		{"live model names are unique per owner, deleted ones free", modelNameUniqueness},
		{"device states are closed lists", deviceStates},
		{"model source is a closed list", modelSource},
		{"model arrays default to empty and refuse NULL", modelArrays},
		{"tokens expire after they are created and are SHA-256 sized", tokenChecks},
		{"foreign keys", foreignKeys},
		{"updated_at trigger", updatedAtTrigger},
		{"documented model upsert", modelUpsert},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tx, err := pool.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.WithoutCancel(t.Context()))
			c.fn(t, tx)
		})
	}
}

// requireLatest stops the suite when the template is not at the newest migration: every failure
// below would otherwise be about a stale template, not the schema.
func requireLatest(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	src, err := migfile.LoadSource(migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	var version int64
	var dirty bool
	if err := pool.QueryRow(t.Context(), "select version, dirty from "+db.VersionTable).Scan(&version, &dirty); err != nil {
		t.Fatalf("read the template's version: %v (%s must name a migrated database)", err, testenv.EnvDBTestTemplate)
	}
	if version != int64(src.Latest()) || dirty {
		t.Fatalf("the template is at version %d (dirty=%v), the files at %d: migrate it up first", version, dirty, src.Latest())
	}
}

func emailUniqueness(t *testing.T, tx pgx.Tx) {
	id := newUser(t, tx, "Erin.Unique@Example.COM")
	for _, dup := range []string{"Erin.Unique@Example.COM", "erin.unique@example.com", "ERIN.UNIQUE@EXAMPLE.COM"} {
		expectError(t, tx, uniqueViolation, "users_email_lower_key",
			"insert into users (email, password_hash) values ($1, 'x')", dup)
	}
	// The column keeps what was typed; the login lookup finds it whatever the case.
	var email, found string
	if err := tx.QueryRow(t.Context(), "select email, id::text from users where lower(email) = lower($1)", "ERIN.unique@example.com").Scan(&email, &found); err != nil {
		t.Fatal(err)
	}
	if email != "Erin.Unique@Example.COM" || found != id {
		t.Errorf("login lookup found %s %q, want %s with the email as typed", found, email, id)
	}
}

func emailCheck(t *testing.T, tx pgx.Tx) {
	for _, bad := range []string{"no-at-sign.example.com", "@example.com", ""} {
		expectError(t, tx, checkViolation, "users_email_check",
			"insert into users (email, password_hash) values ($1, 'x')", bad)
	}
}

func serialUniqueness(t *testing.T, tx pgx.Tx) {
	owner := newUser(t, tx, "serials@example.com")
	first := newDevice(t, tx, owner, "DBTEST-SERIAL-1")
	expectError(t, tx, uniqueViolation, "devices_serial_live_key",
		"insert into devices (owner_id, serial) values ($1, $2)", owner, "DBTEST-SERIAL-1")

	mustExec(t, tx, "update devices set deleted_at = now() where id = $1", first)
	again := newDevice(t, tx, owner, "DBTEST-SERIAL-1")
	if again == first {
		t.Fatal("the re-registered device has the deleted one's id")
	}
	// Undeleting the first now collides with the live one: the documented, intended outcome.
	expectError(t, tx, uniqueViolation, "devices_serial_live_key",
		"update devices set deleted_at = null where id = $1", first)
}

func modelNameUniqueness(t *testing.T, tx pgx.Tx) {
	owner := newUser(t, tx, "names@example.com")
	other := newUser(t, tx, "names-other@example.com")
	first := newModel(t, tx, owner, "detector")
	expectError(t, tx, uniqueViolation, "models_owner_id_name_live_key",
		"insert into models (owner_id, name, target_chip, source, faa_object_key) values ($1, 'detector', 'hailo8', 'upload', 'k')", owner)
	newModel(t, tx, other, "detector") // another owner may use the name
	mustExec(t, tx, "update models set deleted_at = now() where id = $1", first)
	newModel(t, tx, owner, "detector")
}

func deviceStates(t *testing.T, tx pgx.Tx) {
	owner := newUser(t, tx, "states@example.com")
	id := newDevice(t, tx, owner, "DBTEST-STATES")
	var lifecycle, connection string
	if err := tx.QueryRow(t.Context(), "select lifecycle_state, connection_state from devices where id = $1", id).Scan(&lifecycle, &connection); err != nil {
		t.Fatal(err)
	}
	if lifecycle != "unpaired" || connection != "unknown" {
		t.Errorf("a new device is %s/%s, want unpaired/unknown", lifecycle, connection)
	}
	for _, s := range []string{"unpaired", "pairing", "paired", "retired"} {
		mustExec(t, tx, "update devices set lifecycle_state = $2 where id = $1", id, s)
	}
	for _, s := range []string{"online", "offline", "unknown"} {
		mustExec(t, tx, "update devices set connection_state = $2 where id = $1", id, s)
	}
	// The old single status's values, other spellings, and the other column's values are refused.
	for _, bad := range []string{"active", "Paired", "online", ""} {
		expectError(t, tx, checkViolation, "devices_lifecycle_state_check",
			"update devices set lifecycle_state = $2 where id = $1", id, bad)
	}
	for _, bad := range []string{"connected", "Online", "paired", ""} {
		expectError(t, tx, checkViolation, "devices_connection_state_check",
			"update devices set connection_state = $2 where id = $1", id, bad)
	}
	expectError(t, tx, checkViolation, "devices_lifecycle_state_check",
		"insert into devices (owner_id, serial, lifecycle_state) values ($1, 'DBTEST-STATES-2', 'sleeping')", owner)
}

func modelSource(t *testing.T, tx pgx.Tx) {
	owner := newUser(t, tx, "sources@example.com")
	for _, s := range []string{"upload", "import", "builtin"} {
		mustExec(t, tx, "insert into models (owner_id, name, target_chip, source, faa_object_key) values ($1, $2, 'hailo8', $2, 'k')", owner, s)
	}
	for _, bad := range []string{"download", "Upload", "", "builtin "} {
		expectError(t, tx, checkViolation, "models_source_check",
			"insert into models (owner_id, name, target_chip, source, faa_object_key) values ($1, 'm', 'hailo8', $2, 'k')", owner, bad)
	}
}

func modelArrays(t *testing.T, tx pgx.Tx) {
	owner := newUser(t, tx, "arrays@example.com")
	id := newModel(t, tx, owner, "no-arrays-given")
	var labels, chips []string
	var empty bool
	if err := tx.QueryRow(t.Context(), "select labels, supported_chips, labels = '{}' and supported_chips = '{}' from models where id = $1", id).Scan(&labels, &chips, &empty); err != nil {
		t.Fatal(err)
	}
	if !empty || labels == nil || chips == nil || len(labels) != 0 || len(chips) != 0 {
		t.Errorf("labels %#v, supported_chips %#v: want both '{}', never NULL", labels, chips)
	}
	const insert = "insert into models (owner_id, name, target_chip, source, faa_object_key, labels, supported_chips) values ($1, $2, 'hailo8', 'upload', 'k', $3, $4)"
	mustExec(t, tx, insert, owner, "ordered", []string{"person", "car"}, []string{"hailo8", "hailo8l"})
	expectError(t, tx, checkViolation, "models_labels_check", insert, owner, "null-label", []*string{ptr("person"), nil}, []string{})
	expectError(t, tx, checkViolation, "models_supported_chips_check", insert, owner, "null-chip", []string{}, []*string{nil})
	for _, col := range []string{"labels", "supported_chips"} {
		e := expectError(t, tx, notNullViolation, "", "update models set "+col+" = null where id = $1", id)
		if e != nil && e.ColumnName != col {
			t.Errorf("NULL %s: the error names column %q", col, e.ColumnName)
		}
	}
}

func tokenChecks(t *testing.T, tx pgx.Tx) {
	owner := newUser(t, tx, "tokens@example.com")
	device := newDevice(t, tx, owner, "DBTEST-TOKENS")
	for _, table := range []string{"pairing_tokens", "session_tokens"} {
		insert := "insert into " + table + " (token_hash, device_id, created_at, expires_at) values (sha256($1::bytea), $2, $3, $4)"
		mustExec(t, tx, insert, []byte(table+"-ok"), device, past, past.Add(time.Minute))
		for _, expires := range []time.Time{past, past.Add(-time.Second)} {
			expectError(t, tx, checkViolation, table+"_expires_at_check", insert, []byte(table+"-bad"), device, past, expires)
		}
		// The default created_at is now(): an expiry in the past is refused without naming it.
		expectError(t, tx, checkViolation, table+"_expires_at_check",
			"insert into "+table+" (token_hash, device_id, expires_at) values (sha256('late'::bytea), $1, now() - interval '1 second')", device)
		for _, size := range []int{0, 31, 33, 64} {
			expectError(t, tx, checkViolation, table+"_token_hash_check",
				"insert into "+table+" (token_hash, device_id, expires_at) values ($1, $2, now() + interval '1 hour')", make([]byte, size), device)
		}
		expectError(t, tx, uniqueViolation, table+"_pkey", insert, []byte(table+"-ok"), device, past, past.Add(time.Hour))
	}
}

func foreignKeys(t *testing.T, tx pgx.Tx) {
	owner := newUser(t, tx, "fk@example.com")
	device := newDevice(t, tx, owner, "DBTEST-FK")
	newModel(t, tx, owner, "fk-model")
	mustExec(t, tx, "insert into pairing_tokens (token_hash, device_id, expires_at) values (sha256('fk-p'::bytea), $1, now() + interval '1 hour')", device)
	mustExec(t, tx, "insert into session_tokens (token_hash, device_id, expires_at) values (sha256('fk-s'::bytea), $1, now() + interval '1 hour')", device)

	// Users are never hard-deleted while they own rows, live or not.
	e := expectError(t, tx, foreignKeyViolation, "", "delete from users where id = $1", owner)
	if e != nil && e.ConstraintName != "models_owner_id_fkey" && e.ConstraintName != "devices_owner_id_fkey" {
		t.Errorf("deleting an owner: constraint %q, want an owner foreign key", e.ConstraintName)
	}
	expectError(t, tx, foreignKeyViolation, "devices_owner_id_fkey",
		"insert into devices (owner_id, serial) values (gen_random_uuid(), 'DBTEST-FK-ORPHAN')")
	expectError(t, tx, foreignKeyViolation, "pairing_tokens_device_id_fkey",
		"insert into pairing_tokens (token_hash, device_id, expires_at) values (sha256('orphan'::bytea), gen_random_uuid(), now() + interval '1 hour')")

	// A purge of the device takes its tokens along.
	mustExec(t, tx, "delete from devices where id = $1", device)
	var left int
	if err := tx.QueryRow(t.Context(), "select (select count(*) from pairing_tokens where device_id = $1) + (select count(*) from session_tokens where device_id = $1)", device).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d tokens outlived their purged device", left)
	}
}

func updatedAtTrigger(t *testing.T, tx pgx.Tx) {
	// Rows are inserted stamped in the past: the trigger runs on update only, so the stamp sticks
	// and shows whether a later update moved it.
	owner := insertID(t, tx, "insert into users (email, password_hash, created_at, updated_at) values ('trigger@example.com', 'x', $1, $1) returning id", past)
	model := insertID(t, tx, `insert into models (owner_id, name, target_chip, source, faa_object_key, created_at, updated_at)
		values ($1, 'trigger-model', 'hailo8', 'upload', 'k', $2, $2) returning id`, owner, past)
	device := insertID(t, tx, "insert into devices (owner_id, serial, created_at, updated_at) values ($1, 'DBTEST-TRIGGER', $2, $2) returning id", owner, past)
	for _, c := range []struct {
		table, id, noop, change string
	}{
		{"users", owner, "display_name = display_name", "display_name = 'Changed'"},
		{"models", model, "labels = labels, name = name", "labels = '{cat}'"},
		{"devices", device, "connection_state = connection_state", "connection_state = 'online'"},
	} {
		t.Run(c.table, func(t *testing.T) {
			// An update that changes nothing (an idempotent upsert) leaves updated_at alone.
			mustExec(t, tx, "update "+c.table+" set "+c.noop+" where id = $1", c.id)
			if got := updatedAt(t, tx, c.table, c.id); !got.Equal(past) {
				t.Errorf("%s: a no-op update moved updated_at from %s to %s", c.table, past, got)
			}
			mustExec(t, tx, "update "+c.table+" set "+c.change+" where id = $1", c.id)
			var bumped, createdKept bool
			if err := tx.QueryRow(t.Context(), "select updated_at = now(), created_at = $2 from "+c.table+" where id = $1", c.id, past).Scan(&bumped, &createdKept); err != nil {
				t.Fatal(err)
			}
			if !bumped || !createdKept {
				t.Errorf("%s: after a change, updated_at = now() is %v and created_at kept is %v; want both", c.table, bumped, createdKept)
			}
			// Code never sets updated_at: a value it writes is replaced by the transaction time.
			mustExec(t, tx, "update "+c.table+" set updated_at = $2 where id = $1", c.id, past)
			var overridden bool
			if err := tx.QueryRow(t.Context(), "select updated_at = now() from "+c.table+" where id = $1", c.id).Scan(&overridden); err != nil {
				t.Fatal(err)
			}
			if !overridden {
				t.Errorf("%s: an explicit updated_at was kept instead of the trigger's now()", c.table)
			}
		})
	}
}

func updatedAt(t *testing.T, tx pgx.Tx, table, id string) time.Time {
	t.Helper()
	var at time.Time
	if err := tx.QueryRow(t.Context(), "select updated_at from "+table+" where id = $1", id).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at
}

// modelUpsert runs the upsert exactly as docs/database.md prints it, so the documentation cannot
// drift from the schema unnoticed.
func modelUpsert(t *testing.T, tx pgx.Tx) {
	upsert := documentedUpsert(t)
	owner := newUser(t, tx, "upsert@example.com")
	var id string
	err := tx.QueryRow(t.Context(), `insert into models (owner_id, name, target_chip, source, faa_object_key, labels, supported_chips, created_at, updated_at)
		values ($1, 'detector', 'hailo8', 'upload', 'k1', '{person}', '{hailo8}', $2, $2) returning id`, owner, past).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	run := func(chip, key string, labels, chips []string) (gotID string, created, updated time.Time) {
		t.Helper()
		if err := tx.QueryRow(t.Context(), upsert, owner, "detector", chip, "upload", key, labels, chips).Scan(&gotID, &created, &updated); err != nil {
			t.Fatalf("documented upsert: %v", err)
		}
		return gotID, created, updated
	}

	// The same upload again changes nothing, so the trigger leaves updated_at alone.
	gotID, created, updated := run("hailo8", "k1", []string{"person"}, []string{"hailo8"})
	if gotID != id || !created.Equal(past) || !updated.Equal(past) {
		t.Errorf("idempotent upsert: id %s created %s updated %s, want %s and both times kept at %s", gotID, created, updated, id, past)
	}
	// A new file replaces the model in place: same id, first upload's created_at, new updated_at.
	gotID, created, updated = run("hailo8l", "k2", []string{"person", "car"}, []string{"hailo8l"})
	var now time.Time
	if err := tx.QueryRow(t.Context(), "select now()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	if gotID != id || !created.Equal(past) || !updated.Equal(now) {
		t.Errorf("replacing upsert: id %s created %s updated %s, want %s, created kept at %s, updated %s", gotID, created, updated, id, past, now)
	}
	var chip, key string
	var rows int
	if err := tx.QueryRow(t.Context(), "select target_chip, faa_object_key, count(*) over () from models where owner_id = $1", owner).Scan(&chip, &key, &rows); err != nil {
		t.Fatal(err)
	}
	if chip != "hailo8l" || key != "k2" || rows != 1 {
		t.Errorf("after the upsert: chip %s key %s in %d rows, want hailo8l k2 in 1", chip, key, rows)
	}
	// A deleted model is not the conflict target: uploading its name again makes a new model.
	mustExec(t, tx, "update models set deleted_at = now() where id = $1", id)
	if gotID, created, _ = run("hailo8", "k3", []string{}, []string{}); gotID == id || !created.Equal(now) {
		t.Errorf("upsert after delete: id %s created %s, want a new model created now", gotID, created)
	}
}

// documentedUpsert extracts the SQL block of docs/database.md's "Model upsert" section.
func documentedUpsert(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/database.md")
	if err != nil {
		t.Fatalf("read the documented upsert: %v", err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Model upsert\n")
	if ok {
		section, _, _ = strings.Cut(section, "\n## ")
		_, section, ok = strings.Cut(section, "```sql\n")
	}
	if ok {
		section, _, ok = strings.Cut(section, "```")
	}
	if !ok || !strings.Contains(section, "on conflict") {
		t.Fatal("docs/database.md has no ```sql block with the upsert under \"## Model upsert\"")
	}
	return section
}

// expectError runs sql in a savepoint and checks that it fails with SQLSTATE code, raised by the
// constraint or index named constraint ("" for errors that carry no name, such as NOT NULL). The
// savepoint keeps the test's transaction usable. It returns the error for further checks, or nil
// after reporting a mismatch.
func expectError(t *testing.T, tx pgx.Tx, code, constraint, sql string, args ...any) *pgconn.PgError {
	t.Helper()
	sp, err := tx.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Rollback(context.WithoutCancel(t.Context()))
	_, err = sp.Exec(t.Context(), sql, args...)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		t.Errorf("%s %v: succeeded, want SQLSTATE %s on %q", lines.Fold(sql), args, code, constraint)
		return nil
	case !errors.As(err, &pgErr):
		t.Fatalf("%s: %v", lines.Fold(sql), err)
	case pgErr.Code != code || (constraint != "" && pgErr.ConstraintName != constraint):
		t.Errorf("%s %v: SQLSTATE %s on %q (%s), want SQLSTATE %s on %q", lines.Fold(sql), args, pgErr.Code, pgErr.ConstraintName, pgErr.Message, code, constraint)
		return nil
	}
	return pgErr
}

func mustExec(t *testing.T, tx pgx.Tx, sql string, args ...any) {
	t.Helper()
	if _, err := tx.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", lines.Fold(sql), err)
	}
}

func newUser(t *testing.T, tx pgx.Tx, email string) string {
	t.Helper()
	return insertID(t, tx, "insert into users (email, password_hash) values ($1, 'x') returning id", email)
}

func newDevice(t *testing.T, tx pgx.Tx, owner, serial string) string {
	t.Helper()
	return insertID(t, tx, "insert into devices (owner_id, serial) values ($1, $2) returning id", owner, serial)
}

func newModel(t *testing.T, tx pgx.Tx, owner, name string) string {
	t.Helper()
	return insertID(t, tx, "insert into models (owner_id, name, target_chip, source, faa_object_key) values ($1, $2, 'hailo8', 'upload', 'k') returning id", owner, name)
}

func insertID(t *testing.T, tx pgx.Tx, sql string, args ...any) string {
	t.Helper()
	var id string
	if err := tx.QueryRow(t.Context(), sql, args...).Scan(&id); err != nil {
		t.Fatalf("%s: %v", lines.Fold(sql), err)
	}
	return id
}

func ptr[T any](v T) *T { return &v }
