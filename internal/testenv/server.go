package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startTimeout bounds a container start from a test: a missing image that has to be pulled
// with no registry would otherwise be retried for many minutes.
const startTimeout = 3 * time.Minute

// What a skipped test says, so a reader knows how to run it for real (the reason for the
// skip already says how to get a Docker engine).
const (
	howToRun       = "to run these tests: `bash .ci/run`"
	howToRunServer = howToRun + ", or set " + EnvTestPostgresURL + " to a superuser URL of an existing PostgreSQL"
)

// Server is a lazily started PostgreSQL shared by the tests of one test binary (see the package
// doc for the TestMain that stops it). If VISIONA_TEST_POSTGRES_URL is set, that server is used
// instead of a container. When no Docker engine answers, tests skip with a message saying how to
// run them, except with CI=true, where they fail: servers missing in CI is breakage, not a reason
// to pass.
type Server struct {
	lookup func(string) (string, bool)

	mu      sync.Mutex
	started bool      // the start was attempted; its outcome below is final
	pg      *Postgres // nil until started, or when the start failed
	missing string    // why no server is available (no Docker); tests skip or fail with it
	err     error     // the start failed
}

// NewServer returns a Server that reads its settings from the process environment when the
// first test asks for the server.
func NewServer() *Server { return &Server{lookup: os.LookupEnv} }

// Postgres returns the server, starting it on the first call; concurrent callers wait for
// that start. Tests fail (or skip, see Server) when it cannot be had.
func (s *Server) Postgres(t testing.TB) *Postgres {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		s.pg, s.missing, s.err = s.start()
	}
	switch {
	case s.missing != "":
		missingServer(t, s.lookup, s.missing, howToRunServer)
	case s.err != nil:
		t.Fatalf("testenv: %v", s.err)
	}
	return s.pg
}

func (s *Server) start() (pg *Postgres, missing string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if u, ok := s.lookup(EnvTestPostgresURL); ok && strings.TrimSpace(u) != "" {
		if pg, err = ConnectPostgres(ctx, strings.TrimSpace(u)); err != nil {
			err = fmt.Errorf("%s: %w", EnvTestPostgresURL, err)
		}
		return pg, "", err
	}
	if ok, reason := DockerAvailable(ctx); !ok {
		return nil, reason, nil
	}
	image := ImagesFromEnv(s.lookup).Postgres
	if ok, reason := ImageAvailable(ctx, image); !ok {
		return nil, reason, nil
	}
	pg, err = StartPostgres(ctx, image)
	return pg, "", err
}

// NewDatabase creates an empty database with a unique name on the server and returns its URL
// (with the password: do not log it). The database is dropped, connections and all, when
// the test ends.
func (s *Server) NewDatabase(t testing.TB) (url string) {
	t.Helper()
	pg := s.Postgres(t)
	name, err := databaseName(t.Name())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := adminExec(t.Context(), pg, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s: %v", pg.SafeTarget(name), err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a pool the test forgot to close must not make the drop fail (PostgreSQL 13+).
		if err := adminExec(ctx, pg, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", pg.SafeTarget(name), err)
		}
	})
	return pg.URL(name)
}

// Close terminates the container if one was started. Main calls it after m.Run: there is no
// reaper to remove it otherwise.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.pg.Terminate(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
	}
	s.pg = nil
}

// RequireDocker skips the test (fails it with CI=true) when no Docker engine answers, or when
// the PostgreSQL and Redis images selected by the environment (ImagesFromEnv) can be neither
// found nor pulled; for tests that start their own containers.
func RequireDocker(t testing.TB) {
	t.Helper()
	images := ImagesFromEnv(os.LookupEnv)
	RequireImages(t, images.Postgres, images.Redis)
}

// RequireImages is RequireDocker for the given images (e.g. another PostgreSQL major's).
func RequireImages(t testing.TB, images ...string) {
	t.Helper()
	if ok, reason := DockerAvailable(t.Context()); !ok {
		missingServer(t, os.LookupEnv, reason, howToRun)
		return
	}
	for _, image := range images {
		if ok, reason := ImageAvailable(t.Context(), image); !ok {
			missingServer(t, os.LookupEnv, reason, howToRun)
			return
		}
	}
}

func missingServer(t testing.TB, lookup func(string) (string, bool), reason, how string) {
	t.Helper()
	msg, fatal := missingServerMessage(lookup, reason, how)
	if fatal {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// missingServerMessage decides between skipping and failing: CI=true must fail loudly.
func missingServerMessage(lookup func(string) (string, bool), reason, how string) (msg string, fatal bool) {
	v, _ := lookup("CI")
	if ci, _ := strconv.ParseBool(v); ci {
		return "testenv: " + reason + " (CI=true: failing instead of skipping)", true
	}
	return "testenv: " + reason + "; " + how, false
}

func adminExec(ctx context.Context, pg *Postgres, sql string) error {
	conn, err := pgx.Connect(ctx, pg.AdminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// databaseName turns a test name into a valid, unique database name: "t_" + the test name's
// letters and digits (readable in pg_stat_activity), cut so the whole stays within
// PostgreSQL's 63-byte identifier limit, + a random suffix.
func databaseName(testName string) (string, error) {
	base := namePart(strings.ToLower(testName), 44, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' })
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return "t_" + base + "_" + hex.EncodeToString(suffix), nil
}

// namePart is s with every rune keep refuses written as _, cut to max bytes: a test's name made
// safe inside a database name or a key. keep accepts ASCII only, so the cut splits no rune.
func namePart(s string, max int, keep func(rune) bool) string {
	var b strings.Builder
	for _, r := range s {
		if keep(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > max {
		out = out[:max]
	}
	return out
}
