// Package store is visionA's data access: users, models, devices and device tokens, each behind
// a small interface with two implementations that pass the same contract suite:
//
//   - NewPostgres, on a pgx pool (or a connection, or a transaction), for servers;
//   - NewMemory, concurrency-safe maps, for a server started with no database configured and for
//     fast tests. It enforces the schema's rules (unique keys, foreign keys, CHECKs, soft delete)
//     the way PostgreSQL does, so code that works on one works on the other.
//
// Errors: every failure errors.Is one of internal/db's sentinels (postgres.ErrNotFound, ErrConflict,
// ErrForeignKey, ErrCheck, ErrRetryable, ErrUnavailable). Failures a caller can act on are an
// *Error whose Msg is worded for an end user ("a user with that email already exists"); the
// same failure has the same text on both backends.
//
// Time: rows of users, models and devices carry the database server's time (column defaults,
// the updated_at trigger, deleted_at = now()), as the schema documents. Token rows carry the
// store's clock (WithClock, default time.Now): a token's expiry is computed and checked by the
// same clock, passed as a parameter rather than compared with the server's now(), so clock skew
// between application and database cannot shorten or lengthen a token's life, and tests can
// move time on both backends alike. The memory backend uses the store's clock for everything.
package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"visiona-backend/internal/postgres"
)

// Stores is one backend's set of stores.
type Stores struct {
	Users         Users
	Models        Models
	Devices       Devices
	PairingTokens PairingTokens
	SessionTokens SessionTokens
}

// Users are visionA accounts. Emails are unique case-insensitively; the address is kept as typed.
type Users interface {
	// Create adds a user. A used email (in any case) is postgres.ErrConflict; an email without '@'
	// after its first character is postgres.ErrCheck.
	Create(ctx context.Context, u NewUser) (User, error)
	// Get returns the user with id, or postgres.ErrNotFound.
	Get(ctx context.Context, id string) (User, error)
	// GetByEmail finds a user by email in any case, or postgres.ErrNotFound.
	GetByEmail(ctx context.Context, email string) (User, error)
}

// Models are AI models owned by users. Only live (not soft-deleted) models are ever returned.
type Models interface {
	// Upsert creates the owner's model with that name, or replaces the live one: id and
	// created_at are kept, updated_at moves if anything changed. An unknown owner is
	// postgres.ErrForeignKey; a source outside the Source constants is postgres.ErrCheck.
	Upsert(ctx context.Context, m ModelInput) (UpsertResult, error)
	// Get returns a live model, or postgres.ErrNotFound.
	Get(ctx context.Context, id string) (Model, error)
	// List returns live models matching every set field of f, newest first.
	List(ctx context.Context, f ModelFilter) ([]Model, error)
	// SoftDelete marks a live model deleted, freeing its name; postgres.ErrNotFound if none.
	SoftDelete(ctx context.Context, id string) error
}

// Devices are edge devices owned by users. Only live devices are ever returned or changed.
type Devices interface {
	// Register adds a device. A serial used by a live device is postgres.ErrConflict (a deleted
	// device's serial can register again); an unknown owner is postgres.ErrForeignKey.
	Register(ctx context.Context, d NewDevice) (Device, error)
	// Get returns a live device, or postgres.ErrNotFound.
	Get(ctx context.Context, id string) (Device, error)
	// SetLifecycleState changes where the device is in its life; the connection state is
	// untouched. Retiring a device revokes its tokens in the same transaction, as SoftDelete.
	// An unknown state is postgres.ErrCheck.
	SetLifecycleState(ctx context.Context, id string, s LifecycleState) (Device, error)
	// SetConnectionState records whether the device is connected; the lifecycle state is
	// untouched. Online and offline (reports of a contact) also set LastSeenAt.
	SetConnectionState(ctx context.Context, id string, s ConnectionState) (Device, error)
	// SoftDelete marks a live device deleted and revokes its outstanding pairing tokens and its
	// session tokens, all in one transaction: either everything happens or nothing does.
	SoftDelete(ctx context.Context, id string) error
}

// PairingTokens are the one-time tokens a device presents to pair. Only their SHA-256 is stored.
type PairingTokens interface {
	// Issue creates a token for a live device, valid for ttl, and returns it: this is the only
	// time the raw token exists outside the device. A device with an outstanding (unconsumed,
	// unrevoked, unexpired) token is postgres.ErrConflict; a missing or deleted device postgres.ErrNotFound.
	Issue(ctx context.Context, deviceID string, ttl time.Duration) (raw string, t PairingToken, err error)
	// Consume uses a token once and returns its device's id. Unknown, consumed, revoked and
	// expired tokens, and tokens of deleted devices, are all postgres.ErrNotFound: a caller learns
	// nothing about which. Of concurrent attempts with one token exactly one succeeds.
	Consume(ctx context.Context, raw string) (deviceID string, err error)
	// Revoke makes an outstanding token unusable; postgres.ErrNotFound if there is none.
	Revoke(ctx context.Context, raw string) error
}

