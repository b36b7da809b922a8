// Package health checks the servers visionA depends on, for a /healthz endpoint: PostgreSQL and
// Redis are pinged in parallel, each with its own short timeout, so a hung server makes the
// check slow by at most that timeout, not by the sum, and never hangs the probe.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"visiona-backend/internal/postgres"
)

// DefaultTimeout bounds each ping: well under a load balancer's probe timeout.
const DefaultTimeout = time.Second

// Status is the result of one ping.
type Status struct {
	// Configured is false when the server has no such dependency (a nil client): such a status
	// is not checked and does not make the report fail.
	Configured bool
	OK         bool
	Latency    time.Duration
	// Error says what failed, in words safe to serve to anyone: never an address, user or
	// database name ("timeout after 1s", "database unavailable (cannot connect)").
	Error string
}

// MarshalJSON writes {"status":"ok|error|not configured","latency_ms":1.2,"error":"..."}.
func (s Status) MarshalJSON() ([]byte, error) {
	v := struct {
		Status    string  `json:"status"`
		LatencyMS float64 `json:"latency_ms"`
		Error     string  `json:"error,omitempty"`
	}{Status: "ok", LatencyMS: float64(s.Latency.Microseconds()) / 1000, Error: s.Error}
	switch {
	case !s.Configured:
		v.Status = "not configured"
	case !s.OK:
		v.Status = "error"
	}
	return json.Marshal(v)
}

// Report is what /healthz serves: OK when every configured dependency answered.
type Report struct {
	OK        bool      `json:"ok"`
	Postgres  Status    `json:"postgres"`
	Redis     Status    `json:"redis"`
	CheckedAt time.Time `json:"checked_at"`
}

// Option configures Check.
type Option func(*options)

type options struct{ timeout time.Duration }

// WithTimeout sets each ping's timeout (DefaultTimeout); values of zero or less are ignored.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// Check pings PostgreSQL through pool and Redis through rdb in parallel. A nil pool or rdb means
// the server runs without that dependency (Status.Configured false). ctx bounds the whole check
// as well.
func Check(ctx context.Context, pool *pgxpool.Pool, rdb redis.UniversalClient, opts ...Option) Report {
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	r := Report{CheckedAt: time.Now().UTC()}
	var wg sync.WaitGroup
	if pool != nil {
		wg.Go(func() {
			r.Postgres = ping(ctx, o.timeout, pool.Ping, func(err error) string { return postgres.MapError(err).Error() })
		})
	}
	if rdb != nil {
		wg.Go(func() {
			r.Redis = ping(ctx, o.timeout, func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, redisError)
		})
	}
	wg.Wait()
	r.OK = (!r.Postgres.Configured || r.Postgres.OK) && (!r.Redis.Configured || r.Redis.OK)
	return r
}

// ping runs f under the timeout and describes its failure with describe, or as a timeout. It
// returns at the timeout even if f does not: go-redis ignores context deadlines unless the client
// was built with ContextTimeoutEnabled, and a probe must not wait for the client's own timeouts
// (seconds). An abandoned f finishes in the background, bounded by those timeouts.
func ping(ctx context.Context, timeout time.Duration, f func(context.Context) error, describe func(error) string) Status {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel() // after the classification below, which reads ctx.Err()
	start := time.Now()
	done := make(chan error, 1) // buffered: an abandoned f can still send and end
	go func() { done <- f(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	st := Status{Configured: true, OK: err == nil, Latency: time.Since(start)}
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		st.Error = "timeout after " + timeout.String()
	case ctx.Err() != nil:
		st.Error = "check cancelled"
	default:
		st.Error = describe(err)
	}
	return st
}

// redisError describes a Redis failure without go-redis's text, which names the address.
func redisError(err error) string {
	var reply redis.Error
	if errors.As(err, &reply) {
		code, _, _ := strings.Cut(reply.Error(), " ") // e.g. NOAUTH, LOADING
		return "redis replied " + code
	}
	return "redis unavailable"
}
