// Package release builds the migrate binary the ways it ships: for this machine into bin/
// (mage build), for every release platform into dist/ (mage release), and as a container image
// (mage image). Every build is reproducible (-trimpath) and records its commit from git, so each
// binary can say exactly what it carries (`migrate -version`, package version).
//
// Output rules: results on Stdout; the tools' own output (go, docker), progress and warnings on
// Stderr. Errors are returned; the magefile maps ErrNoDocker and ErrNoCommit to exit codes.
package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"visiona-backend/internal/version"
)

// ErrNoCommit: Go recorded no commit in a release binary or image, so it could not say what it
// carries. Returned by Release and BuildImage.
var ErrNoCommit = errors.New("no commit recorded")

// Options say where to build and where to report.
type Options struct {
	Dir    string    // the module root, a git clone
	Env    []string  // environment of go, git and docker; nil: this process's
	Stdout io.Writer // results
	Stderr io.Writer // progress, warnings, and what go and docker print
}

func (o Options) env() []string {
	if o.Env == nil {
		return os.Environ()
	}
	return o.Env
}

func (o Options) path(rel string) string { return filepath.Join(o.Dir, rel) }

// Platform is a target of a build.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Platforms are what a release ships: Linux servers and CI of both architectures, and Apple
// silicon laptops.
func Platforms() []Platform {
	return []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "arm64"}}
}

// goBuild builds ./cmd/migrate into out (relative to Dir). Reproducible: -trimpath drops this
// machine's paths, and -buildvcs=true records the commit (and overrides a GOFLAGS that turns
// stamping off). extra is added to the environment, e.g. GOOS or CGO_ENABLED.
func (o Options) goBuild(ctx context.Context, out string, extra ...string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=true", "-o", out, "./cmd/migrate")
	cmd.Dir, cmd.Env = o.Dir, append(slices.Clone(o.env()), extra...)
	cmd.Stdout, cmd.Stderr = o.Stderr, o.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -o %s ./cmd/migrate (%s): %w", out, strings.Join(extra, " "), err)
	}
	return nil
}

// output runs a tool in Dir and returns its trimmed stdout; its stderr goes into the error.
func (o Options) output(ctx context.Context, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = o.Dir, o.env(), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// noCommitReason says why Go recorded no commit in a build from Dir.
func (o Options) noCommitReason() string {
	fi, err := os.Stat(o.path(".git"))
	switch {
	case err != nil:
		return "Dir is not the top of a git clone"
	case !fi.IsDir():
		return "this is a git worktree (.git is a file), where Go records none: build from a clone"
	}
	return "Go found no git information; see `go version -m` on the binary"
}

// Build compiles bin/migrate for this machine, with cgo as the environment has it (on by default,
// so the lint works), and prints what it carries by running `bin/migrate -version`.
func Build(ctx context.Context, o Options) (version.Build, error) {
	out := filepath.Join("bin", "migrate")
	if err := o.goBuild(ctx, out); err != nil {
		return version.Build{}, err
	}
	b, err := version.ReadFile(o.path(out))
	if err != nil {
		return version.Build{}, err
	}
	if b.Commit == "" {
		fmt.Fprintf(o.Stderr, "mage build: warning: %s records no commit: %s\n", out, o.noCommitReason())
	}
	cmd := exec.CommandContext(ctx, o.path(out), "-version")
	cmd.Env, cmd.Stdout, cmd.Stderr = o.env(), o.Stdout, o.Stderr
	if err := cmd.Run(); err != nil {
		return b, fmt.Errorf("%s -version: %w", out, err)
	}
	return b, nil
}

// Artifact is one release binary.
type Artifact struct {
	Path   string // relative to Dir: dist/migrate-<version>-<os>-<arch>
	Build  version.Build
	SHA256 string // hex
	Lint   string // why the binary has the lint or not
}

// Release builds a binary for each of Platforms into dist/ as migrate-<version>-<os>-<arch>, with a
// SHA256SUMS file, and replaces what an earlier release left there. The native platform is built
// with cgo (when the environment has it), so it carries the lint; the others are cross-compiled
// without cgo, since PostgreSQL's parser is C and building it for another platform needs that
// platform's C toolchain. A tree with uncommitted changes is built anyway, with a warning, and every
// binary is marked dirty. Nothing is written outside dist/.
func Release(ctx context.Context, o Options) ([]Artifact, error) {
	if status, err := o.output(ctx, "git", "status", "--porcelain"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoCommit, err)
	} else if status != "" {
		n := len(strings.Split(status, "\n"))
		fmt.Fprintf(o.Stderr, "mage release: warning: the working tree has %d uncommitted change(s) (git status): building anyway, "+
			"every binary is marked dirty (-dirty in its name and its -version); commit and rerun for a release\n", n)
	}
	hostCGO, err := o.output(ctx, "go", "env", "CGO_ENABLED")
	if err != nil {
		return nil, err
	}
	dist := o.path("dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return nil, err
	}
	if err := removeRelease(dist); err != nil {
		return nil, err
	}
	host := Platform{runtime.GOOS, runtime.GOARCH}
	var arts []Artifact
	for _, p := range Platforms() {
		a, err := o.releaseOne(ctx, p, p == host && hostCGO == "1", p == host)
		if err != nil {
			return nil, err
		}
		arts = append(arts, a)
	}
	var sums strings.Builder
	for _, a := range arts {
		fmt.Fprintf(&sums, "%s  %s\n", a.SHA256, filepath.Base(a.Path))
	}
	if err := os.WriteFile(filepath.Join(dist, "SHA256SUMS"), []byte(sums.String()), 0o644); err != nil {
		return nil, err
	}
	for _, a := range arts {
		fmt.Fprintf(o.Stdout, "%-44s %-13s lint: %s\n", a.Path, a.Build.Platform(), a.Lint)
	}
	fmt.Fprintf(o.Stdout, "%-44s sha256 of each\n", filepath.Join("dist", "SHA256SUMS"))
	return arts, nil
}

