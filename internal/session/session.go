// Package session keeps user web sessions in Redis, with two limits at once:
//
//   - an idle timeout: a session not used for that long ends;
//   - an absolute lifetime: a session ends at CreatedAt + lifetime however often it is used.
//
// Both are enforced by the key's own Redis TTL, so nothing has to clean up: Create stores the
// absolute deadline with the data, and every Get (a Lua script, atomic) sets the TTL to
// min(idle, deadline - now). A session used every minute therefore still ends exactly at its
// deadline. Every time is Redis's clock (TIME inside the scripts): the TTL already is, and one
// clock for both limits means no skew between application servers can bend them.
//
// The session id is a bearer secret. Only its SHA-256 is part of the Redis key, so a dump of the
// keys (or a KEYS in redis-cli) yields no usable session. When Redis cannot be reached every
// call fails with ErrUnavailable: there is no in-memory fallback, which would silently log
// users out (or in) depending on which server answers.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"visiona-backend/internal/config"
)

// Errors of Store's methods; each error returned wraps one of them, or a context error.
var (
	// ErrNotFound: no such session, or it has expired (Get).
	ErrNotFound = errors.New("session not found")
	// ErrUnavailable: Redis cannot be reached or cannot serve (every method).
	ErrUnavailable = errors.New("session store unavailable")
)

// Defaults of the options.
const (
	DefaultPrefix           = "visiona:session:"
	DefaultIdleTimeout      = 30 * time.Minute
	DefaultAbsoluteLifetime = 24 * time.Hour
)

// Session is one user session.
type Session struct {
	// ID is the session's secret: give it to the client (a cookie) and never log it.
	ID        string
	Data      []byte
	CreatedAt time.Time
	// Deadline is the absolute end: CreatedAt + the absolute lifetime.
	Deadline time.Time
	// ExpiresAt is when the session ends if it is not used again: min(now + idle, Deadline).
	ExpiresAt time.Time
}

// Store creates, reads and deletes sessions. It is safe for concurrent use.
type Store struct {
	rdb      redis.Cmdable
	prefix   string
	idle     time.Duration
	absolute time.Duration
	create   *redis.Script
	get      *redis.Script
}

// Option configures a Store.
type Option func(*Store) error

// WithPrefix sets the prefix of every key (DefaultPrefix); tests use one per test.
func WithPrefix(prefix string) Option {
	return func(s *Store) error {
		if prefix == "" {
			return errors.New("session: WithPrefix: empty prefix (keys would mix with everything else in the database)")
		}
		s.prefix = prefix
		return nil
	}
}

// WithIdleTimeout sets how long an unused session lives (DefaultIdleTimeout).
func WithIdleTimeout(d time.Duration) Option {
	return func(s *Store) error {
		if d < time.Millisecond { // Redis TTLs are whole milliseconds
			return fmt.Errorf("session: WithIdleTimeout: %s is less than a millisecond", d)
		}
		s.idle = d
		return nil
	}
}

// WithAbsoluteLifetime sets how long a session lives however often it is used
// (DefaultAbsoluteLifetime).
func WithAbsoluteLifetime(d time.Duration) Option {
	return func(s *Store) error {
		if d < time.Millisecond {
			return fmt.Errorf("session: WithAbsoluteLifetime: %s is less than a millisecond", d)
		}
		s.absolute = d
		return nil
	}
}

// New returns a Store on rdb (a *redis.Client, or any redis.Cmdable). It does not contact Redis.
// Build the client with ContextTimeoutEnabled: without it go-redis ignores the deadlines of the
// contexts passed to Create, Get and Delete and waits for its own read and write timeouts.
func New(rdb redis.Cmdable, opts ...Option) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("session: New: nil Redis client")
	}
	s := &Store{
		rdb:      rdb,
		prefix:   DefaultPrefix,
		idle:     DefaultIdleTimeout,
		absolute: DefaultAbsoluteLifetime,
		create:   redis.NewScript(createScript),
		get:      redis.NewScript(getScript),
	}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// The scripts compute "now" from Redis's TIME in milliseconds. Numbers are written with %d:
// Lua's default formatting would switch to exponent notation for large values.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// createScript: KEYS[1] the key; ARGV data, idle ms, absolute ms. Returns {created, deadline, ttl}.
const createScript = luaNow + `
local deadline = now + tonumber(ARGV[3])
local ttl = math.min(tonumber(ARGV[2]), deadline - now)
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'created', string.format('%d', now), 'deadline', string.format('%d', deadline))
redis.call('PEXPIRE', KEYS[1], ttl)
return {now, deadline, ttl}
`

