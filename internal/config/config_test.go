package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func lookup(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDefaultsAndValues(t *testing.T) {
	cfg, err := Load(lookup(map[string]string{
		"VISIONA_DB_HOST": "db.internal", "VISIONA_DB_USER": "app", "VISIONA_DB_NAME": "visiona",
		"VISIONA_DB_PASSWORD": "s3cret", "VISIONA_DB_LOCK_TIMEOUT": "2m", "VISIONA_DB_AUTO_MIGRATE": "true",
		"VISIONA_REDIS_ADDR": "localhost:6379", "VISIONA_REDIS_DB": "3", "VISIONA_DB_MIGRATION_SYNC_COMMIT": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DB
	if d.Port != 5432 || d.SSLMode != "prefer" || d.LockTimeout != 2*time.Minute || !d.AutoMigrate || !d.MigrationSyncCommit || cfg.LogLevel != "info" || cfg.Redis.DB != 3 {
		t.Errorf("loaded %+v", cfg)
	}
	if got := d.SafeTarget(); got != "app@db.internal:5432/visiona?sslmode=prefer" || strings.Contains(got, "s3cret") {
		t.Errorf("SafeTarget = %q", got)
	}
	if err := d.Require(); err != nil {
		t.Errorf("Require: %v", err)
	}
}

func TestLoadRejectsInvalidValuesByName(t *testing.T) {
	for name, val := range map[string]string{
		"VISIONA_DB_PORT": "abc", "VISIONA_DB_SSLMODE": "sometimes", "VISIONA_DB_LOCK_TIMEOUT": "-1s",
		"VISIONA_DB_AUTO_MIGRATE": "yes please", "VISIONA_REDIS_DB": "16", "VISIONA_LOG_LEVEL": "chatty",
		"VISIONA_DB_MAX_CONNS": "0", "VISIONA_DB_HOST": "bad host", "VISIONA_DB_MIGRATION_SYNC_COMMIT": "always",
	} {
		_, err := Load(lookup(map[string]string{name: val}))
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != name {
			t.Errorf("%s=%q: err = %v, want a *config.Error naming it", name, val, err)
		}
	}
}

func TestRequireNamesMissingVariables(t *testing.T) {
	cfg, err := Load(lookup(map[string]string{"VISIONA_DB_USER": "app"}))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.DB.Require()
	if !errors.Is(err, ErrDatabaseNotConfigured) || !strings.Contains(err.Error(), "missing: VISIONA_DB_HOST, VISIONA_DB_NAME") {
		t.Errorf("Require = %v", err)
	}
}

func TestIsLocal(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "/var/run/postgresql": true,
		"10.0.0.5": false, "db.example.com": false, "127.0.0.1.example.com": false} {
		if got := (DB{Host: host}).IsLocal(); got != want {
			t.Errorf("IsLocal(%q) = %v, want %v", host, got, want)
		}
	}
	if got := (DB{Host: "::1", User: "u", Port: 5432, Name: "d", SSLMode: "disable"}).SafeTarget(); got != "u@[::1]:5432/d?sslmode=disable" {
		t.Errorf("IPv6 SafeTarget = %q", got)
	}
}

func TestDBFromURL(t *testing.T) {
	d, err := DBFromURL("postgres://app:p%40ss%3Aw@localhost:5433/visiona?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if d.Password != "p@ss:w" || d.Port != 5433 || d.Name != "visiona" || d.SSLMode != "disable" || d.User != "app" {
		t.Errorf("DBFromURL = %+v", d)
	}
	if _, err := DBFromURL("mysql://app:hunter2@x/y"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad scheme: err = %v (must not echo the URL)", err)
	}
}

func TestLoadLint(t *testing.T) {
	env := func(kv ...string) Lookup {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	l, err := LoadLint(env())
	if err != nil || l.ServerMajor != 0 || l.GitHubActions {
		t.Errorf("empty: %+v, %v", l, err)
	}
	l, err = LoadLint(env("VISIONA_DB_SERVER_VERSION", "14.3", "GITHUB_ACTIONS", "true"))
	if err != nil || l.ServerMajor != 14 || l.ServerMinor != 3 || !l.GitHubActions {
		t.Errorf("14.3 on GitHub: %+v, %v", l, err)
	}
	l, err = LoadLint(env("VISIONA_DB_SERVER_VERSION", "18"))
	if err != nil || l.ServerMajor != 18 || l.ServerMinor != -1 {
		t.Errorf("18: %+v, %v", l, err)
	}
	for _, bad := range []string{"9", "x", "14.", "fourteen"} {
		_, err := LoadLint(env("VISIONA_DB_SERVER_VERSION", bad))
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Var != "VISIONA_DB_SERVER_VERSION" {
			t.Errorf("%q: %v, want an error naming VISIONA_DB_SERVER_VERSION", bad, err)
		}
	}
}
