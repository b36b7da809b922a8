package version

import (
	"runtime/debug"
	"testing"
	"time"
)

func TestFromBuildInfo(t *testing.T) {
	const commit = "9b41be578a1bbb323949d45f55ee2a4dba34da40"
	settings := func(modified string, cgo string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "CGO_ENABLED", Value: cgo}, {Key: "GOARCH", Value: "arm64"}, {Key: "GOOS", Value: "darwin"},
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: commit},
			{Key: "vcs.time", Value: "2026-11-25T02:25:41Z"}, {Key: "vcs.modified", Value: modified},
		}
	}
	for _, tc := range []struct {
		name, module string
		settings     []debug.BuildSetting
		want         string
		dirty, cgo   bool
	}{
		{"pseudo-version: the short commit", "v0.0.0-20261125022541-9b41be578a1b", settings("false", "1"), "9b41be578a1b", false, true},
		{"pseudo-version after a tag", "v1.2.1-0.20261125022541-9b41be578a1b", settings("false", "0"), "9b41be578a1b", false, false},
		{"dirty pseudo-version", "v0.0.0-20261125022541-9b41be578a1b+dirty", settings("true", "1"), "9b41be578a1b-dirty", true, true},
		{"tag", "v1.2.0", settings("false", "1"), "v1.2.0", false, true},
		{"dirty tag", "v1.2.0+dirty", settings("true", "1"), "v1.2.0-dirty", true, true},
		{"pre-release tag", "v1.3.0-rc.1", settings("false", "1"), "v1.3.0-rc.1", false, true},
		{"no VCS stamp", "(devel)", []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"}}, Devel, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := FromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "visiona-backend", Version: tc.module}, Settings: tc.settings})
			if b.Version != tc.want || b.Dirty != tc.dirty || b.CGO != tc.cgo || b.Go != "go1.26.8" {
				t.Fatalf("got %+v, want version %q dirty %v cgo %v", b, tc.want, tc.dirty, tc.cgo)
			}
			if tc.want == Devel {
				if b.Commit != "" || !b.CommitTime.IsZero() || b.Platform() != "linux/amd64" {
					t.Fatalf("got %+v", b)
				}
				return
			}
			if b.Commit != commit || !b.CommitTime.Equal(time.Date(2026, 11, 25, 2, 25, 41, 0, time.UTC)) || b.Platform() != "darwin/arm64" {
				t.Fatalf("got %+v", b)
			}
		})
	}
}
