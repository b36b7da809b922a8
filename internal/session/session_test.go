package session

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestNewValidatesOptions(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for name, opt := range map[string]Option{
		"empty prefix":         WithPrefix(""),
		"zero idle":            WithIdleTimeout(0),
		"sub-millisecond idle": WithIdleTimeout(time.Microsecond),
		"negative lifetime":    WithAbsoluteLifetime(-time.Hour),
	} {
		if _, err := New(rdb, opt); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	s, err := New(rdb)
	if err != nil || s.prefix != DefaultPrefix || s.idle != DefaultIdleTimeout || s.absolute != DefaultAbsoluteLifetime {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
}

// TestRedisDown: with no Redis every call fails with ErrUnavailable; nothing falls back to
// memory. No server needed: the port is closed.
func TestRedisDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	s, err := New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, err = s.Create(ctx, []byte("x"))
	if !errors.Is(err, ErrUnavailable) || !strings.HasPrefix(err.Error(), "create session: session store unavailable: ") {
		t.Fatalf("Create = %v, want ErrUnavailable", err)
	}
	_, err = s.Get(ctx, strings.Repeat("a", idLen))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Get = %v, want ErrUnavailable", err)
	}
	if err := s.Delete(ctx, strings.Repeat("a", idLen)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Delete = %v, want ErrUnavailable", err)
	}
}

// TestMalformedIDs never reach Redis (the client points nowhere, so a call would fail
// differently).
func TestMalformedIDs(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	s, err := New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "short", strings.Repeat("*", idLen), strings.Repeat("a", idLen+1)} {
		if _, err := s.Get(t.Context(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound without asking Redis", id, err)
		}
		if err := s.Delete(t.Context(), id); err != nil {
			t.Errorf("Delete(%q) = %v, want nil", id, err)
		}
	}
	if idLen != 43 {
		t.Fatalf("idLen = %d, want 43 (32 bytes in unpadded base64url)", idLen)
	}
}

func TestKeyHidesID(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	s, _ := New(rdb, WithPrefix("p:"))
	id := strings.Repeat("A", idLen)
	k := s.key(id)
	if !strings.HasPrefix(k, "p:") || strings.Contains(k, id) || len(k) != len("p:")+64 {
		t.Fatalf("key %q: want the prefix and a SHA-256 in hex, not the id", k)
	}
}

func TestUnavailableReplies(t *testing.T) {
	for reply, want := range map[string]bool{
		"LOADING Redis is loading the dataset in memory":                    true,
		"READONLY You can't write against a read only replica.":             true,
		"WRONGTYPE Operation against a key holding the wrong kind of value": false,
		"ERR syntax error": false,
	} {
		if got := unavailableReply(reply); got != want {
			t.Errorf("unavailableReply(%q) = %v, want %v", reply, got, want)
		}
	}
}
