package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"visiona-backend/internal/version"
)

// ErrNoDocker: Image found no docker command or no engine answering it.
var ErrNoDocker = errors.New("no Docker engine")

// DefaultRepository is the name Image tags its images with (<repository>:<version> and :latest).
const DefaultRepository = "visiona/migrate"

// Dockerfile builds the image from a context holding only the static binary.
const Dockerfile = "build/image/Dockerfile"

// Image is a built migration image.
type Image struct {
	Tags  []string // <repository>:<version>, <repository>:latest
	Build version.Build
	User  string // the user the entrypoint runs as
	Size  int64  // bytes
}

// BuildImage builds the migration image: the static linux binary (CGO_ENABLED=0: no lint, no C
// library needed) for the engine's architecture, on an empty base (build/image/Dockerfile), run by
// a non-root user with the binary as entrypoint and no configuration but VISIONA_DB_* at run time.
// The binary is built into dist/image/, the build context.
func BuildImage(ctx context.Context, o Options, repository string) (Image, error) {
	platform, err := o.dockerPlatform(ctx)
	if err != nil {
		return Image{}, err
	}
	bin := filepath.Join("dist", "image", "migrate")
	if err := os.MkdirAll(o.path(filepath.Dir(bin)), 0o755); err != nil {
		return Image{}, err
	}
	fmt.Fprintf(o.Stderr, "mage image: building %s for %s (CGO_ENABLED=0)\n", bin, platform)
	if err := o.goBuild(ctx, bin, "GOOS="+platform.OS, "GOARCH="+platform.Arch, "CGO_ENABLED=0"); err != nil {
		return Image{}, err
	}
	b, err := version.ReadFile(o.path(bin))
	if err != nil {
		return Image{}, err
	}
	if b.Commit == "" {
		return Image{}, fmt.Errorf("%w in %s: %s", ErrNoCommit, bin, o.noCommitReason())
	}
	img := Image{Build: b, Tags: []string{repository + ":" + b.Version, repository + ":latest"}}
	args := []string{"build", "--force-rm", "-f", Dockerfile,
		"--label", "org.opencontainers.image.title=visiona migrate",
		"--label", "org.opencontainers.image.version=" + b.Version,
		"--label", "org.opencontainers.image.revision=" + b.Commit}
	for _, t := range img.Tags {
		args = append(args, "-t", t)
	}
	cmd := exec.CommandContext(ctx, "docker", append(args, filepath.Dir(bin))...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = o.Dir, o.env(), o.Stderr, o.Stderr
	if err := cmd.Run(); err != nil {
		return Image{}, fmt.Errorf("docker build -f %s %s: %w", Dockerfile, filepath.Dir(bin), err)
	}
	inspect, err := o.output(ctx, "docker", "image", "inspect", "--format", "{{.Config.User}} {{.Size}}", img.Tags[0])
	if err != nil {
		return Image{}, err
	}
	if _, err := fmt.Sscan(inspect, &img.User, &img.Size); err != nil {
		return Image{}, fmt.Errorf("docker image inspect %s: unexpected %q", img.Tags[0], inspect)
	}
	fmt.Fprintf(o.Stdout, "image %s (%s, %.1f MB, user %s, entrypoint /migrate, default command up)\n",
		strings.Join(img.Tags, ", "), platform, float64(img.Size)/1e6, img.User)
	fmt.Fprintf(o.Stdout, "run:  docker run --rm -e VISIONA_DB_HOST -e VISIONA_DB_USER -e VISIONA_DB_PASSWORD -e VISIONA_DB_NAME %s up\n", img.Tags[0])
	return img, nil
}

// dockerPlatform asks the engine for its OS and architecture, which is also how Image finds out
// that there is no engine: one line naming where it looked and what to do.
func (o Options) dockerPlatform(ctx context.Context) (Platform, error) {
	if _, err := exec.LookPath("docker"); err != nil {
		return Platform{}, fmt.Errorf("%w: no docker command on PATH: install Docker (bash build/testenv/setup.sh installs docker.io and starts dockerd)", ErrNoDocker)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := o.output(ctx, "docker", "version", "--format", "{{.Server.Os}}/{{.Server.Arch}}")
	osName, arch, ok := strings.Cut(out, "/")
	if err != nil || !ok || osName == "" || arch == "" {
		host := "unix:///var/run/docker.sock"
		for _, kv := range o.env() {
			if v, ok := strings.CutPrefix(kv, "DOCKER_HOST="); ok && v != "" {
				host = v
			}
		}
		return Platform{}, fmt.Errorf("%w answers at %s: start dockerd (bash build/testenv/setup.sh does) or point DOCKER_HOST at one", ErrNoDocker, host)
	}
	return Platform{osName, arch}, nil
}