// SessionTokens are what a paired device presents on every call. Only their SHA-256 is stored.
type SessionTokens interface {
	// Issue creates a token for a live device, valid for ttl; a missing or deleted device is
	// postgres.ErrNotFound. The raw token is returned once and never stored.
	Issue(ctx context.Context, deviceID string, ttl time.Duration) (raw string, t SessionToken, err error)
	// Validate returns the token if it is unrevoked, unexpired and its device is live, and
	// records the use (LastUsedAt, at most once per LastUsedResolution); postgres.ErrNotFound if not.
	Validate(ctx context.Context, raw string) (SessionToken, error)
	// Revoke makes an unrevoked, unexpired token unusable; postgres.ErrNotFound if there is none.
	Revoke(ctx context.Context, raw string) error
}

// LastUsedResolution is how stale SessionToken.LastUsedAt may get: Validate writes it only when
// it is older than this, so a device making many calls does not cost a row update per call.
const LastUsedResolution = time.Minute

// User is a visionA account.
type User struct {
	ID           string
	Email        string // as typed
	PasswordHash string // encoded hash, algorithm and parameters included; never the password
	DisplayName  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// LogValue keeps the password hash out of logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("email", u.Email))
}

// NewUser is what Users.Create needs.
type NewUser struct {
	Email        string
	PasswordHash string
	DisplayName  string
}

// Source says where a model came from (models_source_check).
type Source string

// The sources the schema accepts.
const (
	SourceUpload  Source = "upload"  // file uploaded by the user
	SourceImport  Source = "import"  // fetched by the service from an external location
	SourceBuiltin Source = "builtin" // shipped with visionA
)

