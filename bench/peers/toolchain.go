package peers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Peer is a migration tool built from the Go module proxy at a pinned version.
type Peer struct {
	Name    string // golang-migrate, goose, dbmate
	Module  string // module path, for the version pin
	Package string // main package
	Version string
	Tags    string // build tags
	Binary  string // the name go install gives the executable
}

// The pinned peers. golang-migrate's CLI links no database driver without a build tag: "pgx5"
// gives its pgx/v5 driver (URL scheme pgx5://), the stock counterpart of ours; "postgres" would
// give the older lib/pq one.
var (
	GolangMigrate = Peer{Name: "golang-migrate", Module: "github.com/golang-migrate/migrate/v4", Package: "github.com/golang-migrate/migrate/v4/cmd/migrate", Version: "v4.20.1", Tags: "pgx5", Binary: "migrate"}
	Goose         = Peer{Name: "goose", Module: "github.com/pressly/goose/v3", Package: "github.com/pressly/goose/v3/cmd/goose", Version: "v3.29.0", Binary: "goose"}
	Dbmate        = Peer{Name: "dbmate", Module: "github.com/amacneil/dbmate/v2", Package: "github.com/amacneil/dbmate/v2", Version: "v2.31.0", Binary: "dbmate"}
)

// Spec is how the peer is installed, as one would type it.
func (p Peer) Spec() string {
	s := "go install"
	if p.Tags != "" {
		s += " -tags " + p.Tags
	}
	return s + " " + p.Package + "@" + p.Version
}

// Install builds the peer into cache/<name>@<version>/ unless it is there already, and returns the
// executable's path. It runs `GOBIN=... go install pkg@version`. When that fails because the proxy
// refuses to list the module's versions (go install reads the list to check for deprecation; some
// proxies and mirrors refuse it), it builds the same version from a throwaway module that requires
// it, which needs no list.
func (p Peer) Install(ctx context.Context, cache string, log io.Writer) (string, error) {
	dir := filepath.Join(cache, p.Name+"@"+p.Version)
	bin := filepath.Join(dir, p.Binary)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "peers: %s (into %s)\n", p.Spec(), dir)
	args := []string{"install"}
	if p.Tags != "" {
		args = append(args, "-tags", p.Tags)
	}
	args = append(args, p.Package+"@"+p.Version)
	out, err := goCmd(ctx, cache, []string{"GOBIN=" + dir}, args...)
	if err == nil {
		return bin, nil
	}
	if !strings.Contains(out, "@v/list") {
		return "", fmt.Errorf("install %s: %w\n%s", p.Name, err, out)
	}
	fmt.Fprintf(log, "peers: the proxy refused the version list of %s; building %s from a module that requires it\n", p.Module, p.Version)
	return bin, p.buildFromWrapper(ctx, cache, bin)
}

func (p Peer) buildFromWrapper(ctx context.Context, cache, bin string) error {
	wrap := filepath.Join(cache, "build", p.Name+"@"+p.Version)
	if err := os.MkdirAll(wrap, 0o755); err != nil {
		return err
	}
	gomod := fmt.Sprintf("module visiona-bench-peer\n\ngo 1.24\n\nrequire %s %s\n", p.Module, p.Version)
	if err := os.WriteFile(filepath.Join(wrap, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	args := []string{"build", "-mod=mod", "-o", bin}
	if p.Tags != "" {
		args = append(args, "-tags", p.Tags)
	}
	if out, err := goCmd(ctx, wrap, nil, append(args, p.Package)...); err != nil {
		return fmt.Errorf("build %s %s: %w\n%s", p.Name, p.Version, err, out)
	}
	return nil
}

// BuildOurs compiles, from the working tree in repo, bench/peers/cmd/visiona-migrate (cmd/migrate's
// runner with the migrations read from a directory) and bench/peers/cmd/rusage (the launcher that
// measures each tool). They are rebuilt on every run, so ours is measured as the code is now.
func BuildOurs(ctx context.Context, repo, cache string) (ours, rusage string, err error) {
	ours = filepath.Join(cache, "visiona", "visiona-migrate")
	rusage = filepath.Join(cache, "visiona", "rusage")
	for bin, pkg := range map[string]string{ours: "./bench/peers/cmd/visiona-migrate", rusage: "./bench/peers/cmd/rusage"} {
		if out, err := goCmd(ctx, repo, nil, "build", "-o", bin, pkg); err != nil {
			return "", "", fmt.Errorf("build %s: %w\n%s", pkg, err, out)
		}
	}
	return ours, rusage, nil
}

func goCmd(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
