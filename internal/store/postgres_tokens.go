package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"visiona-backend/internal/postgres"
)

// Token rows take every time from the store's clock ($n parameters), never from now(): see the
// package comment.

type pgPairingTokens struct{ *pgBackend }

type pgSessionTokens struct{ *pgBackend }

// lockLiveDevice locks a live device's row for the rest of tx, or fails with postgres.ErrNotFound.
// The lock orders token issue against Devices.SoftDelete (whose update takes a conflicting
// lock): an issue waits for a concurrent delete to commit, then sees the device gone, so no
// token is ever added to a device between its revocation and its commit. lock is "share"
// (session tokens: issuers need not exclude each other) or "no key update" (pairing tokens:
// issuers must, to refuse a second outstanding token).
func lockLiveDevice(ctx context.Context, tx pgx.Tx, op, deviceID, lock string) error {
	var one int
	err := tx.QueryRow(ctx, `select 1 from devices where id = $1 and deleted_at is null for `+lock, deviceID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	return err
}

// issueFail returns a store *Error from the transaction as is, and maps anything else.
func issueFail(op string, err error) error {
	var storeErr *Error
	if errors.As(err, &storeErr) {
		return storeErr
	}
	return fail(op, err, nil)
}

func (s pgPairingTokens) Issue(ctx context.Context, deviceID string, ttl time.Duration) (string, PairingToken, error) {
	const op = "issue pairing token"
	if err := checkTTL(op, ttl); err != nil {
		return "", PairingToken{}, err
	}
	id, ok := canonicalID(deviceID)
	if !ok {
		return "", PairingToken{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	raw, hash := newToken()
	now := s.opts.clock()
	tok := PairingToken{DeviceID: id, CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Microsecond)}
	err := postgres.WithTx(ctx, s.q, func(tx pgx.Tx) error {
		if err := lockLiveDevice(ctx, tx, op, id, "no key update"); err != nil {
			return err
		}
		var outstanding bool
		if err := tx.QueryRow(ctx, `
select exists (select 1 from pairing_tokens
                where device_id = $1 and consumed_at is null and revoked_at is null and expires_at > $2)`,
			id, now).Scan(&outstanding); err != nil {
			return err
		}
		if outstanding {
			return newError(op, postgres.ErrConflict, msgPairingOutstand)
		}
		_, err := tx.Exec(ctx, `
insert into pairing_tokens (token_hash, device_id, created_at, expires_at) values ($1, $2, $3, $4)`,
			hash[:], id, tok.CreatedAt, tok.ExpiresAt)
		return err
	})
	if err != nil {
		return "", PairingToken{}, issueFail(op, err)
	}
	return raw, tok, nil
}

// Consume is one statement: the row lock of the update makes concurrent attempts queue, and
// each later one re-checks consumed_at after the first commits, so only one gets a row back.
// The join refuses tokens of deleted devices even if a revocation was missed.
func (s pgPairingTokens) Consume(ctx context.Context, raw string) (string, error) {
	const op = "consume pairing token"
	hash := hashToken(raw)
	var deviceID string
	err := s.q.QueryRow(ctx, `
update pairing_tokens t set consumed_at = $2
  from devices d
 where t.token_hash = $1 and t.consumed_at is null and t.revoked_at is null and t.expires_at > $2
   and d.id = t.device_id and d.deleted_at is null
returning t.device_id`, hash[:], s.opts.clock()).Scan(&deviceID)
	if err != nil {
		return "", fail(op, err, notFound(msgTokenNotFound))
	}
	return deviceID, nil
}

func (s pgPairingTokens) Revoke(ctx context.Context, raw string) error {
	const op = "revoke pairing token"
	hash := hashToken(raw)
	tag, err := s.q.Exec(ctx, `
update pairing_tokens set revoked_at = $2
 where token_hash = $1 and consumed_at is null and revoked_at is null and expires_at > $2`, hash[:], s.opts.clock())
	if err != nil {
		return fail(op, err, nil)
	}
	if tag.RowsAffected() == 0 {
		return newError(op, postgres.ErrNotFound, msgTokenNotFound)
	}
	return nil
}

func (s pgSessionTokens) Issue(ctx context.Context, deviceID string, ttl time.Duration) (string, SessionToken, error) {
	const op = "issue session token"
	if err := checkTTL(op, ttl); err != nil {
		return "", SessionToken{}, err
	}
	id, ok := canonicalID(deviceID)
	if !ok {
		return "", SessionToken{}, newError(op, postgres.ErrNotFound, msgDeviceNotFound)
	}
	raw, hash := newToken()
	now := s.opts.clock()
	tok := SessionToken{DeviceID: id, CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Microsecond)}
	err := postgres.WithTx(ctx, s.q, func(tx pgx.Tx) error {
		if err := lockLiveDevice(ctx, tx, op, id, "share"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
insert into session_tokens (token_hash, device_id, created_at, expires_at) values ($1, $2, $3, $4)`,
			hash[:], id, tok.CreatedAt, tok.ExpiresAt)
		return err
	})
	if err != nil {
		return "", SessionToken{}, issueFail(op, err)
	}
	return raw, tok, nil
}

// Validate is the authentication query of docs/database.md (the token joined with its live
// device), then, at most once per LastUsedResolution, an update of last_used_at.
func (s pgSessionTokens) Validate(ctx context.Context, raw string) (SessionToken, error) {
	const op = "validate session token"
	hash := hashToken(raw)
	now := s.opts.clock()
	var tok SessionToken
	var lastUsed *time.Time
	err := s.q.QueryRow(ctx, `
select t.device_id, t.created_at, t.expires_at, t.last_used_at
  from session_tokens t
  join devices d on d.id = t.device_id
 where t.token_hash = $1 and t.revoked_at is null and t.expires_at > $2
   and d.deleted_at is null`, hash[:], now).Scan(&tok.DeviceID, &tok.CreatedAt, &tok.ExpiresAt, &lastUsed)
	if err != nil {
		return SessionToken{}, fail(op, err, notFound(msgTokenNotFound))
	}
	tok.CreatedAt, tok.ExpiresAt, tok.LastUsedAt = utc(tok.CreatedAt), utc(tok.ExpiresAt), utcOrZero(lastUsed)
	if !tok.LastUsedAt.IsZero() && now.Sub(tok.LastUsedAt) < LastUsedResolution {
		return tok, nil
	}
	// "< $2" keeps a slower concurrent call from moving the time back.
	if _, err := s.q.Exec(ctx, `
update session_tokens set last_used_at = $2
 where token_hash = $1 and (last_used_at is null or last_used_at < $2)`, hash[:], now); err != nil {
		return SessionToken{}, fail(op, err, nil)
	}
	tok.LastUsedAt = now
	return tok, nil
}

func (s pgSessionTokens) Revoke(ctx context.Context, raw string) error {
	const op = "revoke session token"
	hash := hashToken(raw)
	tag, err := s.q.Exec(ctx, `
update session_tokens set revoked_at = $2
 where token_hash = $1 and revoked_at is null and expires_at > $2`, hash[:], s.opts.clock())
	if err != nil {
		return fail(op, err, nil)
	}
	if tag.RowsAffected() == 0 {
		return newError(op, postgres.ErrNotFound, msgTokenNotFound)
	}
	return nil
}
