package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"sync"
	"time"

	"visiona-backend/internal/postgres"
)

// NewMemory returns the stores in memory, for a server with no database configured. They are
// safe for concurrent use (one mutex: every operation is atomic, like a transaction), enforce
// the schema's rules as PostgreSQL does, and lose everything when the process ends.
func NewMemory(opts ...Option) (*Stores, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	m := &memBackend{
		opts:     o,
		users:    map[string]User{},
		emails:   map[string]string{},
		models:   map[string]memModel{},
		devices:  map[string]memDevice{},
		pairing:  map[[sha256.Size]byte]memPairing{},
		sessions: map[[sha256.Size]byte]memSession{},
	}
	return &Stores{
		Users:         memUsers{m},
		Models:        memModels{m},
		Devices:       memDevices{m},
		PairingTokens: memPairingTokens{m},
		SessionTokens: memSessionTokens{m},
	}, nil
}

type memBackend struct {
	opts options

	mu       sync.Mutex
	users    map[string]User   // by id
	emails   map[string]string // lower(email) -> id: users_email_lower_key
	models   map[string]memModel
	devices  map[string]memDevice
	pairing  map[[sha256.Size]byte]memPairing
	sessions map[[sha256.Size]byte]memSession
}

type memModel struct {
	Model
	deleted bool
}

type memDevice struct {
	Device
	deleted bool
}

type memPairing struct {
	PairingToken
	consumed, revoked bool
}

type memSession struct {
	SessionToken
	revoked bool
}

// ctxErr honours a done context like the database backend would, so callers see the same
// behaviour on both.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return opErr(op, postgres.MapError(err))
	}
	return nil
}

// ---- users ----

type memUsers struct{ *memBackend }

func (s memUsers) Create(ctx context.Context, nu NewUser) (User, error) {
	const op = "create user"
	if err := ctxErr(ctx, op); err != nil {
		return User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The CHECK fires before the unique index, as in PostgreSQL.
	if !validEmail(nu.Email) {
		return User{}, newError(op, postgres.ErrCheck, msgEmailInvalid)
	}
	key := strings.ToLower(nu.Email)
	if _, taken := s.emails[key]; taken {
		return User{}, newError(op, postgres.ErrConflict, msgEmailTaken)
	}
	now := s.opts.clock()
	u := User{ID: newUUID(), Email: nu.Email, PasswordHash: nu.PasswordHash, DisplayName: nu.DisplayName, CreatedAt: now, UpdatedAt: now}
	s.users[u.ID] = u
	s.emails[key] = u.ID
	return u, nil
}

func (s memUsers) Get(ctx context.Context, id string) (User, error) {
	const op = "get user"
	if err := ctxErr(ctx, op); err != nil {
		return User{}, err
	}
	id, _ = canonicalID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, newError(op, postgres.ErrNotFound, msgUserNotFound)
	}
	return u, nil
}

