package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
)

// restartableEntrypoint keeps a shell as the container's first process, so the server can stop
// and start again without the container (and the data on its tmpfs) going away: the image's
// entrypoint runs as its child, and the shell stays once the first server exits. It leaves on
// docker's SIGTERM (a process 1 without a handler would ignore it until docker's SIGKILL).
const restartableEntrypoint = `trap 'exit 0' TERM INT; docker-entrypoint.sh "$@" & wait; while :; do sleep 1 & wait; done`

// StartRestartablePostgres is StartPostgres for a server that Restart can stop and start again.
// The container is terminated when the test ends. Like Server, it skips (fails with CI=true)
// when no Docker engine or image is there; an existing server (VISIONA_TEST_POSTGRES_URL) cannot
// be restarted by a test, so with one set the test skips too.
func StartRestartablePostgres(t testing.TB) *Postgres {
	t.Helper()
	if u, ok := os.LookupEnv(EnvTestPostgresURL); ok && strings.TrimSpace(u) != "" {
		t.Skipf("testenv: %s names an existing server, which a test does not restart", EnvTestPostgresURL)
	}
	image := ImagesFromEnv(os.LookupEnv).Postgres
	RequireImages(t, image)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pg, err := StartPostgres(ctx, image, testcontainers.WithEntrypoint("bash", "-c", restartableEntrypoint, "entrypoint"))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pg.Terminate(ctx); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return pg
}

// Restart stops the server with pg_ctl's shutdown mode ("fast": sessions are terminated and a
// checkpoint is written; "immediate": every process quits at once and the next start replays the
// WAL, as after a crash) and starts it again; it returns once the server accepts connections.
// Only for a server from StartRestartablePostgres.
func (p *Postgres) Restart(ctx context.Context, mode string) error {
	if p.ctr == nil {
		return errors.New("restart: not a container started by this package")
	}
	// -l: the new server must not write to this exec's output, or the exec would wait for it.
	cmd := []string{"pg_ctl", "restart", "-m", mode, "-D", pgdata, "-w", "-t", "120", "-l", "/tmp/postgres-restarted.log"}
	code, out, err := p.ctr.Exec(ctx, cmd, tcexec.WithUser("postgres"), tcexec.Multiplexed())
	if err != nil {
		return fmt.Errorf("restart (%s): %w", mode, err)
	}
	if code != 0 {
		text, _ := io.ReadAll(out)
		return fmt.Errorf("restart (%s): pg_ctl exited %d: %s", mode, code, strings.TrimSpace(string(text)))
	}
	return nil
}
