package testenv

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// stopTB records how DBTestRedis stopped a test; Skip and Fatal end the goroutine like the real
// ones, so the code after them is not reached.
type stopTB struct {
	testing.TB
	name     string
	skipped  string
	fatal    string
	cleanups []func()
}

func (s *stopTB) Helper()          {}
func (s *stopTB) Name() string     { return s.name }
func (s *stopTB) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }
func (s *stopTB) Skip(args ...any) {
	s.skipped = strings.TrimSpace(fmt.Sprint(args...))
	runtime.Goexit()
}
func (s *stopTB) Fatal(args ...any) {
	s.fatal = strings.TrimSpace(fmt.Sprint(args...))
	runtime.Goexit()
}
func (s *stopTB) Fatalf(format string, a ...any) {
	s.fatal = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

func runTB(tb *stopTB, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func TestDBTestRedisUnset(t *testing.T) {
	tb := &stopTB{name: "TestX"}
	runTB(tb, func() { dbTestRedis(tb, env(nil)) })
	if !strings.Contains(tb.skipped, "VISIONA_DBTEST_REDIS_URL is not set") || !strings.Contains(tb.skipped, "go run mage.go testDB") {
		t.Fatalf("skip message %q: want the variable and how to run the suites", tb.skipped)
	}

	tb = &stopTB{name: "TestX"}
	runTB(tb, func() { dbTestRedis(tb, env(map[string]string{"CI": "true"})) })
	if tb.skipped != "" || !strings.Contains(tb.fatal, "CI=true") {
		t.Fatalf("with CI=true: skipped %q, fatal %q; want a failure", tb.skipped, tb.fatal)
	}
}

func TestDBTestRedisPrefixPerTest(t *testing.T) {
	var prefixes []string
	for _, name := range []string{"TestA/sub*case[1]", "TestA/sub*case[1]"} {
		tb := &stopTB{name: name}
		var url, prefix string
		runTB(tb, func() {
			url, prefix = dbTestRedis(tb, env(map[string]string{
				"VISIONA_DBTEST_REDIS_URL":    "redis://127.0.0.1:1/0",
				"VISIONA_DBTEST_REDIS_PREFIX": "testdb:ab12:",
			}))
		})
		if url != "redis://127.0.0.1:1/0" || len(tb.cleanups) != 1 {
			t.Fatalf("url %q, %d cleanups; want the URL and one cleanup (the key deletion)", url, len(tb.cleanups))
		}
		if !strings.HasPrefix(prefix, "testdb:ab12:TestA_sub_case_1_:") || strings.ContainsAny(prefix, "*?[]\\") || !strings.HasSuffix(prefix, ":") {
			t.Fatalf("prefix %q: want the run's prefix, the test's name without glob characters, a random part", prefix)
		}
		prefixes = append(prefixes, prefix)
	}
	if prefixes[0] == prefixes[1] {
		t.Fatalf("two calls gave the same prefix %q", prefixes[0])
	}
}
