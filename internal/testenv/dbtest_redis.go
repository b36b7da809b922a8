package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

// Redis environment of the dbtest suites, set by `go run mage.go testDB` next to
// EnvDBTestPostgresURL.
const (
	// EnvDBTestRedisURL is a redis:// URL of the server (it may hold a password: never log it).
	EnvDBTestRedisURL = "VISIONA_DBTEST_REDIS_URL"
	// EnvDBTestRedisPrefix starts every key a suite writes, so a run on a shared server can find
	// and remove exactly its own keys.
	EnvDBTestRedisPrefix = "VISIONA_DBTEST_REDIS_PREFIX"
)

// defaultDBTestRedisPrefix is used when only the URL is set (a developer pointing the suites at a
// local Redis by hand).
const defaultDBTestRedisPrefix = "visiona-dbtest:"

const howToRunDBTestRedis = "run `go run mage.go testDB`, which starts Redis and sets " +
	EnvDBTestRedisURL + " and " + EnvDBTestRedisPrefix

// DBTestRedis returns the URL of the dbtest Redis and a key prefix of the test's own: the run's
// prefix (VISIONA_DBTEST_REDIS_PREFIX) followed by the test's name and a random part, so tests
// running in parallel, in any package, never see each other's keys. Every key starting with the
// prefix is deleted when the test ends.
//
// Without VISIONA_DBTEST_REDIS_URL the test skips, saying how to run it, except with CI=true,
// where it fails.
func DBTestRedis(t testing.TB) (url, prefix string) {
	t.Helper()
	return dbTestRedis(t, os.LookupEnv)
}

func dbTestRedis(t testing.TB, lookup func(string) (string, bool)) (string, string) {
	t.Helper()
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	url, base := get(EnvDBTestRedisURL), get(EnvDBTestRedisPrefix)
	if url == "" {
		missingServer(t, lookup, EnvDBTestRedisURL+" is not set", howToRunDBTestRedis)
	}
	if base == "" {
		base = defaultDBTestRedisPrefix
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatalf("testenv: random key prefix: %v", err)
	}
	prefix := base + redisKeyPart(t.Name()) + ":" + hex.EncodeToString(suffix) + ":"
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DeleteRedisPrefix(ctx, url, prefix); err != nil {
			t.Errorf("testenv: delete test keys %s*: %v", prefix, err)
		}
	})
	return url, prefix
}

// redisKeyPart makes a test name safe inside a key and a SCAN pattern: glob characters
// (* ? [ ] \) would make DeleteRedisPrefix match other tests' keys.
func redisKeyPart(name string) string {
	return namePart(name, 60, func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
	})
}
