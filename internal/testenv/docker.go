package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"visiona-backend/internal/lines"
)

// setupHint tells a reader how to get a Docker engine.
const setupHint = "run build/testenv/setup.sh or start dockerd"

// DockerAvailable reports whether a Docker engine answers, and when it does not, a one-line
// reason that says where it looked and what to do. It waits at most 10 s.
func DockerAvailable(ctx context.Context) (ok bool, reason string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The same discovery as the containers will use (DOCKER_HOST, docker context,
	// ~/.testcontainers.properties, the default socket), so the answer cannot disagree with it.
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		_, err = cli.Ping(ctx, client.PingOptions{})
		_ = cli.Close()
	}
	if err != nil {
		host, why := os.Getenv("DOCKER_HOST"), lines.First(err.Error())
		if host == "" {
			host = "unix://" + defaultSocket
			if _, serr := os.Stat(defaultSocket); serr != nil {
				// testcontainers' own error names the last place it looked (rootless Docker).
				why = "no such socket"
			}
		}
		return false, fmt.Sprintf("no Docker engine at %s (%s): %s", host, why, setupHint)
	}
	return true, ""
}

const defaultSocket = "/var/run/docker.sock"

// checkImage fails at once for a locally built image that is missing: testcontainers would
// otherwise try to pull it and retry until the context ends. It reports whether the image is
// present so that a failed start can say whether a pull was involved.
func checkImage(ctx context.Context, image string) (present bool, err error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return false, fmt.Errorf("docker: %w", err)
	}
	defer cli.Close()
	_, err = cli.ImageInspect(ctx, image)
	switch {
	case err == nil:
		return true, nil
	case !cerrdefs.IsNotFound(err):
		return false, fmt.Errorf("inspect image %s: %w", image, err)
	case strings.HasPrefix(image, LocalImagePrefix):
		return false, fmt.Errorf("image %s is not built on this machine: run build/testenv/setup.sh", image)
	default:
		return false, nil // testcontainers pulls it
	}
}

// startError describes a failed start: the error, a hint when the image had to be pulled,
// and the end of the container's log (an entrypoint's error is there, not in err). It
// terminates the container, which without a reaper would otherwise outlive the tests.
func startError(what, image string, pulled bool, ctr testcontainers.Container, err error) error {
	msg := fmt.Sprintf("start %s (%s): %v", what, image, err)
	if pulled {
		msg += "; the image was not on this machine and had to be pulled: without a registry, build local images" +
			" with build/testenv/setup.sh and select them with `source build/testenv/env.sh`"
	}
	// The caller's context may be what failed; cleaning up must not depend on it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !isNilContainer(ctr) {
		if tail := logTail(ctx, ctr, 15); tail != "" {
			msg += "\ncontainer log (last lines):\n" + tail
		}
	}
	errs := []error{errors.New(msg)}
	if terr := terminate(ctx, ctr); terr != nil {
		errs = append(errs, fmt.Errorf("terminate %s container after failed start: %w", what, terr))
	}
	return errors.Join(errs...)
}

// terminate removes a container; nil (never created) is fine.
func terminate(ctx context.Context, ctr testcontainers.Container) error {
	if isNilContainer(ctr) {
		return nil
	}
	return ctr.Terminate(ctx)
}

// isNilContainer catches typed nils: the modules return a nil *PostgresContainer or
// *RedisContainer when nothing was created, which is a non-nil testcontainers.Container.
func isNilContainer(ctr testcontainers.Container) bool {
	v := reflect.ValueOf(ctr)
	return !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil())
}

func logTail(ctx context.Context, ctr testcontainers.Container, lines int) string {
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil && len(b) == 0 {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "  " + strings.Join(all, "\n  ")
}

// EnvRunLabel, when set, is put on every container this package starts as the label
// visiona.run=<value>. TestDB sets it for the suites it runs, so that after an interrupt (when a
// killed test binary could not terminate its own containers) it finds and removes them.
const EnvRunLabel = "VISIONA_TESTENV_RUN"

// runLabel returns the customizer that applies EnvRunLabel, or nothing when it is unset.
func runLabel() []testcontainers.ContainerCustomizer {
	if v := os.Getenv(EnvRunLabel); v != "" {
		return []testcontainers.ContainerCustomizer{testcontainers.WithLabels(map[string]string{"visiona.run": v})}
	}
	return nil
}

// RemoveRun removes every container labelled visiona.run=run, running or not, and says how many.
func RemoveRun(ctx context.Context, run string) (int, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return 0, fmt.Errorf("connect to docker: %w", err)
	}
	defer cli.Close()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", "visiona.run="+run)})
	if err != nil {
		return 0, fmt.Errorf("list containers of run %s: %w", run, err)
	}
	var errs []error
	for _, c := range res.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove container %.12s: %w", c.ID, err))
		}
	}
	return len(res.Items) - len(errs), errors.Join(errs...)
}

// pullTimeout bounds the one pull ImageAvailable tries: a registry that answers delivers an image
// in well under this; one that does not usually fails at once (no route, no such host).
const pullTimeout = 5 * time.Minute

// ImageAvailable reports whether image can be started on the Docker engine: present, or pulled
// now in one attempt. When it cannot, reason is one line naming the image and what to do. Tests
// use it to skip (fail with CI=true) on a machine that has Docker but no registry and no local
// images, instead of failing on a pull.
func ImageAvailable(ctx context.Context, image string) (ok bool, reason string) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return false, fmt.Sprintf("docker: %s", lines.First(err.Error()))
	}
	defer cli.Close()
	_, err = cli.ImageInspect(ctx, image)
	switch {
	case err == nil:
		return true, ""
	case !cerrdefs.IsNotFound(err):
		return false, fmt.Sprintf("inspect image %s: %s", image, lines.First(err.Error()))
	case strings.HasPrefix(image, LocalImagePrefix):
		return false, fmt.Sprintf("image %s is not built on this machine: run build/testenv/setup.sh", image)
	}
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	resp, err := cli.ImagePull(ctx, image, client.ImagePullOptions{})
	if err == nil {
		err = resp.Wait(ctx)
		resp.Close()
	}
	if err != nil {
		return false, fmt.Sprintf("image %s is not on this machine and cannot be pulled (%s): without a registry, build local images with build/testenv/setup.sh and select them with `source build/testenv/env.sh`", image, lines.First(err.Error()))
	}
	return true, ""
}
