//go:build dbtest

package session

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"visiona-backend/internal/testenv"
)

// newStore returns a Store on the dbtest Redis under the test's own prefix (its keys are deleted
// when the test ends), and the client, to inspect keys.
func newStore(t *testing.T, opts ...Option) (*Store, *redis.Client) {
	t.Helper()
	url, prefix := testenv.DBTestRedis(t)
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal("VISIONA_DBTEST_REDIS_URL is not a redis:// URL")
	}
	rdb := redis.NewClient(o)
	t.Cleanup(func() { rdb.Close() })
	s, err := New(rdb, append([]Option{WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s, rdb
}

func pttl(t *testing.T, rdb *redis.Client, key string) time.Duration {
	t.Helper()
	d, err := rdb.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCreateGetDelete(t *testing.T) {
	s, rdb := newStore(t, WithIdleTimeout(time.Minute), WithAbsoluteLifetime(time.Hour))
	ctx := t.Context()
	data := []byte("{\"user\":\"42\"}\x00\xff binary")
	created, err := s.Create(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(created.ID) != idLen || created.Deadline.Sub(created.CreatedAt) != time.Hour || created.ExpiresAt.Sub(created.CreatedAt) != time.Minute {
		t.Fatalf("Create = %+v", created)
	}
	if d := time.Since(created.CreatedAt); d < -time.Minute || d > time.Minute {
		t.Fatalf("CreatedAt %v is not Redis's now", created.CreatedAt)
	}
	got, err := s.Get(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, data) || !got.CreatedAt.Equal(created.CreatedAt) || !got.Deadline.Equal(created.Deadline) {
		t.Fatalf("Get = %+v, want %+v", got, created)
	}

	// Only the hash of the id is in Redis.
	keys, err := rdb.Keys(ctx, s.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != s.key(created.ID) || strings.Contains(keys[0], created.ID) {
		t.Fatalf("keys %v: want one key, named by the id's hash", keys)
	}

	if err := s.Delete(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, created.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, created.ID); err != nil {
		t.Fatalf("second Delete = %v, want nil", err)
	}
	if _, err := s.Get(ctx, strings.Repeat("B", idLen)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(unknown) = %v, want ErrNotFound", err)
	}
}

// TestIdleTimeoutSlides: each Get resets the TTL to the idle timeout; without a Get the session
// ends after it.
func TestIdleTimeoutSlides(t *testing.T) {
	// Margins of a few hundred milliseconds: a loaded CI machine can stall a process that long.
	const (
		idle   = 1500 * time.Millisecond
		step   = idle / 2
		margin = 400 * time.Millisecond
	)
	s, rdb := newStore(t, WithIdleTimeout(idle), WithAbsoluteLifetime(time.Minute))
	ctx := t.Context()
	sess, err := s.Create(ctx, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	key := s.key(sess.ID)
	if d := pttl(t, rdb, key); d <= 0 || d > idle {
		t.Fatalf("PTTL after Create = %v, want in (0, %v]", d, idle)
	}
	for range 3 { // 3 steps: longer than idle in total, but never idle for that long
		time.Sleep(step)
		if d := pttl(t, rdb, key); d > idle-step+margin/4 {
			t.Fatalf("PTTL before Get = %v: the TTL should have run down", d)
		}
		got, err := s.Get(ctx, sess.ID)
		if err != nil {
			t.Fatalf("Get within the idle timeout: %v", err)
		}
		if d := pttl(t, rdb, key); d < idle-margin || d > idle {
			t.Fatalf("PTTL after Get = %v, want ~%v (slid)", d, idle)
		}
		if until := time.Until(got.ExpiresAt); until < idle-margin || until > idle+margin {
			t.Fatalf("ExpiresAt in %v, want ~%v", until, idle)
		}
	}
	time.Sleep(idle + margin)
	if _, err := s.Get(ctx, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after the idle timeout = %v, want ErrNotFound", err)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("the key outlived the idle timeout")
	}
}

// TestAbsoluteDeadline: a session used continuously still ends at its deadline; near it, the
// TTL is what is left, not the idle timeout.
func TestAbsoluteDeadline(t *testing.T) {
	const idle, lifetime = 400 * time.Millisecond, time.Second
	s, rdb := newStore(t, WithIdleTimeout(idle), WithAbsoluteLifetime(lifetime))
	ctx := t.Context()
	sess, err := s.Create(ctx, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if sess.Deadline.Sub(sess.CreatedAt) != lifetime {
		t.Fatalf("Deadline - CreatedAt = %v, want %v", sess.Deadline.Sub(sess.CreatedAt), lifetime)
	}
	key := s.key(sess.ID)
	sawCapped := false
	deadline := time.Now().Add(lifetime) // local estimate; Redis's clock decides
	for time.Until(deadline) > 60*time.Millisecond {
		got, err := s.Get(ctx, sess.ID)
		if err != nil {
			t.Fatalf("Get %v before the deadline: %v", time.Until(deadline), err)
		}
		if got.ExpiresAt.After(got.Deadline) {
			t.Fatalf("ExpiresAt %v after Deadline %v", got.ExpiresAt, got.Deadline)
		}
		d := pttl(t, rdb, key)
		if left := time.Until(deadline); left < idle-50*time.Millisecond {
			// The TTL must be the time left (give or take the clocks), not the idle timeout.
			if d > left+50*time.Millisecond {
				t.Fatalf("PTTL %v with %v left before the deadline: the idle timeout overrode it", d, left)
			}
			sawCapped = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sawCapped {
		t.Fatal("never observed the TTL capped by the deadline")
	}
	time.Sleep(time.Until(deadline) + 100*time.Millisecond)
	if _, err := s.Get(ctx, sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after the deadline = %v, want ErrNotFound", err)
	}
	if n, _ := rdb.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("the key outlived the absolute deadline")
	}
}

// TestPrefixesIsolate: stores with different prefixes do not see each other's sessions.
func TestPrefixesIsolate(t *testing.T) {
	a, rdb := newStore(t)
	b, err := New(rdb, WithPrefix(a.prefix+"other:"))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := a.Create(t.Context(), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(t.Context(), sess.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other prefix Get = %v, want ErrNotFound", err)
	}
}
