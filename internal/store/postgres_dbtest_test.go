//go:build dbtest

package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"visiona-backend/internal/postgres"
	"visiona-backend/internal/testenv"
)

// newPool returns a pool on a fresh database cloned from the migrated template (dropped when
// the test ends). 30 connections: the contract's 20 concurrent consumes must really run at
// once, next to the other parallel subtests.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	cfg := testenv.DBTestDB(t)
	cfg.MaxConns, cfg.AppName = 30, "visiona-store-dbtest"
	pool, err := postgres.NewPool(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestPostgresContract runs the shared contract against PostgreSQL; the subtests share one
// database (the contract is written for that) but each gets its own stores and clock.
func TestPostgresContract(t *testing.T) {
	pool := newPool(t)
	runContract(t, func(t *testing.T, opts ...Option) *Stores {
		s, err := NewPostgres(pool, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

type pgFixture struct {
	*fixture
	pool *pgxpool.Pool
}

func newPGFixture(t *testing.T, opts ...Option) *pgFixture {
	pool := newPool(t)
	f := newFixture(t, func(t *testing.T, opts ...Option) *Stores {
		s, err := NewPostgres(pool, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, opts...)
	return &pgFixture{fixture: f, pool: pool}
}

func (f *pgFixture) exec(sql string, args ...any) {
	f.t.Helper()
	if _, err := f.pool.Exec(f.ctx, sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

func (f *pgFixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(f.ctx, sql, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// revokedCounts says how many of a device's rows are marked: deleted (0/1), pairing tokens
// revoked, session tokens revoked.
func (f *pgFixture) revokedCounts(deviceID string) (deleted, pairing, sessions int) {
	f.t.Helper()
	deleted = f.count(`select count(*) from devices where id = $1 and deleted_at is not null`, deviceID)
	pairing = f.count(`select count(*) from pairing_tokens where device_id = $1 and revoked_at is not null`, deviceID)
	sessions = f.count(`select count(*) from session_tokens where device_id = $1 and revoked_at is not null`, deviceID)
	return
}

// TestPostgresSoftDeleteAtomicOnSQLFailure makes the last statement of the deletion fail for real
// (a trigger raising an exception on session_tokens) after the first two have run, and shows the
// transaction left every row as it was; then, without the trigger, that the same call marks
// exactly the rows docs/database.md says (a consumed pairing token is not revoked).
func TestPostgresSoftDeleteAtomicOnSQLFailure(t *testing.T) {
	f := newPGFixture(t)
	d := f.deviceWithTokens(f.user())
	f.exec(`create function fail_revocation() returns trigger language plpgsql as $$
begin
    raise exception 'injected failure revoking %', new.token_hash;
end $$`)
	f.exec(`create trigger fail_revocation before update on session_tokens for each row execute function fail_revocation()`)

	err := f.Devices.SoftDelete(f.ctx, d.ID)
	var de *postgres.Error
	if !errors.As(err, &de) || de.SQLState != "P0001" {
		t.Fatalf("SoftDelete = %v; want the trigger's error (SQLSTATE P0001)", err)
	}
	if del, p, s := f.revokedCounts(d.ID); del+p+s != 0 {
		t.Fatalf("after the failed delete: deleted %d, pairing revoked %d, sessions revoked %d; want nothing changed", del, p, s)
	}

	f.exec(`drop trigger fail_revocation on session_tokens`)
	noErr(t, f.Devices.SoftDelete(f.ctx, d.ID))
	if del, p, s := f.revokedCounts(d.ID); del != 1 || p != 1 || s != 2 {
		t.Fatalf("after the delete: deleted %d, pairing revoked %d, sessions revoked %d; want 1, 1 (the consumed one stays unrevoked), 2", del, p, s)
	}
	if n := f.count(`select count(*) from pairing_tokens where device_id = $1 and consumed_at is not null and revoked_at is null`, d.ID); n != 1 {
		t.Fatalf("consumed pairing tokens left unrevoked: %d, want 1", n)
	}
}

// TestPostgresSoftDeleteAtomicHook checks the rows themselves (not only through the API) after a
// failure injected between the statements.
func TestPostgresSoftDeleteAtomicHook(t *testing.T) {
	injected := errors.New("injected")
	f := newPGFixture(t, withAfterStep(func(step string) error {
		if step == stepPairingTokens {
			return injected
		}
		return nil
	}))
	d := f.deviceWithTokens(f.user())
	if err := f.Devices.SoftDelete(f.ctx, d.ID); !errors.Is(err, injected) {
		t.Fatalf("SoftDelete = %v, want the injected failure", err)
	}
	if del, p, s := f.revokedCounts(d.ID); del+p+s != 0 {
		t.Fatalf("after the failed delete: deleted %d, pairing revoked %d, sessions revoked %d; want nothing changed", del, p, s)
	}
}

// TestPostgresPartialUniqueIndexes shows the uniqueness rules live in the partial indexes: live
// rows collide, soft-deleted ones do not, and the conflict names the index for the store.
func TestPostgresPartialUniqueIndexes(t *testing.T) {
	f := newPGFixture(t)
	owner := f.user()
	d := f.device(owner)
	_, err := f.Devices.Register(f.ctx, NewDevice{OwnerID: owner.ID, Serial: d.Serial})
	var de *postgres.Error
	if !errors.As(err, &de) || de.Constraint != "devices_serial_live_key" || de.SQLState != "23505" {
		t.Fatalf("duplicate serial: %v; want a *postgres.Error for devices_serial_live_key", err)
	}
	noErr(t, f.Devices.SoftDelete(f.ctx, d.ID))
	for range 2 { // a serial can be deleted and registered again, repeatedly
		d2, err := f.Devices.Register(f.ctx, NewDevice{OwnerID: owner.ID, Serial: d.Serial})
		noErr(t, err)
		noErr(t, f.Devices.SoftDelete(f.ctx, d2.ID))
	}
	if n := f.count(`select count(*) from devices where serial = $1`, d.Serial); n != 3 {
		t.Fatalf("%d rows with the serial, want 3 (all soft-deleted)", n)
	}

	m := f.model(ModelInput{OwnerID: owner.ID, Name: "n", TargetChip: "c", Source: SourceUpload, FAAObjectKey: "k"})
	_, err = f.pool.Exec(f.ctx, `insert into models (owner_id, name, target_chip, source, faa_object_key) values ($1, 'n', 'c', 'upload', 'k')`, owner.ID)
	if !errors.As(postgres.MapError(err), &de) || de.Constraint != "models_owner_id_name_live_key" || !errors.Is(postgres.MapError(err), postgres.ErrConflict) {
		t.Fatalf("duplicate live model: %v; want a conflict on models_owner_id_name_live_key", err)
	}
	noErr(t, f.Models.SoftDelete(f.ctx, m.ID))
	f.exec(`insert into models (owner_id, name, target_chip, source, faa_object_key) values ($1, 'n', 'c', 'upload', 'k')`, owner.ID)
	// Undeleting while a newer live row holds the name fails, as the docs intend.
	_, err = f.pool.Exec(f.ctx, `update models set deleted_at = null where id = $1`, m.ID)
	if !errors.Is(postgres.MapError(err), postgres.ErrConflict) {
		t.Fatalf("undelete over a live name: %v, want a conflict", err)
	}
}

// TestPostgresUpsertRows checks the upsert at the row level: one live row per (owner, name),
// created_at kept, updated_at from the trigger, deleted rows untouched.
func TestPostgresUpsertRows(t *testing.T) {
	f := newPGFixture(t)
	owner := f.user()
	in := ModelInput{OwnerID: owner.ID, Name: "net", TargetChip: "c", Source: SourceUpload, FAAObjectKey: "k1"}
	first := f.model(in)
	noErr(t, f.Models.SoftDelete(f.ctx, first.ID))
	live := f.model(in)
	time.Sleep(2 * time.Millisecond)
	in.FAAObjectKey = "k2"
	res, err := f.Models.Upsert(f.ctx, in)
	noErr(t, err)
	if res.Model.ID != live.ID || res.PreviousObjectKey != "k1" {
		t.Fatalf("upsert = %+v, want a replacement of %s reporting k1", res, live.ID)
	}
	var created, updated time.Time
	var key string
	if err := f.pool.QueryRow(f.ctx, `select created_at, updated_at, faa_object_key from models where id = $1`, live.ID).Scan(&created, &updated, &key); err != nil {
		t.Fatal(err)
	}
	if !created.Equal(live.CreatedAt) || !updated.After(created) || !updated.Equal(res.Model.UpdatedAt) || key != "k2" {
		t.Fatalf("row: created %v updated %v key %s; want created %v kept, updated later, k2", created, updated, key, live.CreatedAt)
	}
	if n := f.count(`select count(*) from models where owner_id = $1 and name = 'net' and deleted_at is null`, owner.ID); n != 1 {
		t.Fatalf("%d live rows, want 1", n)
	}
	if n := f.count(`select count(*) from models where id = $1 and faa_object_key = 'k1' and deleted_at is not null`, first.ID); n != 1 {
		t.Fatal("the soft-deleted row was changed by the upsert")
	}
}

// TestPostgresConcurrentFirstUpload: many first uploads of one name at once. Every call
// succeeds, exactly one creates the model, and every object key but the last one written is
// reported exactly once as replaced: no object is orphaned, even when an upsert replaced a row
// it had not seen (the retry of upsertOnce).
func TestPostgresConcurrentFirstUpload(t *testing.T) {
	f := newPGFixture(t)
	owner := f.user()
	const n = 12
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]UpsertResult, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = f.Models.Upsert(f.ctx, ModelInput{OwnerID: owner.ID, Name: "race", TargetChip: "c",
				Source: SourceUpload, FAAObjectKey: fmt.Sprintf("key-%02d", i)})
		})
	}
	close(start)
	wg.Wait()
	created := 0
	var previous []string
	for i, err := range errs {
		noErr(t, err)
		if results[i].Replaced {
			previous = append(previous, results[i].PreviousObjectKey)
		} else {
			created++
		}
	}
	final, err := f.Models.List(f.ctx, ModelFilter{OwnerID: owner.ID})
	noErr(t, err)
	if created != 1 || len(final) != 1 {
		t.Fatalf("%d calls created the model, %d live models; want 1 and 1", created, len(final))
	}
	var want []string
	for i := range n {
		if k := fmt.Sprintf("key-%02d", i); k != final[0].FAAObjectKey {
			want = append(want, k)
		}
	}
	slices.Sort(previous)
	if !slices.Equal(previous, want) {
		t.Fatalf("reported replaced keys %v, want every key but the final %s exactly once: %v", previous, final[0].FAAObjectKey, want)
	}
}

// TestPostgresTokenRows: the database holds the SHA-256 of a token, never the token, and token
// times are the store clock's.
func TestPostgresTokenRows(t *testing.T) {
	f := newPGFixture(t)
	d := f.device(f.user())
	raw, tok, err := f.PairingTokens.Issue(f.ctx, d.ID, time.Hour)
	noErr(t, err)
	sess, _, err := f.SessionTokens.Issue(f.ctx, d.ID, time.Hour)
	noErr(t, err)
	for table, token := range map[string]string{"pairing_tokens": raw, "session_tokens": sess} {
		var hash []byte
		var created, expires time.Time
		if err := f.pool.QueryRow(f.ctx, `select token_hash, created_at, expires_at from `+table+` where device_id = $1`, d.ID).Scan(&hash, &created, &expires); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(token))
		if !slices.Equal(hash, sum[:]) {
			t.Errorf("%s.token_hash is not the SHA-256 of the token", table)
		}
		if !created.Equal(tok.CreatedAt) || !expires.Equal(tok.CreatedAt.Add(time.Hour)) {
			t.Errorf("%s: created %v expires %v; want the store clock's %v and an hour later", table, created, expires, tok.CreatedAt)
		}
		if n := f.count(`select count(*) from `+table+` where position(convert_to($1, 'UTF8') in token_hash) > 0`, token); n != 0 {
			t.Errorf("%s holds the raw token", table)
		}
	}
}

// TestPostgresConsumeRefusesDeletedDevice: a pairing token whose revocation was missed (written
// here by hand) still cannot pair a deleted device.
func TestPostgresConsumeRefusesDeletedDevice(t *testing.T) {
	f := newPGFixture(t)
	d := f.device(f.user())
	raw := f.pairing(d)
	f.exec(`update devices set deleted_at = now() where id = $1`, d.ID) // no revocation
	_, err := f.PairingTokens.Consume(f.ctx, raw)
	wantErr(t, err, postgres.ErrNotFound, "")
}

// TestPostgresStoresInCallerTransaction: on a pgx.Tx the stores' own transactions are savepoints,
// so a caller can make several calls atomic.
func TestPostgresStoresInCallerTransaction(t *testing.T) {
	f := newPGFixture(t)
	owner := f.user()
	serial := unique("SN-")
	errAbort := errors.New("abort")
	err := postgres.WithTx(f.ctx, f.pool, func(tx pgx.Tx) error {
		s, err := NewPostgres(tx)
		if err != nil {
			return err
		}
		d, err := s.Devices.Register(f.ctx, NewDevice{OwnerID: owner.ID, Serial: serial})
		if err != nil {
			return err
		}
		if _, _, err := s.PairingTokens.Issue(f.ctx, d.ID, time.Hour); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("WithTx = %v", err)
	}
	if n := f.count(`select count(*) from devices where serial = $1`, serial); n != 0 {
		t.Fatalf("%d devices left by a rolled-back caller transaction, want 0", n)
	}
}