// getScript: KEYS[1] the key; ARGV idle ms. Returns nil for no session, else
// {data, created, deadline, now, ttl}, having set the key's TTL to min(idle, deadline - now).
const getScript = `
local v = redis.call('HMGET', KEYS[1], 'data', 'created', 'deadline')
if not v[1] then
  return false
end
` + luaNow + `
local deadline = tonumber(v[3])
local ttl = math.min(tonumber(ARGV[1]), deadline - now)
if ttl <= 0 then
  -- Past its deadline but not yet expired by Redis (a TTL is rounded to the millisecond).
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('PEXPIRE', KEYS[1], ttl)
return {v[1], v[2], v[3], string.format('%d', now), string.format('%d', ttl)}
`

// idBytes is the entropy of a session id: 256 bits, beyond guessing.
const idBytes = 32

// idLen is the length of an id: idBytes in unpadded base64url (4 characters per 3 bytes).
const idLen = (idBytes*8 + 5) / 6

// key is where a session lives: the prefix and the SHA-256 of its id, never the id itself.
func (s *Store) key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return s.prefix + hex.EncodeToString(sum[:])
}

// Create starts a session holding data and returns it, with its new random id.
func (s *Store) Create(ctx context.Context, data []byte) (Session, error) {
	const op = "create session"
	b := make([]byte, idBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	id := base64.RawURLEncoding.EncodeToString(b)
	res, err := s.create.Run(ctx, s.rdb, []string{s.key(id)}, data, s.idle.Milliseconds(), s.absolute.Milliseconds()).Int64Slice()
	if err != nil {
		return Session{}, s.fail(op, err)
	}
	if len(res) != 3 {
		return Session{}, fmt.Errorf("%s: unexpected reply from Redis (%d values)", op, len(res))
	}
	created, deadline := time.UnixMilli(res[0]), time.UnixMilli(res[1])
	return Session{
		ID:        id,
		Data:      data,
		CreatedAt: created,
		Deadline:  deadline,
		ExpiresAt: created.Add(time.Duration(res[2]) * time.Millisecond),
	}, nil
}

// Get returns a live session and extends its idle expiry (never past its deadline); ErrNotFound
// for an unknown or expired id.
func (s *Store) Get(ctx context.Context, id string) (Session, error) {
	const op = "get session"
	if !wellFormed(id) {
		return Session{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	res, err := s.get.Run(ctx, s.rdb, []string{s.key(id)}, s.idle.Milliseconds()).StringSlice()
	if errors.Is(err, redis.Nil) {
		return Session{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if err != nil {
		return Session{}, s.fail(op, err)
	}
	if len(res) != 5 {
		return Session{}, fmt.Errorf("%s: unexpected reply from Redis (%d values)", op, len(res))
	}
	var ms [4]int64
	for i, v := range res[1:] {
		if ms[i], err = strconv.ParseInt(v, 10, 64); err != nil {
			return Session{}, fmt.Errorf("%s: malformed session record in Redis", op)
		}
	}
	now := time.UnixMilli(ms[2])
	return Session{
		ID:        id,
		Data:      []byte(res[0]),
		CreatedAt: time.UnixMilli(ms[0]),
		Deadline:  time.UnixMilli(ms[1]),
		ExpiresAt: now.Add(time.Duration(ms[3]) * time.Millisecond),
	}, nil
}

// Delete ends a session. Deleting one that does not exist (already ended) is not an error:
// logging out twice is fine.
func (s *Store) Delete(ctx context.Context, id string) error {
	const op = "delete session"
	if !wellFormed(id) {
		return nil
	}
	if err := s.rdb.Del(ctx, s.key(id)).Err(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// wellFormed rejects ids Create cannot have made without asking Redis.
func wellFormed(id string) bool {
	if len(id) != idLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}

// unavailableReply reports whether a server reply means "Redis cannot serve now" rather than
// "the command is wrong".
func unavailableReply(msg string) bool {
	code, _, _ := strings.Cut(msg, " ")
	switch code {
	case "LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY":
		return true
	}
	return false
}

// fail wraps err with op, adding ErrUnavailable unless it is a context error (the caller gave
// up) or a reply of a working server to a command it refused.
func (s *Store) fail(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		if unavailableReply(reply.Error()) {
			return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// NewClient builds the Redis client for cfg. ContextTimeoutEnabled makes go-redis honour request
// deadlines: without it a call waits out its own timeouts whatever the caller's context says.
func NewClient(cfg config.Redis) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: cfg.Addr, Password: cfg.Password, DB: cfg.DB, ContextTimeoutEnabled: true})
}
