package store

// The in-memory users (see NewMemory).

import (
	"context"
	"strings"

	"visiona-backend/internal/postgres"
)

type memUsers struct{ *memBackend }

func (s memUsers) Create(ctx context.Context, nu NewUser) (User, error) {
	const op = "create user"
	return inTx(s.memBackend, ctx, op, func() (User, error) {
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
	})
}

func (s memUsers) Get(ctx context.Context, id string) (User, error) {
	const op = "get user"
	return inTx(s.memBackend, ctx, op, func() (User, error) {
		id, _ = canonicalID(id)
		u, ok := s.users[id]
		if !ok {
			return User{}, newError(op, postgres.ErrNotFound, msgUserNotFound)
		}
		return u, nil
	})
}

func (s memUsers) GetByEmail(ctx context.Context, email string) (User, error) {
	const op = "get user by email"
	return inTx(s.memBackend, ctx, op, func() (User, error) {
		id, ok := s.emails[strings.ToLower(email)]
		if !ok {
			return User{}, newError(op, postgres.ErrNotFound, msgUserNotFound)
		}
		return s.users[id], nil
	})
}
