package release_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"visiona-backend/internal/cli"
	"visiona-backend/internal/config"
	"visiona-backend/internal/release"
	"visiona-backend/internal/testenv"
)

func query(t *testing.T, cfg config.DB, sql string, dest ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := testenv.Connect(t, cfg)
	defer conn.Close(context.Background())
	var err error
	if len(dest) == 0 {
		_, err = conn.Exec(ctx, sql)
	} else {
		err = conn.QueryRow(ctx, sql).Scan(dest...)
	}
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// dockerRun runs the image with cfg as VISIONA_DB_* variables. The password reaches the container
// through the docker command's environment, never its arguments.
func dockerRun(t *testing.T, image string, cfg config.DB, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := []string{"run", "--rm", "--network", "host"}
	env := os.Environ()
	if cfg.Host != "" { // else: no configuration at all
		run = append(run, "-e", "VISIONA_DB_HOST", "-e", "VISIONA_DB_PORT", "-e", "VISIONA_DB_USER", "-e", "VISIONA_DB_PASSWORD",
			"-e", "VISIONA_DB_NAME", "-e", "VISIONA_DB_SSLMODE")
		env = append(env, "VISIONA_DB_HOST="+cfg.Host, "VISIONA_DB_PORT="+strconv.Itoa(cfg.Port), "VISIONA_DB_USER="+cfg.User,
			"VISIONA_DB_PASSWORD="+cfg.Password, "VISIONA_DB_NAME="+cfg.Name, "VISIONA_DB_SSLMODE="+cfg.SSLMode)
	}
	cmd := exec.CommandContext(ctx, "docker", append(append(run, image), args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

func TestImageMigratesTheTestDatabase(t *testing.T) {
	testenv.RequireDocker(t)
	pgServer.Postgres(t) // skips or fails before the build when there is no server
	dir, commit := checkout(t)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	repo := "visiona-test/migrate-" + hex.EncodeToString(suffix)
	o, stdout, stderr := options(dir)
	img, err := release.BuildImage(t.Context(), o, repo)
	t.Cleanup(func() {
		// Only the tags this test made; the layers go with them.
		_ = exec.Command("docker", "image", "rm", "--force", repo+":"+commit[:12], repo+":latest").Run()
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if img.Build.Commit != commit || img.Build.CGO || img.Build.OS != "linux" || img.Tags[0] != repo+":"+commit[:12] {
		t.Fatalf("image %+v", img)
	}
	if !strings.Contains(stdout.String(), "image "+repo+":"+commit[:12]) {
		t.Errorf("mage image output:\n%s", stdout)
	}

	out, err := exec.Command("docker", "image", "inspect", "--format", "{{json .Config}}", img.Tags[0]).Output()
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		User       string
		Entrypoint []string
		Cmd        []string
		Env        []string
		Labels     map[string]string
	}
	if err := json.Unmarshal(out, &conf); err != nil {
		t.Fatal(err)
	}
	if conf.User == "" || conf.User == "root" || strings.HasPrefix(conf.User, "0") ||
		strings.Join(conf.Entrypoint, " ") != "/migrate" || conf.Labels["org.opencontainers.image.revision"] != commit {
		t.Fatalf("image config %+v: want a non-root user, entrypoint /migrate, the commit as a label", conf)
	}
	for _, e := range conf.Env {
		if strings.HasPrefix(e, "VISIONA_") {
			t.Fatalf("image bakes in configuration: %s", e)
		}
	}

	t.Run("up, version and -version", func(t *testing.T) {
		cfg := pgServer.NewDB(t) // reachable from a container on the host network
		latest, _ := latestMigration(t, dir)
		want, _ := strconv.Atoi(latest[:6])
		r := dockerRun(t, img.Tags[0], cfg, "up")
		if r.code != cli.ExitOK || !strings.Contains(r.stdout, strconv.Itoa(want)+" (latest)") {
			t.Fatalf("up: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
		}
		var version int
		var dirty bool
		query(t, cfg, "select version, dirty from schema_migrations", &version, &dirty)
		if version != want || dirty {
			t.Fatalf("schema_migrations: version %d dirty %v, want %d clean", version, dirty, want)
		}
		if r := dockerRun(t, img.Tags[0], cfg, "version"); r.code != cli.ExitOK || r.stdout != strconv.Itoa(want)+" (latest)\n" {
			t.Fatalf("version: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
		}
		// No configuration at all: the entrypoint's own message, and its code.
		if r := dockerRun(t, img.Tags[0], config.DB{}, "-version"); r.code != cli.ExitOK ||
			!strings.Contains(r.stdout, "commit      "+commit) || !strings.Contains(r.stdout, "latest "+latest+"\n") || !strings.Contains(r.stdout, "lint        no") {
			t.Fatalf("-version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("a failing migration's exit code passes through", func(t *testing.T) {
		cfg := pgServer.NewDB(t) // reachable from a container on the host network
		// A table the first migration creates, already there: its CREATE TABLE fails.
		query(t, cfg, "create table users (id int primary key, note text)")
		r := dockerRun(t, img.Tags[0], cfg, "up")
		if r.code != cli.ExitMigration || !strings.Contains(r.stderr, "000001_create_users.up.sql") || !strings.Contains(r.stderr, "42P07") {
			t.Fatalf("up: exit %d, want %d naming the file and SQLSTATE\nstdout %s\nstderr %s", r.code, cli.ExitMigration, r.stdout, r.stderr)
		}
		var columns int
		query(t, cfg, "select count(*) from information_schema.columns where table_name = 'users'", &columns)
		if columns != 2 {
			t.Fatalf("users has %d columns after the failed up, want the 2 it had", columns)
		}
		if r := dockerRun(t, img.Tags[0], cfg, "version"); r.code != cli.ExitOK || !strings.HasPrefix(r.stdout, "0 ") {
			t.Fatalf("version after the failure: exit %d, stdout %q", r.code, r.stdout)
		}
	})

	t.Run("missing configuration", func(t *testing.T) {
		if r := dockerRun(t, img.Tags[0], config.DB{}, "up"); r.code != cli.ExitConfig || !strings.Contains(r.stderr, "VISIONA_DB_HOST") {
			t.Fatalf("up without configuration: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

func TestImageWithoutDocker(t *testing.T) {
	dir, _ := checkout(t)
	env := append(os.Environ(), "DOCKER_HOST=unix:///nonexistent/docker.sock")
	o, _, _ := options(dir)
	o.Env = env
	_, err := release.BuildImage(t.Context(), o, release.DefaultRepository)
	if !errors.Is(err, release.ErrNoDocker) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want ErrNoDocker in one line", err)
	}
	if _, lerr := exec.LookPath("docker"); lerr == nil && !strings.Contains(err.Error(), "unix:///nonexistent/docker.sock") {
		t.Fatalf("%v does not name where it looked", err)
	}

	// The mage door: one line and exit 24. A compiled mage, since `go run` turns every code into 1.
	mage := filepath.Join(t.TempDir(), "mage")
	build := exec.Command("go", "run", "mage.go", "-compile", mage)
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("compile the magefile: %v\n%s", err, out)
	}
	cmd := exec.Command(mage, "image")
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != cli.ExitNoDocker || strings.Count(stderr.String(), "\n") != 1 ||
		!strings.HasPrefix(stderr.String(), "mage image: error: no Docker engine") || stdout.Len() != 0 {
		t.Fatalf("mage image without Docker: exit %d, want %d and one line\nstdout %q\nstderr %q", code, cli.ExitNoDocker, stdout.String(), stderr.String())
	}
}

// A static build (CGO_ENABLED=0, as in the image) has no PostgreSQL parser: it still migrates, and
// its lint says what it needs.
func TestStaticBuildMigrates(t *testing.T) {
	cfg := pgServer.NewDB(t) // reachable from a container on the host network
	dir, commit := checkout(t)
	o, stdout, stderr := options(dir)
	o.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := release.Build(t.Context(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if b.CGO || b.Commit != commit || !strings.Contains(stdout.String(), "lint        no (built without cgo") {
		t.Fatalf("build %+v:\n%s", b, stdout)
	}
	bin := filepath.Join(dir, "bin", "migrate")
	run := func(args ...string) result {
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir() // no migrations/ folder: lint checks the embedded set
		cmd.Env = append(os.Environ(), "VISIONA_DB_HOST="+cfg.Host, "VISIONA_DB_PORT="+strconv.Itoa(cfg.Port), "VISIONA_DB_USER="+cfg.User,
			"VISIONA_DB_PASSWORD="+cfg.Password, "VISIONA_DB_NAME="+cfg.Name, "VISIONA_DB_SSLMODE="+cfg.SSLMode)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		_ = cmd.Run()
		return result{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}
	}
	latest, _ := latestMigration(t, dir)
	want, _ := strconv.Atoi(latest[:6])
	if r := run("up"); r.code != cli.ExitOK || !strings.Contains(r.stdout, strconv.Itoa(want)+" (latest)") {
		t.Fatalf("static up: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var version int
	query(t, cfg, "select version from schema_migrations", &version)
	if version != want {
		t.Fatalf("schema_migrations.version %d, want %d", version, want)
	}
	if r := run("lint"); r.code == cli.ExitOK || !strings.Contains(r.stderr, "built without cgo: the lint needs PostgreSQL's parser") {
		t.Fatalf("static lint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
