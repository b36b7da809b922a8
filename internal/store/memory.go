package store

import (
	"context"
	"crypto/sha256"
	"sync"

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

// inTx runs operation op as the database backend would run its transaction: a done context fails
// it with the same error, and f runs holding the one lock, so every operation is atomic.
func inTx[T any](m *memBackend, ctx context.Context, op string, f func() (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, opErr(op, postgres.MapError(err))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return f()
}

// inTxErr is inTx for operations that return only an error.
func inTxErr(m *memBackend, ctx context.Context, op string, f func() error) error {
	_, err := inTx(m, ctx, op, func() (struct{}, error) { return struct{}{}, f() })
	return err
}

// issued is a new token and its raw value, which only Issue ever returns.
type issued[T any] struct {
	raw string
	tok T
}
