package store

// The contract every backend passes: run against the memory backend by plain `go test`
// (memory_test.go) and against PostgreSQL by the dbtest suite (postgres_dbtest_test.go). It uses
// only the exported API, except withAfterStep to inject failures. Subtests share nothing but may
// share a database, so every email and serial is unique and lists are asserted per owner.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"visiona-backend/internal/postgres"
)

// opener returns stores on a fresh or shared backend, with opts applied.
type opener func(t *testing.T, opts ...Option) *Stores

// fakeClock is the store clock of the contract: token expiry is tested by moving it, on both
// backends, without sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now().UTC().Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// fixture is one subtest's stores and clock, with helpers that fail the test on error.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	clock *fakeClock
	*Stores
}

func newFixture(t *testing.T, open opener, opts ...Option) *fixture {
	t.Helper()
	clock := newFakeClock()
	return &fixture{t: t, ctx: t.Context(), clock: clock, Stores: open(t, append([]Option{WithClock(clock.Now)}, opts...)...)}
}

func (f *fixture) user() User {
	f.t.Helper()
	u, err := f.Users.Create(f.ctx, NewUser{Email: unique("u") + "@example.com", PasswordHash: "$argon2id$v=19$fake"})
	if err != nil {
		f.t.Fatalf("create user: %v", err)
	}
	return u
}

func (f *fixture) device(owner User) Device {
	f.t.Helper()
	d, err := f.Devices.Register(f.ctx, NewDevice{OwnerID: owner.ID, Serial: unique("SN-"), Name: "cam"})
	if err != nil {
		f.t.Fatalf("register device: %v", err)
	}
	return d
}

func (f *fixture) model(in ModelInput) Model {
	f.t.Helper()
	res, err := f.Models.Upsert(f.ctx, in)
	if err != nil {
		f.t.Fatalf("upsert model %q: %v", in.Name, err)
	}
	return res.Model
}

func (f *fixture) pairing(d Device) string {
	f.t.Helper()
	raw, _, err := f.PairingTokens.Issue(f.ctx, d.ID, time.Hour)
	if err != nil {
		f.t.Fatalf("issue pairing token: %v", err)
	}
	return raw
}

func (f *fixture) session(d Device) string {
	f.t.Helper()
	raw, _, err := f.SessionTokens.Issue(f.ctx, d.ID, time.Hour)
	if err != nil {
		f.t.Fatalf("issue session token: %v", err)
	}
	return raw
}

