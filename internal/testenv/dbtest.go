package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Environment of the dbtest suites (`go test -tags dbtest`), set by `go run mage.go testDB`.
// The suites take their server from these variables only: the runner has already started it and
// migrated the template, so a suite neither starts containers nor runs migrations.
const (
	// EnvDBTestPostgresURL is a superuser postgres:// URL of the server.
	EnvDBTestPostgresURL = "VISIONA_DBTEST_POSTGRES_URL"
	// EnvDBTestTemplate names a database on that server migrated to the latest version, with
	// nobody connected to it (PostgreSQL copies a template only then).
	EnvDBTestTemplate = "VISIONA_DBTEST_TEMPLATE"
)

const howToRunDBTest = "the dbtest suites run under `go run mage.go testDB`, which starts PostgreSQL, migrates a template database and sets " +
	EnvDBTestPostgresURL + " and " + EnvDBTestTemplate

// templateBusyWait bounds the retries of a clone whose template someone is connected to: an
// autovacuum worker leaves within moments, a forgotten psql session does not.
const templateBusyWait = 10 * time.Second

// DBTestDatabase returns the URL of a new database cloned from the template named by
// VISIONA_DBTEST_TEMPLATE, on the server of VISIONA_DBTEST_POSTGRES_URL, and drops it when t
// ends. Cloning is a file copy: a dbtest package gets a migrated database in milliseconds, and
// never sees another package's rows. The URL holds the password: do not log it.
//
// Without the variables the test skips, saying how to run it, except with CI=true, where it fails:
// a dbtest build in CI without its server is a broken pipeline, not a pass.
func DBTestDatabase(t testing.TB) string {
	t.Helper()
	return dbTestDatabase(t, os.LookupEnv)
}

func dbTestDatabase(t testing.TB, lookup func(string) (string, bool)) string {
	t.Helper()
	get := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	rawURL, template := get(EnvDBTestPostgresURL), get(EnvDBTestTemplate)
	switch {
	case rawURL == "" && template == "":
		missingServer(t, lookup, EnvDBTestPostgresURL+" and "+EnvDBTestTemplate+" are not set", howToRunDBTest)
	case rawURL == "":
		t.Fatalf("testenv: %s is set but %s is not; %s", EnvDBTestTemplate, EnvDBTestPostgresURL, howToRunDBTest)
	case template == "":
		t.Fatalf("testenv: %s is set but %s is not; %s", EnvDBTestPostgresURL, EnvDBTestTemplate, howToRunDBTest)
	}
	admin, err := parseAdminURL(rawURL)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	name, err := databaseName(t.Name())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	create := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	if err := createFromTemplate(t.Context(), admin.String(), create); err != nil {
		t.Fatalf("testenv: clone template %q into %s: %v", template, safeURLTarget(admin, name), explainCloneError(err, template))
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a pool the test forgot to close must not make the drop fail (PostgreSQL 13+).
		if err := execOnce(ctx, admin.String(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", safeURLTarget(admin, name), err)
		}
	})
	clone := *admin
	clone.Path = "/" + name
	return clone.String()
}

// parseAdminURL checks the superuser URL. Its errors never repeat the URL, which holds a password.
func parseAdminURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("%s is not a postgres://user:password@host:port/db URL", EnvDBTestPostgresURL)
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = "/" + adminDB // pgx would otherwise pick a database named after the user
	}
	return u, nil
}

// createFromTemplate runs CREATE DATABASE ... TEMPLATE, retrying while PostgreSQL reports the
// template busy (SQLSTATE 55006: someone is connected to it).
func createFromTemplate(ctx context.Context, adminURL, sql string) error {
	deadline := time.Now().Add(templateBusyWait)
	wait := 50 * time.Millisecond
	for {
		err := execOnce(ctx, adminURL, sql)
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

func explainCloneError(err error, template string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "3D000":
			return fmt.Errorf("%w; %s must name a migrated database on that server", err, EnvDBTestTemplate)
		case "55006":
			return fmt.Errorf("%w; close every session on %q (psql, an IDE) and retry", err, template)
		}
	}
	return err
}

func execOnce(ctx context.Context, connURL, sql string) error {
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// safeURLTarget renders user@host:port/dbname, without the password.
func safeURLTarget(u *url.URL, dbname string) string {
	return fmt.Sprintf("%s@%s/%s", u.User.Username(), u.Host, dbname)
}