// Model is an AI model; the file is in object storage under FAAObjectKey.
type Model struct {
	ID             string
	OwnerID        string
	Name           string
	TargetChip     string
	Source         Source
	FAAObjectKey   string
	Labels         []string // never nil
	SupportedChips []string // never nil
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ModelInput is what Models.Upsert writes. Nil slices are stored as empty arrays.
type ModelInput struct {
	OwnerID        string
	Name           string
	TargetChip     string
	Source         Source
	FAAObjectKey   string
	Labels         []string
	SupportedChips []string
}

// UpsertResult is the stored model and what it replaced.
type UpsertResult struct {
	Model    Model
	Replaced bool // a live model with that owner and name existed
	// PreviousObjectKey is the object key the replaced model held. If it differs from
	// Model.FAAObjectKey nothing references that object any more: delete it (after the call,
	// never before: the upsert may still fail).
	PreviousObjectKey string
}

// ModelFilter selects live models; empty fields do not filter. Fields combine with "and".
type ModelFilter struct {
	OwnerID       string
	TargetChip    string // compiled for this chip
	SupportedChip string // runs on this chip (SupportedChips contains it)
	Source        Source
	Limit         int // 0: no limit
}

// LifecycleState is where a device is in its life (devices_lifecycle_state_check).
type LifecycleState string

// The lifecycle states the schema accepts.
const (
	LifecycleUnpaired LifecycleState = "unpaired"
	LifecyclePairing  LifecycleState = "pairing" // a pairing token is outstanding
	LifecyclePaired   LifecycleState = "paired"
	LifecycleRetired  LifecycleState = "retired"
)

// ConnectionState is whether a device is connected (devices_connection_state_check).
type ConnectionState string

// The connection states the schema accepts.
const (
	ConnectionOnline  ConnectionState = "online"
	ConnectionOffline ConnectionState = "offline"
	ConnectionUnknown ConnectionState = "unknown" // never heard from, or state lost
)

// Device is an edge device.
type Device struct {
	ID         string
	OwnerID    string
	Serial     string
	Name       string
	Lifecycle  LifecycleState
	Connection ConnectionState
	LastSeenAt time.Time // zero if never seen
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// NewDevice is what Devices.Register needs. A new device is unpaired, its connection unknown.
type NewDevice struct {
	OwnerID string
	Serial  string
	Name    string
}

// PairingToken describes an issued pairing token (never the token itself).
type PairingToken struct {
	DeviceID  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SessionToken describes an issued session token (never the token itself).
type SessionToken struct {
	DeviceID   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero if never used
}

// Error is a store failure worded for the caller's user. It unwraps to its Kind (a db sentinel)
// and, on PostgreSQL, to the *postgres.Error it came from (constraint name and SQLSTATE for logs).
type Error struct {
	Op   string // what the store was doing: "create user"
	Kind error  // postgres.ErrNotFound, postgres.ErrConflict, ...
	Msg  string // safe to show: "a user with that email already exists"
	Err  error  // the mapped database error; nil on the memory backend
}

func (e *Error) Error() string { return e.Op + ": " + e.Kind.Error() + ": " + e.Msg }

// Unwrap exposes the sentinel and the database error.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func newError(op string, kind error, msg string) *Error {
	return &Error{Op: op, Kind: kind, Msg: msg}
}

// Messages shared by both backends, so a failure reads the same on each.
const (
	msgUserNotFound      = "no such user"
	msgEmailTaken        = "a user with that email already exists"
	msgEmailInvalid      = "the email must contain @ after its first character"
	msgModelNotFound     = "no such model"
	msgOwnerNotFound     = "the owner does not exist"
	msgSourceInvalid     = "the source must be upload, import or builtin"
	msgDeviceNotFound    = "no such device"
	msgSerialTaken       = "a device with that serial is already registered"
	msgLifecycleInvalid  = "the lifecycle state must be unpaired, pairing, paired or retired"
	msgConnectionInvalid = "the connection state must be online, offline or unknown"
	msgTokenNotFound     = "no valid token"
	msgPairingOutstand   = "the device already has an outstanding pairing token"
	msgTTLInvalid        = "the token lifetime must be at least a microsecond"
	msgValueMissing      = "a required value is missing"
)

// Option configures a backend.
type Option func(*options)

type options struct {
	now func() time.Time
	// afterStep, when set, runs after each step of a multi-step write (see the step* constants)
	// and aborts the write with its error. Only tests set it, to prove the write is atomic.
	afterStep func(step string) error
}

// Steps of revokeDevice, the transaction behind Devices.SoftDelete and retiring.
const (
	stepDevice        = "device"
	stepPairingTokens = "pairing_tokens"
	stepSessionTokens = "session_tokens"
)

// WithClock sets the clock of token times (see the package comment); time.Now by default.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// withAfterStep injects a failure between the statements of a multi-step write (tests only).
func withAfterStep(f func(step string) error) Option {
	return func(o *options) { o.afterStep = f }
}

func buildOptions(opts []Option) (options, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		return o, errors.New("store: WithClock: nil clock")
	}
	return o, nil
}

// clock returns now at the database's precision (microseconds), in UTC and without a monotonic
// reading, so a time round-trips through PostgreSQL unchanged.
func (o options) clock() time.Time { return o.now().UTC().Truncate(time.Microsecond) }

func (o options) step(name string) error {
	if o.afterStep == nil {
		return nil
	}
	return o.afterStep(name)
}

// canonicalID returns a uuid in PostgreSQL's output form (lowercase 8-4-4-4-12), or false.
// Both backends accept only this form (in any case), so an id that is not a uuid is simply not
// found, instead of an error from the database's uuid parser on one backend only.
func canonicalID(id string) (string, bool) {
	if len(id) != 36 {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return "", false
		}
	}
	return strings.ToLower(id), true
}

// newUUID returns a random (version 4) uuid, for the memory backend.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand.Read panics rather than return an error)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// tokenBytes is the entropy of a token: 256 bits, beyond guessing.
const tokenBytes = 32

// newToken returns a random token (URL-safe, 43 characters) and its hash.
func newToken() (raw string, hash [sha256.Size]byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b)
	raw = base64.RawURLEncoding.EncodeToString(b)
	return raw, hashToken(raw)
}

// hashToken is what is stored and looked up: SHA-256 of the token's text. A plain hash, not a
// password hash, is enough: the token has 256 bits of entropy, so there is nothing to brute-force.
func hashToken(raw string) [sha256.Size]byte { return sha256.Sum256([]byte(raw)) }

func validSource(s Source) bool {
	return s == SourceUpload || s == SourceImport || s == SourceBuiltin
}

func validLifecycle(s LifecycleState) bool {
	return s == LifecycleUnpaired || s == LifecyclePairing || s == LifecyclePaired || s == LifecycleRetired
}

func validConnection(s ConnectionState) bool {
	return s == ConnectionOnline || s == ConnectionOffline || s == ConnectionUnknown
}

// validEmail is users_email_check: position('@' in email) > 1.
func validEmail(email string) bool { return strings.IndexByte(email, '@') > 0 }

func checkTTL(op string, ttl time.Duration) error {
	if ttl < time.Microsecond { // the database's precision: a shorter ttl would expire as it is made
		return newError(op, postgres.ErrCheck, msgTTLInvalid)
	}
	return nil
}

// orEmpty makes nil slices empty: a nil []string would be sent as SQL NULL, and the arrays are
// NOT NULL; and both backends return empty, never nil, slices.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// opErr wraps an error that is not a store *Error with the operation's name.
func opErr(op string, err error) error { return fmt.Errorf("%s: %w", op, err) }
