package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"visiona-backend/internal/postgres"
)

// Querier is what the PostgreSQL backend runs on: a *pgxpool.Pool in a server, but also a
// *pgx.Conn or a pgx.Tx (the stores' own transactions then become savepoints of the caller's),
// so a caller can combine several store calls in one transaction of its own.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// NewPostgres returns the stores on PostgreSQL through q (usually the pool from postgres.NewPool).
// The database must be migrated to the latest version.
func NewPostgres(q Querier, opts ...Option) (*Stores, error) {
	if q == nil {
		return nil, errors.New("store: NewPostgres: nil querier")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	p := &pgBackend{q: q, opts: o}
	return &Stores{
		Users:         pgUsers{p},
		Models:        pgModels{p},
		Devices:       pgDevices{p},
		PairingTokens: pgPairingTokens{p},
		SessionTokens: pgSessionTokens{p},
	}, nil
}

type pgBackend struct {
	q    Querier
	opts options
}

// explainFunc words a mapped database error for the caller's user, or returns "" when it has
// nothing better than the generic text.
type explainFunc func(e *postgres.Error) string

// fail maps err (postgres.MapError) and, when explain recognises it, returns a store *Error with the
// same wording as the memory backend; anything else is "op: <generic mapped error>".
func fail(op string, err error, explain explainFunc) error {
	mapped := postgres.MapError(err)
	var de *postgres.Error
	if errors.As(mapped, &de) && de.Kind != nil && explain != nil {
		if msg := explain(de); msg != "" {
			return &Error{Op: op, Kind: de.Kind, Msg: msg, Err: de}
		}
	}
	return opErr(op, mapped)
}

// notFound explains postgres.ErrNotFound (no row) with msg.
func notFound(msg string) explainFunc {
	return func(e *postgres.Error) string {
		if e.Kind == postgres.ErrNotFound {
			return msg
		}
		return ""
	}
}

// notNull is the generic wording of a NOT NULL violation: with the store's inputs being Go
// strings and non-nil slices, it can only come from a bug, but it is still the caller's input.
func notNull(e *postgres.Error) string {
	if e.Kind == postgres.ErrCheck && e.SQLState == "23502" {
		return msgValueMissing
	}
	return ""
}

func utc(t time.Time) time.Time { return t.UTC() }

func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// ---- users ----

type pgUsers struct{ *pgBackend }

const userColumns = `id, email, password_hash, display_name, created_at, updated_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.DisplayName, &u.CreatedAt, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return u, err
}

func (s pgUsers) Create(ctx context.Context, nu NewUser) (User, error) {
	const op = "create user"
	u, err := scanUser(s.q.QueryRow(ctx, `
insert into users (email, password_hash, display_name)
values ($1, $2, $3)
returning `+userColumns, nu.Email, nu.PasswordHash, nu.DisplayName))
	if err != nil {
		return User{}, fail(op, err, func(e *postgres.Error) string {
			switch e.Constraint {
			case "users_email_lower_key":
				return msgEmailTaken
			case "users_email_check":
				return msgEmailInvalid
			}
			return notNull(e)
		})
	}
	return u, nil
}

func (s pgUsers) Get(ctx context.Context, id string) (User, error) {
	const op = "get user"
	id, ok := canonicalID(id)
	if !ok {
		return User{}, newError(op, postgres.ErrNotFound, msgUserNotFound)
	}
	u, err := scanUser(s.q.QueryRow(ctx, `select `+userColumns+` from users where id = $1`, id))
	if err != nil {
		return User{}, fail(op, err, notFound(msgUserNotFound))
	}
	return u, nil
}

func (s pgUsers) GetByEmail(ctx context.Context, email string) (User, error) {
	const op = "get user by email"
	// lower(email) on both sides: the form users_email_lower_key serves.
	u, err := scanUser(s.q.QueryRow(ctx, `select `+userColumns+` from users where lower(email) = lower($1)`, email))
	if err != nil {
		return User{}, fail(op, err, notFound(msgUserNotFound))
	}
	return u, nil
}
