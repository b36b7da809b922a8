package store

// The in-memory tokens (see NewMemory).

import (
	"context"
	"time"

	"visiona-backend/internal/postgres"
)

type memPairingTokens struct{ *memBackend }

type memSessionTokens struct{ *memBackend }

// isLiveDevice reports whether id is a live device; the caller holds m.mu.
func (m *memBackend) isLiveDevice(id string) bool {
	d, ok := m.devices[id]
	return ok && !d.deleted
}

func (s memPairingTokens) Issue(ctx context.Context, deviceID string, ttl time.Duration) (string, PairingToken, error) {
	const op = "issue pairing token"
	r, err := inTx(s.memBackend, ctx, op, func() (issued[PairingToken], error) {
		if err := checkTTL(op, ttl); err != nil {
			return issued[PairingToken]{}, err
		}
		id, _ := canonicalID(deviceID)
		if !s.isLiveDevice(id) {
			return issued[PairingToken]{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
		}
		now := s.opts.clock()
		for _, t := range s.pairing {
			if t.DeviceID == id && !t.consumed && !t.revoked && t.ExpiresAt.After(now) {
				return issued[PairingToken]{}, newError(op, postgres.ErrConflict, msgPairingOutstand)
			}
		}
		raw, hash := newToken()
		tok := PairingToken{DeviceID: id, CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Microsecond)}
		s.pairing[hash] = memPairing{PairingToken: tok}
		return issued[PairingToken]{raw, tok}, nil
	})
	return r.raw, r.tok, err
}

func (s memPairingTokens) Consume(ctx context.Context, raw string) (string, error) {
	const op = "consume pairing token"
	return inTx(s.memBackend, ctx, op, func() (string, error) {
		hash := hashToken(raw)
		t, ok := s.pairing[hash]
		if !ok || t.consumed || t.revoked || !t.ExpiresAt.After(s.opts.clock()) || !s.isLiveDevice(t.DeviceID) {
			return "", newError(op, postgres.ErrNotFound, msgTokenNotFound)
		}
		t.consumed = true
		s.pairing[hash] = t
		return t.DeviceID, nil
	})
}

func (s memPairingTokens) Revoke(ctx context.Context, raw string) error {
	const op = "revoke pairing token"
	return inTxErr(s.memBackend, ctx, op, func() error {
		hash := hashToken(raw)
		t, ok := s.pairing[hash]
		if !ok || t.consumed || t.revoked || !t.ExpiresAt.After(s.opts.clock()) {
			return newError(op, postgres.ErrNotFound, msgTokenNotFound)
		}
		t.revoked = true
		s.pairing[hash] = t
		return nil
	})
}

func (s memSessionTokens) Issue(ctx context.Context, deviceID string, ttl time.Duration) (string, SessionToken, error) {
	const op = "issue session token"
	r, err := inTx(s.memBackend, ctx, op, func() (issued[SessionToken], error) {
		if err := checkTTL(op, ttl); err != nil {
			return issued[SessionToken]{}, err
		}
		id, _ := canonicalID(deviceID)
		if !s.isLiveDevice(id) {
			return issued[SessionToken]{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
		}
		now := s.opts.clock()
		raw, hash := newToken()
		tok := SessionToken{DeviceID: id, CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Microsecond)}
		s.sessions[hash] = memSession{SessionToken: tok}
		return issued[SessionToken]{raw, tok}, nil
	})
	return r.raw, r.tok, err
}

func (s memSessionTokens) Validate(ctx context.Context, raw string) (SessionToken, error) {
	const op = "validate session token"
	return inTx(s.memBackend, ctx, op, func() (SessionToken, error) {
		hash := hashToken(raw)
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
	})
}

func (s memSessionTokens) Revoke(ctx context.Context, raw string) error {
	const op = "revoke session token"
	return inTxErr(s.memBackend, ctx, op, func() error {
		hash := hashToken(raw)
		t, ok := s.sessions[hash]
		if !ok || t.revoked || !t.ExpiresAt.After(s.opts.clock()) {
			return newError(op, postgres.ErrNotFound, msgTokenNotFound)
		}
		t.revoked = true
		s.sessions[hash] = t
		return nil
	})
}