// removeRelease deletes what an earlier Release wrote, so dist/ holds one version's set.
func removeRelease(dist string) error {
	old, err := filepath.Glob(filepath.Join(dist, "migrate-*"))
	if err != nil {
		return err
	}
	for _, f := range append(old, filepath.Join(dist, "SHA256SUMS")) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (o Options) releaseOne(ctx context.Context, p Platform, cgo, native bool) (Artifact, error) {
	tmp := filepath.Join("dist", ".build-"+p.OS+"-"+p.Arch)
	defer os.Remove(o.path(tmp))
	cgoFlag := "CGO_ENABLED=0"
	if cgo {
		cgoFlag = "CGO_ENABLED=1"
	}
	fmt.Fprintf(o.Stderr, "mage release: building %s (%s)\n", p, cgoFlag)
	if err := o.goBuild(ctx, tmp, "GOOS="+p.OS, "GOARCH="+p.Arch, cgoFlag); err != nil {
		return Artifact{}, err
	}
	b, err := version.ReadFile(o.path(tmp))
	if err != nil {
		return Artifact{}, err
	}
	if b.Commit == "" {
		return Artifact{}, fmt.Errorf("%w in the %s binary: %s", ErrNoCommit, p, o.noCommitReason())
	}
	a := Artifact{Path: filepath.Join("dist", "migrate-"+b.Version+"-"+p.OS+"-"+p.Arch), Build: b}
	switch {
	case cgo:
		a.Lint = "yes (native build with cgo)"
	case native:
		a.Lint = "no (CGO_ENABLED=0 in the environment)"
	default:
		a.Lint = "no (cross-compiled without cgo: PostgreSQL's parser is C and needs a " + p.String() + " C toolchain)"
	}
	data, err := os.ReadFile(o.path(tmp))
	if err != nil {
		return Artifact{}, err
	}
	sum := sha256.Sum256(data)
	a.SHA256 = hex.EncodeToString(sum[:])
	if err := os.Rename(o.path(tmp), o.path(a.Path)); err != nil {
		return Artifact{}, err
	}
	return a, nil
}
