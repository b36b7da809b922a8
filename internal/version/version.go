// Package version says what a migrate binary was built from: the commit (tag, dirty flag, time)
// that Go recorded in it, the Go toolchain, the target platform and whether cgo was on. It reads
// Go's own build info, from the running binary or from any binary file on disk (a cross-compiled
// release it cannot run), so both answer the same way.
package version

import (
	"debug/buildinfo"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"time"
)

// Build describes one binary. Field names are part of the -version -json document: add, never
// rename.
type Build struct {
	// Version is what release names carry: the tag when the commit has a semver tag, otherwise the
	// commit's first 12 hex digits; "-dirty" is appended when it was built from uncommitted
	// changes; "devel" when Go recorded no commit (see Commit).
	Version string `json:"version"`
	// Commit is the full hash, empty when Go recorded none: `go run`, a build outside a git clone,
	// -buildvcs=false, or a git worktree (Go looks for a .git directory; a worktree has a file).
	Commit     string    `json:"commit,omitempty"`
	CommitTime time.Time `json:"commit_time,omitzero"`
	Dirty      bool      `json:"dirty"` // built from a tree with uncommitted changes
	Go         string    `json:"go"`    // toolchain, e.g. go1.26.8
	OS         string    `json:"os"`
	Arch       string    `json:"arch"`
	CGO        bool      `json:"cgo"` // cgo was on: the binary has PostgreSQL's parser, so the lint works
}

// Devel is Version for a binary with no recorded commit.
const Devel = "devel"

// Current describes the running binary.
func Current() Build {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Build{Version: Devel}
	}
	return FromBuildInfo(bi)
}

// ReadFile describes the Go binary at path, whatever its OS and architecture.
func ReadFile(path string) (Build, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return Build{}, fmt.Errorf("read build info of %s: %w", path, err)
	}
	return FromBuildInfo(bi), nil
}

// FromBuildInfo reads the settings `go build` records: vcs.* with VCS stamping, GOOS, GOARCH and
// CGO_ENABLED always, and the main module's version, which Go derives from the commit's tag.
func FromBuildInfo(bi *debug.BuildInfo) Build {
	b := Build{Go: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			b.Dirty = s.Value == "true"
		case "GOOS":
			b.OS = s.Value
		case "GOARCH":
			b.Arch = s.Value
		case "CGO_ENABLED":
			b.CGO = s.Value == "1"
		}
	}
	b.Version = label(bi.Main.Version, b.Commit, b.Dirty)
	return b
}

// label is the tag when Go found one on the commit, else the short commit.
func label(moduleVersion, commit string, dirty bool) string {
	if commit == "" {
		return Devel
	}
	v := commit
	if len(v) > 12 {
		v = v[:12]
	}
	if tag := strings.TrimSuffix(moduleVersion, "+dirty"); isTag(tag) {
		v = tag
	}
	if dirty {
		v += "-dirty"
	}
	return v
}

// isTag: Go sets the main module's version to the tag when the commit has one, and otherwise to a
// pseudo-version (v0.0.0-20261125022541-9b41be578a1b, or v1.2.1-0.2026...-9b41be578a1b after a
// tag), which ends in a timestamp and the short commit.
func isTag(v string) bool {
	if !strings.HasPrefix(v, "v") {
		return false // "", "(devel)"
	}
	return !regexp.MustCompile(`[-.]\d{14}-[0-9a-f]{12}$`).MatchString(v)
}

// Platform is os/arch, as Go names them.
func (b Build) Platform() string { return b.OS + "/" + b.Arch }
