package schema

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Test hooks.

// The DDL log's schema, which a Take during a RoundTrip would see, and one of its event triggers.
const (
	LogSchema  = logSchema
	DDLTrigger = ddlTrigger
)

// WithCrossCheck makes RoundTrip take a full snapshot after every step too, and fail with the
// difference when the incremental one is not equal to it.
func WithCrossCheck() RoundTripOption {
	return func(c *roundTripConfig) error {
		c.crossCheck = true
		return nil
	}
}

// WithFullSnapshots makes RoundTrip take a full snapshot after every step, without the DDL log:
// the plain walk, which the incremental one must match.
func WithFullSnapshots() RoundTripOption {
	return func(c *roundTripConfig) error {
		c.fullSnapshots = true
		return nil
	}
}

// Tracker exposes RoundTrip's incremental snapshots on a connection of the test's.
type Tracker struct{ t *tracker }

// NewTracker installs the DDL log in conn's database and takes a first, full, snapshot. conn is
// the tracker's: its session settings change.
func NewTracker(ctx context.Context, conn *pgx.Conn, opts ...Option) (*Tracker, error) {
	t, err := newTracker(ctx, conn, opts, true)
	if err != nil {
		return nil, err
	}
	if !t.logging {
		return nil, errors.New("no DDL log: the test server's role is not a superuser")
	}
	if _, err := t.full(ctx, "start"); err != nil {
		return nil, errors.Join(err, t.stopLogging(ctx))
	}
	return &Tracker{t}, nil
}

// Step brings the snapshot up to date, and says whether it read the whole schema, and why.
func (tr *Tracker) Step(ctx context.Context) (s *Snapshot, full bool, reason string, err error) {
	if _, err := tr.t.step(ctx, false); err != nil {
		return nil, false, "", err
	}
	return tr.t.st.snapshot(), tr.t.lastFull, tr.t.lastReason, nil
}

// Close removes the DDL log.
func (tr *Tracker) Close(ctx context.Context) error { return tr.t.stopLogging(ctx) }