func (s memUsers) GetByEmail(ctx context.Context, email string) (User, error) {
	const op = "get user by email"
	if err := ctxErr(ctx, op); err != nil {
		return User{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.emails[strings.ToLower(email)]
	if !ok {
		return User{}, newError(op, postgres.ErrNotFound, msgUserNotFound)
	}
	return s.users[id], nil
}

// ---- models ----

type memModels struct{ *memBackend }

func cloneModel(m Model) Model {
	m.Labels, m.SupportedChips = slices.Clone(orEmpty(m.Labels)), slices.Clone(orEmpty(m.SupportedChips))
	return m
}

func (s memModels) Upsert(ctx context.Context, in ModelInput) (UpsertResult, error) {
	const op = "upsert model"
	if err := ctxErr(ctx, op); err != nil {
		return UpsertResult{}, err
	}
	owner, ok := canonicalID(in.OwnerID)
	if !ok {
		return UpsertResult{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !validSource(in.Source) {
		return UpsertResult{}, newError(op, postgres.ErrCheck, msgSourceInvalid)
	}
	if _, ok := s.users[owner]; !ok {
		return UpsertResult{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
	}
	next := Model{OwnerID: owner, Name: in.Name, TargetChip: in.TargetChip, Source: in.Source,
		FAAObjectKey: in.FAAObjectKey, Labels: orEmpty(in.Labels), SupportedChips: orEmpty(in.SupportedChips)}
	now := s.opts.clock()
	for id, cur := range s.models {
		if cur.deleted || cur.OwnerID != owner || cur.Name != in.Name {
			continue
		}
		res := UpsertResult{Replaced: true, PreviousObjectKey: cur.FAAObjectKey}
		next.ID, next.CreatedAt, next.UpdatedAt = id, cur.CreatedAt, cur.UpdatedAt
		// Like the updated_at trigger: only a change moves it.
		if !modelEqual(cur.Model, next) {
			next.UpdatedAt = now
		}
		s.models[id] = memModel{Model: cloneModel(next)}
		res.Model = cloneModel(next)
		return res, nil
	}
	next.ID, next.CreatedAt, next.UpdatedAt = newUUID(), now, now
	s.models[next.ID] = memModel{Model: cloneModel(next)}
	return UpsertResult{Model: cloneModel(next)}, nil
}

func modelEqual(a, b Model) bool {
	return a.TargetChip == b.TargetChip && a.Source == b.Source && a.FAAObjectKey == b.FAAObjectKey &&
		slices.Equal(a.Labels, b.Labels) && slices.Equal(a.SupportedChips, b.SupportedChips)
}

func (s memModels) Get(ctx context.Context, id string) (Model, error) {
	const op = "get model"
	if err := ctxErr(ctx, op); err != nil {
		return Model{}, err
	}
	id, _ = canonicalID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[id]
	if !ok || m.deleted {
		return Model{}, newError(op, postgres.ErrNotFound, msgModelNotFound)
	}
	return cloneModel(m.Model), nil
}

func (s memModels) List(ctx context.Context, f ModelFilter) ([]Model, error) {
	const op = "list models"
	if err := ctxErr(ctx, op); err != nil {
		return nil, err
	}
	owner := f.OwnerID
	if owner != "" {
		var ok bool
		if owner, ok = canonicalID(owner); !ok {
			return []Model{}, nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Model{}
	for _, m := range s.models {
		switch {
		case m.deleted,
			owner != "" && m.OwnerID != owner,
			f.TargetChip != "" && m.TargetChip != f.TargetChip,
			f.SupportedChip != "" && !slices.Contains(m.SupportedChips, f.SupportedChip),
			f.Source != "" && m.Source != f.Source:
			continue
		}
		out = append(out, cloneModel(m.Model))
	}
	// created_at desc, id desc: the database's order.
	slices.SortFunc(out, func(a, b Model) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (s memModels) SoftDelete(ctx context.Context, id string) error {
	const op = "delete model"
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	id, _ = canonicalID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[id]
	if !ok || m.deleted {
		return newError(op, postgres.ErrNotFound, msgModelNotFound)
	}
	m.deleted = true
	s.models[id] = m
	return nil
}

// ---- devices ----

type memDevices struct{ *memBackend }

func (s memDevices) Register(ctx context.Context, nd NewDevice) (Device, error) {
	const op = "register device"
	if err := ctxErr(ctx, op); err != nil {
		return Device{}, err
	}
	owner, ok := canonicalID(nd.OwnerID)
	if !ok {
		return Device{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The unique index fires before the foreign key (an after trigger), as in PostgreSQL.
	for _, d := range s.devices {
		if !d.deleted && d.Serial == nd.Serial {
			return Device{}, newError(op, postgres.ErrConflict, msgSerialTaken)
		}
	}
	if _, ok := s.users[owner]; !ok {
		return Device{}, newError(op, postgres.ErrForeignKey, msgOwnerNotFound)
	}
	now := s.opts.clock()
	d := Device{ID: newUUID(), OwnerID: owner, Serial: nd.Serial, Name: nd.Name,
		Lifecycle: LifecycleUnpaired, Connection: ConnectionUnknown, CreatedAt: now, UpdatedAt: now}
	s.devices[d.ID] = memDevice{Device: d}
	return d, nil
}

// liveDevice returns a live device; the caller holds s.mu.
func (s memDevices) liveDevice(op, id string) (memDevice, error) {
	id, _ = canonicalID(id)
	d, ok := s.devices[id]
	if !ok || d.deleted {
		return memDevice{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	return d, nil
}

func (s memDevices) Get(ctx context.Context, id string) (Device, error) {
	const op = "get device"
	if err := ctxErr(ctx, op); err != nil {
		return Device{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.liveDevice(op, id)
	return d.Device, err
}

func (s memDevices) SetLifecycleState(ctx context.Context, id string, state LifecycleState) (Device, error) {
	const op = "set device lifecycle state"
	if err := ctxErr(ctx, op); err != nil {
		return Device{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.liveDevice(op, id)
	if err != nil {
		return Device{}, err
	}
	if !validLifecycle(state) {
		return Device{}, newError(op, postgres.ErrCheck, msgLifecycleInvalid)
	}
	var apply func()
	if state == LifecycleRetired {
		if apply, err = s.revokeTokens(d.ID); err != nil {
			return Device{}, opErr(op, err)
		}
	}
	if d.Lifecycle != state {
		d.Lifecycle, d.UpdatedAt = state, s.opts.clock()
	}
	s.devices[d.ID] = d
	if apply != nil {
		apply()
	}
	return d.Device, nil
}

func (s memDevices) SetConnectionState(ctx context.Context, id string, state ConnectionState) (Device, error) {
	const op = "set device connection state"
	if err := ctxErr(ctx, op); err != nil {
		return Device{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.liveDevice(op, id)
	if err != nil {
		return Device{}, err
	}
	if !validConnection(state) {
		return Device{}, newError(op, postgres.ErrCheck, msgConnectionInvalid)
	}
	now := s.opts.clock()
	before := d.Device
	d.Connection = state
	if state == ConnectionOnline || state == ConnectionOffline {
		d.LastSeenAt = now
	}
	if d.Device != before {
		d.UpdatedAt = now
	}
	s.devices[d.ID] = d
	return d.Device, nil
}

func (s memDevices) SoftDelete(ctx context.Context, id string) error {
	const op = "delete device"
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.liveDevice(op, id)
	if err != nil {
		return err
	}
	// Every change is staged and applied only once every step has passed: the memory
	// equivalent of one transaction.
	if err := s.opts.step(stepDevice); err != nil {
		return opErr(op, err)
	}
	apply, err := s.revokeTokens(d.ID)
	if err != nil {
		return opErr(op, err)
	}
	d.deleted = true
	s.devices[d.ID] = d
	apply()
	return nil
}

// revokeTokens stages the revocation of a device's outstanding pairing tokens and its session
// tokens, running the test hook's steps like the database backend; the caller holds s.mu and
// calls apply once nothing else can fail.
func (s memDevices) revokeTokens(deviceID string) (apply func(), err error) {
	var pairing, sessions [][sha256.Size]byte
	for h, t := range s.pairing {
		if t.DeviceID == deviceID && !t.revoked && !t.consumed {
			pairing = append(pairing, h)
		}
	}
	if err := s.opts.step(stepPairingTokens); err != nil {
		return nil, err
	}
	for h, t := range s.sessions {
		if t.DeviceID == deviceID && !t.revoked {
			sessions = append(sessions, h)
		}
	}
	if err := s.opts.step(stepSessionTokens); err != nil {
		return nil, err
	}
	return func() {
		for _, h := range pairing {
			t := s.pairing[h]
			t.revoked = true
			s.pairing[h] = t
		}
		for _, h := range sessions {
			t := s.sessions[h]
			t.revoked = true
			s.sessions[h] = t
		}
	}, nil
}

// ---- tokens ----

type memPairingTokens struct{ *memBackend }

type memSessionTokens struct{ *memBackend }

// isLiveDevice reports whether id is a live device; the caller holds m.mu.
func (m *memBackend) isLiveDevice(id string) bool {
	d, ok := m.devices[id]
	return ok && !d.deleted
}

func (s memPairingTokens) Issue(ctx context.Context, deviceID string, ttl time.Duration) (string, PairingToken, error) {
	const op = "issue pairing token"
	if err := ctxErr(ctx, op); err != nil {
		return "", PairingToken{}, err
	}
	if err := checkTTL(op, ttl); err != nil {
		return "", PairingToken{}, err
	}
	id, _ := canonicalID(deviceID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isLiveDevice(id) {
		return "", PairingToken{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	now := s.opts.clock()
	for _, t := range s.pairing {
		if t.DeviceID == id && !t.consumed && !t.revoked && t.ExpiresAt.After(now) {
			return "", PairingToken{}, newError(op, postgres.ErrConflict, msgPairingOutstand)
		}
	}
	raw, hash := newToken()
	tok := PairingToken{DeviceID: id, CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Microsecond)}
	s.pairing[hash] = memPairing{PairingToken: tok}
	return raw, tok, nil
}

func (s memPairingTokens) Consume(ctx context.Context, raw string) (string, error) {
	const op = "consume pairing token"
	if err := ctxErr(ctx, op); err != nil {
		return "", err
	}
	hash := hashToken(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.pairing[hash]
	if !ok || t.consumed || t.revoked || !t.ExpiresAt.After(s.opts.clock()) || !s.isLiveDevice(t.DeviceID) {
		return "", newError(op, postgres.ErrNotFound, msgTokenNotFound)
	}
	t.consumed = true
	s.pairing[hash] = t
	return t.DeviceID, nil
}

func (s memPairingTokens) Revoke(ctx context.Context, raw string) error {
	const op = "revoke pairing token"
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	hash := hashToken(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.pairing[hash]
	if !ok || t.consumed || t.revoked || !t.ExpiresAt.After(s.opts.clock()) {
		return newError(op, postgres.ErrNotFound, msgTokenNotFound)
	}
	t.revoked = true
	s.pairing[hash] = t
	return nil
}

func (s memSessionTokens) Issue(ctx context.Context, deviceID string, ttl time.Duration) (string, SessionToken, error) {
	const op = "issue session token"
	if err := ctxErr(ctx, op); err != nil {
		return "", SessionToken{}, err
	}
	if err := checkTTL(op, ttl); err != nil {
		return "", SessionToken{}, err
	}
	id, _ := canonicalID(deviceID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isLiveDevice(id) {
		return "", SessionToken{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	now := s.opts.clock()
	raw, hash := newToken()
	tok := SessionToken{DeviceID: id, CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Microsecond)}
	s.sessions[hash] = memSession{SessionToken: tok}
	return raw, tok, nil
}

func (s memSessionTokens) Validate(ctx context.Context, raw string) (SessionToken, error) {
	const op = "validate session token"
	if err := ctxErr(ctx, op); err != nil {
		return SessionToken{}, err
	}
	hash := hashToken(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.clock()
	t, ok := s.sessions[hash]
	if !ok || t.revoked || !t.ExpiresAt.After(now) || !s.isLiveDevice(t.DeviceID) {
		return SessionToken{}, newError(op, postgres.ErrNotFound, msgTokenNotFound)
	}
	if t.LastUsedAt.IsZero() || now.Sub(t.LastUsedAt) >= LastUsedResolution {
		t.LastUsedAt = now
		s.sessions[hash] = t
	}
	return t.SessionToken, nil
}

func (s memSessionTokens) Revoke(ctx context.Context, raw string) error {
	const op = "revoke session token"
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	hash := hashToken(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.sessions[hash]
	if !ok || t.revoked || !t.ExpiresAt.After(s.opts.clock()) {
		return newError(op, postgres.ErrNotFound, msgTokenNotFound)
	}
	t.revoked = true
	s.sessions[hash] = t
	return nil
}