// wantErr checks the sentinel and, when msg is set, the whole text (the same on every backend).
func wantErr(t *testing.T, err, kind error, msg string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want one that errors.Is %v", err, kind)
	}
	if msg != "" && err.Error() != msg {
		t.Fatalf("error text = %q, want %q", err.Error(), msg)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

const missingID = "3f1c2a4e-0000-4000-8000-000000000000" // a well-formed uuid no row has

func runContract(t *testing.T, open opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open opener)
	}{
		{"UsersCreateGet", testUsersCreateGet},
		{"UsersEmailCaseInsensitive", testUsersEmailCaseInsensitive},
		{"UsersDuplicateEmail", testUsersDuplicateEmail},
		{"UsersInvalidEmail", testUsersInvalidEmail},
		{"UsersNotFound", testUsersNotFound},
		{"ModelsUpsertKeepsCreatedAt", testModelsUpsertKeepsCreatedAt},
		{"ModelsUpsertUnchangedKeepsUpdatedAt", testModelsUpsertUnchanged},
		{"ModelsArraysRoundTrip", testModelsArraysRoundTrip},
		{"ModelsSoftDeleteFreesName", testModelsSoftDeleteFreesName},
		{"ModelsListFilters", testModelsListFilters},
		{"ModelsErrors", testModelsErrors},
		{"DevicesRegister", testDevicesRegister},
		{"DevicesSerialUniqueAmongLive", testDevicesSerialUnique},
		{"DevicesStatesIndependent", testDevicesStatesIndependent},
		{"DevicesSoftDeleteRevokesTokens", testDevicesSoftDeleteRevokes},
		{"DevicesSoftDeleteAtomic", testDevicesSoftDeleteAtomic},
		{"DevicesRetireRevokesTokens", testDevicesRetireRevokes},
		{"PairingConsumeOnce", testPairingConsumeOnce},
		{"PairingOneOutstanding", testPairingOneOutstanding},
		{"PairingExpiry", testPairingExpiry},
		{"PairingRevoke", testPairingRevoke},
		{"PairingConcurrentConsume", testPairingConcurrentConsume},
		{"SessionValidate", testSessionValidate},
		{"SessionExpiryAndRevoke", testSessionExpiryAndRevoke},
		{"TokensInvalidInput", testTokensInvalidInput},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// ---- users ----

func testUsersCreateGet(t *testing.T, open opener) {
	f := newFixture(t, open)
	email := unique("Ada.") + "@Example.com"
	u, err := f.Users.Create(f.ctx, NewUser{Email: email, PasswordHash: "$argon2id$x", DisplayName: "Ada"})
	noErr(t, err)
	if _, ok := canonicalID(u.ID); !ok || u.Email != email || u.PasswordHash != "$argon2id$x" || u.DisplayName != "Ada" {
		t.Fatalf("created user = %+v", u)
	}
	if u.CreatedAt.IsZero() || !u.CreatedAt.Equal(u.UpdatedAt) {
		t.Fatalf("created_at %v, updated_at %v: want equal, non-zero", u.CreatedAt, u.UpdatedAt)
	}
	got, err := f.Users.Get(f.ctx, u.ID)
	noErr(t, err)
	if got != u {
		t.Fatalf("Get = %+v, want %+v", got, u)
	}
	// An id in upper case is the same uuid.
	got, err = f.Users.Get(f.ctx, strings.ToUpper(u.ID))
	noErr(t, err)
	if got.ID != u.ID {
		t.Fatalf("Get(upper id).ID = %s, want %s", got.ID, u.ID)
	}
}

func testUsersEmailCaseInsensitive(t *testing.T, open opener) {
	f := newFixture(t, open)
	local := unique("Grace.")
	u, err := f.Users.Create(f.ctx, NewUser{Email: local + "@Example.COM", PasswordHash: "h"})
	noErr(t, err)
	got, err := f.Users.GetByEmail(f.ctx, strings.ToLower(local)+"@example.com")
	noErr(t, err)
	if got.ID != u.ID || got.Email != local+"@Example.COM" {
		t.Fatalf("GetByEmail = %+v, want user %s with the email as typed", got, u.ID)
	}
}

func testUsersDuplicateEmail(t *testing.T, open opener) {
	f := newFixture(t, open)
	email := unique("dup") + "@example.com"
	_, err := f.Users.Create(f.ctx, NewUser{Email: email, PasswordHash: "h"})
	noErr(t, err)
	_, err = f.Users.Create(f.ctx, NewUser{Email: strings.ToUpper(email), PasswordHash: "h"})
	wantErr(t, err, postgres.ErrConflict, "create user: conflict: a user with that email already exists")
	var se *Error
	if !errors.As(err, &se) || se.Msg != msgEmailTaken {
		t.Fatalf("error %v is not a *store.Error with Msg %q", err, msgEmailTaken)
	}
}

func testUsersInvalidEmail(t *testing.T, open opener) {
	f := newFixture(t, open)
	for _, email := range []string{"nobody", "@example.com", ""} {
		_, err := f.Users.Create(f.ctx, NewUser{Email: email, PasswordHash: "h"})
		wantErr(t, err, postgres.ErrCheck, "create user: invalid value: the email must contain @ after its first character")
	}
}

func testUsersNotFound(t *testing.T, open opener) {
	f := newFixture(t, open)
	_, err := f.Users.Get(f.ctx, missingID)
	wantErr(t, err, postgres.ErrNotFound, "get user: not found: no such user")
	_, err = f.Users.Get(f.ctx, "not-a-uuid")
	wantErr(t, err, postgres.ErrNotFound, "get user: not found: no such user")
	_, err = f.Users.GetByEmail(f.ctx, unique("nobody")+"@example.com")
	wantErr(t, err, postgres.ErrNotFound, "get user by email: not found: no such user")
}

// ---- models ----

func testModelsUpsertKeepsCreatedAt(t *testing.T, open opener) {
	f := newFixture(t, open)
	owner := f.user()
	first, err := f.Models.Upsert(f.ctx, ModelInput{OwnerID: owner.ID, Name: "yolo", TargetChip: "hailo8",
		Source: SourceUpload, FAAObjectKey: "k1", Labels: []string{"cat"}, SupportedChips: []string{"hailo8"}})
	noErr(t, err)
	if first.Replaced || first.PreviousObjectKey != "" {
		t.Fatalf("first upsert: Replaced %v, PreviousObjectKey %q; want a new model", first.Replaced, first.PreviousObjectKey)
	}
	f.clock.Advance(time.Minute)
	time.Sleep(2 * time.Millisecond) // the database's updated_at is the server's time: let it move
	second, err := f.Models.Upsert(f.ctx, ModelInput{OwnerID: owner.ID, Name: "yolo", TargetChip: "hailo15",
		Source: SourceImport, FAAObjectKey: "k2", Labels: []string{"cat", "dog"}, SupportedChips: []string{"hailo15", "hailo8"}})
	noErr(t, err)
	m1, m2 := first.Model, second.Model
	switch {
	case !second.Replaced || second.PreviousObjectKey != "k1":
		t.Fatalf("second upsert: Replaced %v, PreviousObjectKey %q; want true, k1", second.Replaced, second.PreviousObjectKey)
	case m2.ID != m1.ID:
		t.Fatalf("upsert changed the id: %s -> %s", m1.ID, m2.ID)
	case !m2.CreatedAt.Equal(m1.CreatedAt):
		t.Fatalf("upsert changed created_at: %v -> %v", m1.CreatedAt, m2.CreatedAt)
	case !m2.UpdatedAt.After(m1.UpdatedAt):
		t.Fatalf("updated_at did not move: %v -> %v", m1.UpdatedAt, m2.UpdatedAt)
	}
	got, err := f.Models.Get(f.ctx, m1.ID)
	noErr(t, err)
	want := Model{ID: m1.ID, OwnerID: owner.ID, Name: "yolo", TargetChip: "hailo15", Source: SourceImport,
		FAAObjectKey: "k2", Labels: []string{"cat", "dog"}, SupportedChips: []string{"hailo15", "hailo8"},
		CreatedAt: m1.CreatedAt, UpdatedAt: m2.UpdatedAt}
	if !modelsEqual(got, want) || !modelsEqual(m2, want) {
		t.Fatalf("after replace:\nGet    %+v\nUpsert %+v\nwant   %+v", got, m2, want)
	}
}

func modelsEqual(a, b Model) bool {
	return a.ID == b.ID && a.OwnerID == b.OwnerID && a.Name == b.Name && a.TargetChip == b.TargetChip &&
		a.Source == b.Source && a.FAAObjectKey == b.FAAObjectKey && slices.Equal(a.Labels, b.Labels) &&
		slices.Equal(a.SupportedChips, b.SupportedChips) && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func testModelsUpsertUnchanged(t *testing.T, open opener) {
	f := newFixture(t, open)
	owner := f.user()
	in := ModelInput{OwnerID: owner.ID, Name: "same", TargetChip: "c", Source: SourceBuiltin, FAAObjectKey: "k", Labels: []string{"a"}}
	first := f.model(in)
	f.clock.Advance(time.Minute)
	time.Sleep(2 * time.Millisecond)
	res, err := f.Models.Upsert(f.ctx, in)
	noErr(t, err)
	if !res.Replaced || res.PreviousObjectKey != "k" || !res.Model.UpdatedAt.Equal(first.UpdatedAt) {
		t.Fatalf("idempotent upsert: %+v; want Replaced, PreviousObjectKey k, updated_at kept at %v", res, first.UpdatedAt)
	}
}

func testModelsArraysRoundTrip(t *testing.T, open opener) {
	f := newFixture(t, open)
	owner := f.user()
	// Values an array literal would have to quote or escape, in an order that must be kept.
	labels := []string{"zebra", "a,b", `with "quotes"`, `back\slash`, "{braces}", "", "NULL", "ünï €"}
	m := f.model(ModelInput{OwnerID: owner.ID, Name: "arrays", TargetChip: "c", Source: SourceUpload, FAAObjectKey: "k",
		Labels: labels, SupportedChips: []string{"x", "y"}})
	got, err := f.Models.Get(f.ctx, m.ID)
	noErr(t, err)
	if !slices.Equal(got.Labels, labels) || !slices.Equal(got.SupportedChips, []string{"x", "y"}) {
		t.Fatalf("arrays: labels %q chips %q; want %q [x y]", got.Labels, got.SupportedChips, labels)
	}
	empty := f.model(ModelInput{OwnerID: owner.ID, Name: "nil-arrays", TargetChip: "c", Source: SourceUpload, FAAObjectKey: "k"})
	got, err = f.Models.Get(f.ctx, empty.ID)
	noErr(t, err)
	if got.Labels == nil || len(got.Labels) != 0 || got.SupportedChips == nil || len(got.SupportedChips) != 0 ||
		empty.Labels == nil || empty.SupportedChips == nil {
		t.Fatalf("nil arrays: got %#v %#v, upsert returned %#v %#v; want empty, non-nil", got.Labels, got.SupportedChips, empty.Labels, empty.SupportedChips)
	}
}

func testModelsSoftDeleteFreesName(t *testing.T, open opener) {
	f := newFixture(t, open)
	owner := f.user()
	in := ModelInput{OwnerID: owner.ID, Name: "reused", TargetChip: "c", Source: SourceUpload, FAAObjectKey: "k1"}
	old := f.model(in)
	noErr(t, f.Models.SoftDelete(f.ctx, old.ID))
	_, err := f.Models.Get(f.ctx, old.ID)
	wantErr(t, err, postgres.ErrNotFound, "get model: not found: no such model")
	wantErr(t, f.Models.SoftDelete(f.ctx, old.ID), postgres.ErrNotFound, "delete model: not found: no such model")
	wantErr(t, f.Models.SoftDelete(f.ctx, "nope"), postgres.ErrNotFound, "")

	f.clock.Advance(time.Minute)
	time.Sleep(2 * time.Millisecond)
	in.FAAObjectKey = "k2"
	res, err := f.Models.Upsert(f.ctx, in)
	noErr(t, err)
	if res.Replaced || res.Model.ID == old.ID || !res.Model.CreatedAt.After(old.CreatedAt) {
		t.Fatalf("upsert after delete = %+v; want a new model (new id, new created_at), not a replacement of %s", res, old.ID)
	}
	list, err := f.Models.List(f.ctx, ModelFilter{OwnerID: owner.ID})
	noErr(t, err)
	if len(list) != 1 || list[0].ID != res.Model.ID {
		t.Fatalf("List = %v; want only the live model %s", names(list), res.Model.ID)
	}
}

func names(ms []Model) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func testModelsListFilters(t *testing.T, open opener) {
	f := newFixture(t, open)
	a, b := f.user(), f.user()
	chipX, chipY := unique("x-"), unique("y-") // unique: a filter without owner sees every subtest's rows
	add := func(owner User, name, chip string, src Source, supported ...string) Model {
		f.clock.Advance(time.Second)
		time.Sleep(2 * time.Millisecond) // distinct created_at, the list order
		return f.model(ModelInput{OwnerID: owner.ID, Name: name, TargetChip: chip, Source: src, FAAObjectKey: name, SupportedChips: supported})
	}
	add(a, "m1", chipX, SourceUpload, chipX, chipY)
	add(a, "m2", chipY, SourceImport, chipY)
	add(a, "m3", chipX, SourceBuiltin, chipX)
	m4 := add(a, "m4", chipX, SourceUpload, chipX)
	add(b, "m5", chipX, SourceUpload, chipX)
	noErr(t, f.Models.SoftDelete(f.ctx, m4.ID))

	cases := []struct {
		filter ModelFilter
		want   []string
	}{
		{ModelFilter{OwnerID: a.ID}, []string{"m3", "m2", "m1"}},
		{ModelFilter{OwnerID: a.ID, TargetChip: chipX}, []string{"m3", "m1"}},
		{ModelFilter{OwnerID: a.ID, Source: SourceUpload}, []string{"m1"}},
		{ModelFilter{OwnerID: a.ID, TargetChip: chipX, Source: SourceBuiltin}, []string{"m3"}},
		{ModelFilter{OwnerID: a.ID, SupportedChip: chipY}, []string{"m2", "m1"}},
		{ModelFilter{OwnerID: a.ID, SupportedChip: chipY, Source: SourceImport}, []string{"m2"}},
		{ModelFilter{OwnerID: a.ID, TargetChip: chipY, Source: SourceUpload}, nil},
		{ModelFilter{TargetChip: chipX, Source: SourceUpload}, []string{"m5", "m1"}},
		{ModelFilter{TargetChip: chipX}, []string{"m5", "m3", "m1"}},
		{ModelFilter{SupportedChip: chipX}, []string{"m5", "m3", "m1"}},
		{ModelFilter{OwnerID: a.ID, Limit: 2}, []string{"m3", "m2"}},
		{ModelFilter{OwnerID: b.ID}, []string{"m5"}},
		{ModelFilter{OwnerID: missingID}, nil},
		{ModelFilter{OwnerID: "not-a-uuid"}, nil},
	}
	for _, c := range cases {
		got, err := f.Models.List(f.ctx, c.filter)
		noErr(t, err)
		if !slices.Equal(names(got), c.want) {
			t.Errorf("List(%+v) = %v, want %v", c.filter, names(got), c.want)
		}
	}
}

func testModelsErrors(t *testing.T, open opener) {
	f := newFixture(t, open)
	owner := f.user()
	_, err := f.Models.Upsert(f.ctx, ModelInput{OwnerID: missingID, Name: "n", TargetChip: "c", Source: SourceUpload, FAAObjectKey: "k"})
	wantErr(t, err, postgres.ErrForeignKey, "upsert model: foreign key violation: the owner does not exist")
	_, err = f.Models.Upsert(f.ctx, ModelInput{OwnerID: "garbage", Name: "n", TargetChip: "c", Source: SourceUpload, FAAObjectKey: "k"})
	wantErr(t, err, postgres.ErrForeignKey, "upsert model: foreign key violation: the owner does not exist")
	_, err = f.Models.Upsert(f.ctx, ModelInput{OwnerID: owner.ID, Name: "n", TargetChip: "c", Source: "torrent", FAAObjectKey: "k"})
	wantErr(t, err, postgres.ErrCheck, "upsert model: invalid value: the source must be upload, import or builtin")
	_, err = f.Models.Get(f.ctx, missingID)
	wantErr(t, err, postgres.ErrNotFound, "get model: not found: no such model")
}

// ---- devices ----

func testDevicesRegister(t *testing.T, open opener) {
	f := newFixture(t, open)
	owner := f.user()
	serial := unique("SN-")
	d, err := f.Devices.Register(f.ctx, NewDevice{OwnerID: owner.ID, Serial: serial, Name: "front door"})
	noErr(t, err)
	if d.OwnerID != owner.ID || d.Serial != serial || d.Name != "front door" || d.Lifecycle != LifecycleUnpaired ||
		d.Connection != ConnectionUnknown || !d.LastSeenAt.IsZero() || d.CreatedAt.IsZero() {
		t.Fatalf("registered device = %+v", d)
	}
	got, err := f.Devices.Get(f.ctx, d.ID)
	noErr(t, err)
	if got != d {
		t.Fatalf("Get = %+v, want %+v", got, d)
	}
	_, err = f.Devices.Register(f.ctx, NewDevice{OwnerID: missingID, Serial: unique("SN-")})
	wantErr(t, err, postgres.ErrForeignKey, "register device: foreign key violation: the owner does not exist")
	_, err = f.Devices.Get(f.ctx, missingID)
	wantErr(t, err, postgres.ErrNotFound, "get device: not found: no such device")
}

func testDevicesSerialUnique(t *testing.T, open opener) {
	f := newFixture(t, open)
	a, b := f.user(), f.user()
	serial := unique("SN-")
	first, err := f.Devices.Register(f.ctx, NewDevice{OwnerID: a.ID, Serial: serial})
	noErr(t, err)
	_, err = f.Devices.Register(f.ctx, NewDevice{OwnerID: b.ID, Serial: serial})
	wantErr(t, err, postgres.ErrConflict, "register device: conflict: a device with that serial is already registered")

	noErr(t, f.Devices.SoftDelete(f.ctx, first.ID))
	again, err := f.Devices.Register(f.ctx, NewDevice{OwnerID: b.ID, Serial: serial})
	noErr(t, err)
	if again.ID == first.ID {
		t.Fatalf("re-registration reused the deleted device's id %s", first.ID)
	}
	_, err = f.Devices.Register(f.ctx, NewDevice{OwnerID: a.ID, Serial: serial})
	wantErr(t, err, postgres.ErrConflict, "")
}

func testDevicesStatesIndependent(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.device(f.user())

	got, err := f.Devices.SetLifecycleState(f.ctx, d.ID, LifecyclePaired)
	noErr(t, err)
	if got.Lifecycle != LifecyclePaired || got.Connection != ConnectionUnknown || !got.LastSeenAt.IsZero() {
		t.Fatalf("after SetLifecycleState(paired): %+v", got)
	}
	got, err = f.Devices.SetConnectionState(f.ctx, d.ID, ConnectionOnline)
	noErr(t, err)
	if got.Lifecycle != LifecyclePaired || got.Connection != ConnectionOnline || got.LastSeenAt.IsZero() {
		t.Fatalf("after SetConnectionState(online): %+v", got)
	}
	seen := got.LastSeenAt
	got, err = f.Devices.SetConnectionState(f.ctx, d.ID, ConnectionUnknown)
	noErr(t, err)
	if got.Connection != ConnectionUnknown || !got.LastSeenAt.Equal(seen) || got.Lifecycle != LifecyclePaired {
		t.Fatalf("after SetConnectionState(unknown): %+v; want last seen kept at %v", got, seen)
	}
	got, err = f.Devices.SetLifecycleState(f.ctx, d.ID, LifecyclePairing)
	noErr(t, err)
	if got.Lifecycle != LifecyclePairing || got.Connection != ConnectionUnknown {
		t.Fatalf("after SetLifecycleState(pairing): %+v", got)
	}
	stored, err := f.Devices.Get(f.ctx, d.ID)
	noErr(t, err)
	if stored != got {
		t.Fatalf("Get = %+v, want %+v", stored, got)
	}

	_, err = f.Devices.SetLifecycleState(f.ctx, d.ID, "lost")
	wantErr(t, err, postgres.ErrCheck, "set device lifecycle state: invalid value: the lifecycle state must be unpaired, pairing, paired or retired")
	_, err = f.Devices.SetConnectionState(f.ctx, d.ID, "flaky")
	wantErr(t, err, postgres.ErrCheck, "set device connection state: invalid value: the connection state must be online, offline or unknown")
	_, err = f.Devices.SetLifecycleState(f.ctx, missingID, LifecyclePaired)
	wantErr(t, err, postgres.ErrNotFound, "set device lifecycle state: not found: no such device")
	_, err = f.Devices.SetConnectionState(f.ctx, missingID, ConnectionOnline)
	wantErr(t, err, postgres.ErrNotFound, "set device connection state: not found: no such device")

	noErr(t, f.Devices.SoftDelete(f.ctx, d.ID))
	_, err = f.Devices.SetConnectionState(f.ctx, d.ID, ConnectionOnline)
	wantErr(t, err, postgres.ErrNotFound, "")
	_, err = f.Devices.SetLifecycleState(f.ctx, d.ID, LifecyclePaired)
	wantErr(t, err, postgres.ErrNotFound, "")
}

// deviceWithTokens is a device with a consumed pairing token, an outstanding one, and two
// session tokens.
type deviceWithTokens struct {
	Device
	outstanding string
	sessions    []string
}

func (f *fixture) deviceWithTokens(owner User) deviceWithTokens {
	f.t.Helper()
	d := deviceWithTokens{Device: f.device(owner)}
	if _, err := f.PairingTokens.Consume(f.ctx, f.pairing(d.Device)); err != nil {
		f.t.Fatalf("consume: %v", err)
	}
	d.outstanding = f.pairing(d.Device)
	d.sessions = []string{f.session(d.Device), f.session(d.Device)}
	return d
}

// tokensUsable reports whether the device's session tokens validate and its outstanding pairing
// token is still outstanding (probed with Issue, which refuses a second one, so as not to use it).
func (f *fixture) tokensUsable(d deviceWithTokens) (sessions int, pairingOutstanding bool) {
	f.t.Helper()
	for _, raw := range d.sessions {
		if _, err := f.SessionTokens.Validate(f.ctx, raw); err == nil {
			sessions++
		} else if !errors.Is(err, postgres.ErrNotFound) {
			f.t.Fatalf("validate: %v", err)
		}
	}
	_, _, err := f.PairingTokens.Issue(f.ctx, d.ID, time.Hour)
	return sessions, errors.Is(err, postgres.ErrConflict)
}

func testDevicesSoftDeleteRevokes(t *testing.T, open opener) {
	f := newFixture(t, open)
	owner := f.user()
	d, other := f.deviceWithTokens(owner), f.deviceWithTokens(owner)

	noErr(t, f.Devices.SoftDelete(f.ctx, d.ID))
	_, err := f.Devices.Get(f.ctx, d.ID)
	wantErr(t, err, postgres.ErrNotFound, "")
	_, err = f.PairingTokens.Consume(f.ctx, d.outstanding)
	wantErr(t, err, postgres.ErrNotFound, "consume pairing token: not found: no valid token")
	for _, raw := range d.sessions {
		_, err := f.SessionTokens.Validate(f.ctx, raw)
		wantErr(t, err, postgres.ErrNotFound, "validate session token: not found: no valid token")
	}
	_, _, err = f.PairingTokens.Issue(f.ctx, d.ID, time.Hour)
	wantErr(t, err, postgres.ErrNotFound, "issue pairing token: not found: no such device")
	_, _, err = f.SessionTokens.Issue(f.ctx, d.ID, time.Hour)
	wantErr(t, err, postgres.ErrNotFound, "issue session token: not found: no such device")
	wantErr(t, f.Devices.SoftDelete(f.ctx, d.ID), postgres.ErrNotFound, "delete device: not found: no such device")

	// The other device of the same owner keeps everything.
	if n, outstanding := f.tokensUsable(other); n != 2 || !outstanding {
		t.Fatalf("other device: %d session tokens valid, pairing outstanding %v; want 2, true", n, outstanding)
	}
}

func testDevicesSoftDeleteAtomic(t *testing.T, open opener) {
	for _, step := range []string{stepDevice, stepPairingTokens, stepSessionTokens} {
		t.Run("fail after "+step, func(t *testing.T) {
			injected := errors.New("injected failure after " + step)
			f := newFixture(t, open, withAfterStep(func(s string) error {
				if s == step {
					return injected
				}
				return nil
			}))
			d := f.deviceWithTokens(f.user())
			err := f.Devices.SoftDelete(f.ctx, d.ID)
			if !errors.Is(err, injected) {
				t.Fatalf("SoftDelete = %v, want the injected failure", err)
			}
			if _, err := f.Devices.Get(f.ctx, d.ID); err != nil {
				t.Fatalf("device gone after a failed delete: %v", err)
			}
			if n, outstanding := f.tokensUsable(d); n != 2 || !outstanding {
				t.Fatalf("after a failed delete: %d session tokens valid, pairing outstanding %v; want 2, true", n, outstanding)
			}
		})
	}
}

func testDevicesRetireRevokes(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.deviceWithTokens(f.user())
	got, err := f.Devices.SetLifecycleState(f.ctx, d.ID, LifecycleRetired)
	noErr(t, err)
	if got.Lifecycle != LifecycleRetired {
		t.Fatalf("lifecycle = %s, want retired", got.Lifecycle)
	}
	if n, outstanding := f.tokensUsable(d); n != 0 || outstanding {
		t.Fatalf("after retiring: %d session tokens valid, pairing outstanding %v; want 0, false", n, outstanding)
	}
}

// ---- tokens ----

func testPairingConsumeOnce(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.device(f.user())
	raw, tok, err := f.PairingTokens.Issue(f.ctx, d.ID, 15*time.Minute)
	noErr(t, err)
	if len(raw) != 43 || tok.DeviceID != d.ID || !tok.CreatedAt.Equal(f.clock.Now()) || !tok.ExpiresAt.Equal(f.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("Issue = %d-character token, %+v; want 43 characters, times from the store clock %v", len(raw), tok, f.clock.Now())
	}
	got, err := f.PairingTokens.Consume(f.ctx, raw)
	noErr(t, err)
	if got != d.ID {
		t.Fatalf("Consume = %s, want %s", got, d.ID)
	}
	_, err = f.PairingTokens.Consume(f.ctx, raw)
	wantErr(t, err, postgres.ErrNotFound, "consume pairing token: not found: no valid token")
	_, err = f.PairingTokens.Consume(f.ctx, "never-issued")
	wantErr(t, err, postgres.ErrNotFound, "")
}

func testPairingOneOutstanding(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.device(f.user())
	first := f.pairing(d)
	_, _, err := f.PairingTokens.Issue(f.ctx, d.ID, time.Hour)
	wantErr(t, err, postgres.ErrConflict, "issue pairing token: conflict: the device already has an outstanding pairing token")
	noErr(t, f.PairingTokens.Revoke(f.ctx, first))
	second := f.pairing(d) // revoked: no longer outstanding
	_, err = f.PairingTokens.Consume(f.ctx, second)
	noErr(t, err)
	f.pairing(d)                   // consumed: no longer outstanding
	f.clock.Advance(2 * time.Hour) // expired: no longer outstanding
	f.pairing(d)
}

func testPairingExpiry(t *testing.T, open opener) {
	f := newFixture(t, open)
	owner := f.user()
	early, late := f.device(owner), f.device(owner)
	rawEarly, _, err := f.PairingTokens.Issue(f.ctx, early.ID, 10*time.Minute)
	noErr(t, err)
	rawLate, _, err := f.PairingTokens.Issue(f.ctx, late.ID, 10*time.Minute)
	noErr(t, err)
	f.clock.Advance(10*time.Minute - time.Microsecond)
	_, err = f.PairingTokens.Consume(f.ctx, rawEarly)
	noErr(t, err)
	f.clock.Advance(time.Microsecond) // now == expires_at: expired
	_, err = f.PairingTokens.Consume(f.ctx, rawLate)
	wantErr(t, err, postgres.ErrNotFound, "consume pairing token: not found: no valid token")
	wantErr(t, f.PairingTokens.Revoke(f.ctx, rawLate), postgres.ErrNotFound, "revoke pairing token: not found: no valid token")
}

func testPairingRevoke(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.device(f.user())
	raw := f.pairing(d)
	noErr(t, f.PairingTokens.Revoke(f.ctx, raw))
	_, err := f.PairingTokens.Consume(f.ctx, raw)
	wantErr(t, err, postgres.ErrNotFound, "")
	wantErr(t, f.PairingTokens.Revoke(f.ctx, raw), postgres.ErrNotFound, "revoke pairing token: not found: no valid token")
	wantErr(t, f.PairingTokens.Revoke(f.ctx, "never-issued"), postgres.ErrNotFound, "")
	consumed := f.pairing(d)
	_, err = f.PairingTokens.Consume(f.ctx, consumed)
	noErr(t, err)
	wantErr(t, f.PairingTokens.Revoke(f.ctx, consumed), postgres.ErrNotFound, "")
}

// testPairingConcurrentConsume: of 20 simultaneous attempts with one token exactly one wins.
func testPairingConcurrentConsume(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.device(f.user())
	raw := f.pairing(d)
	const n = 20
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
		ids   = make([]string, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			ids[i], errs[i] = f.PairingTokens.Consume(f.ctx, raw)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil && ids[i] == d.ID:
			wins++
		case errors.Is(err, postgres.ErrNotFound):
		default:
			t.Errorf("attempt %d: device %q, error %v", i, ids[i], err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent consumes succeeded, want exactly 1", wins, n)
	}
}

func testSessionValidate(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.device(f.user())
	raw, issued, err := f.SessionTokens.Issue(f.ctx, d.ID, 24*time.Hour)
	noErr(t, err)
	if len(raw) != 43 || issued.DeviceID != d.ID || !issued.ExpiresAt.Equal(issued.CreatedAt.Add(24*time.Hour)) || !issued.LastUsedAt.IsZero() {
		t.Fatalf("Issue = %+v", issued)
	}
	first := f.clock.Now()
	tok, err := f.SessionTokens.Validate(f.ctx, raw)
	noErr(t, err)
	if tok.DeviceID != d.ID || !tok.CreatedAt.Equal(issued.CreatedAt) || !tok.ExpiresAt.Equal(issued.ExpiresAt) || !tok.LastUsedAt.Equal(first) {
		t.Fatalf("Validate = %+v; want the issued token, last used %v", tok, first)
	}
	f.clock.Advance(LastUsedResolution / 2)
	tok, err = f.SessionTokens.Validate(f.ctx, raw)
	noErr(t, err)
	if !tok.LastUsedAt.Equal(first) {
		t.Fatalf("LastUsedAt = %v, want %v kept (within LastUsedResolution)", tok.LastUsedAt, first)
	}
	f.clock.Advance(LastUsedResolution)
	tok, err = f.SessionTokens.Validate(f.ctx, raw)
	noErr(t, err)
	if !tok.LastUsedAt.Equal(f.clock.Now()) {
		t.Fatalf("LastUsedAt = %v, want %v", tok.LastUsedAt, f.clock.Now())
	}
	_, err = f.SessionTokens.Validate(f.ctx, "never-issued")
	wantErr(t, err, postgres.ErrNotFound, "validate session token: not found: no valid token")
}

func testSessionExpiryAndRevoke(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.device(f.user())
	short, _, err := f.SessionTokens.Issue(f.ctx, d.ID, time.Minute)
	noErr(t, err)
	long := f.session(d)
	f.clock.Advance(time.Minute)
	_, err = f.SessionTokens.Validate(f.ctx, short)
	wantErr(t, err, postgres.ErrNotFound, "")
	wantErr(t, f.SessionTokens.Revoke(f.ctx, short), postgres.ErrNotFound, "revoke session token: not found: no valid token")
	_, err = f.SessionTokens.Validate(f.ctx, long)
	noErr(t, err)
	noErr(t, f.SessionTokens.Revoke(f.ctx, long))
	_, err = f.SessionTokens.Validate(f.ctx, long)
	wantErr(t, err, postgres.ErrNotFound, "")
	wantErr(t, f.SessionTokens.Revoke(f.ctx, long), postgres.ErrNotFound, "")
}

func testTokensInvalidInput(t *testing.T, open opener) {
	f := newFixture(t, open)
	d := f.device(f.user())
	_, _, err := f.PairingTokens.Issue(f.ctx, d.ID, 0)
	wantErr(t, err, postgres.ErrCheck, "issue pairing token: invalid value: the token lifetime must be at least a microsecond")
	_, _, err = f.SessionTokens.Issue(f.ctx, d.ID, -time.Second)
	wantErr(t, err, postgres.ErrCheck, "issue session token: invalid value: the token lifetime must be at least a microsecond")
	_, _, err = f.PairingTokens.Issue(f.ctx, missingID, time.Hour)
	wantErr(t, err, postgres.ErrNotFound, "issue pairing token: not found: no such device")
	_, _, err = f.SessionTokens.Issue(f.ctx, "not-a-uuid", time.Hour)
	wantErr(t, err, postgres.ErrNotFound, "issue session token: not found: no such device")
}

func testCancelledContext(t *testing.T, open opener) {
	f := newFixture(t, open)
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	_, err := f.Users.Get(ctx, missingID)
	if !errors.Is(err, context.Canceled) || err.Error() != "get user: database error (interrupted: context canceled)" {
		t.Fatalf("Get with a cancelled context = %v; want context.Canceled, worded the same on every backend", err)
	}
}
