package lint

import (
	"fmt"
	"strconv"
	"strings"
)

// ParserMajor is the PostgreSQL release whose grammar the lint's parser (pg_query_go v6) embeds.
const ParserMajor = 17

// Version is a PostgreSQL release the migrations target: Major 0 means unknown; Minor -1 means
// the major's latest minor.
type Version struct {
	Major int
	Minor int
}

// ParseVersion reads "14" or "14.3" (PostgreSQL 10 or later).
func ParseVersion(s string) (Version, error) {
	majorText, minorText, hasMinor := strings.Cut(strings.TrimSpace(s), ".")
	major, err := strconv.Atoi(majorText)
	if err != nil || major < 10 || major > 99 {
		return Version{}, fmt.Errorf("%q is not a PostgreSQL version such as 14 or 14.3 (10 or later)", s)
	}
	v := Version{Major: major, Minor: -1}
	if hasMinor {
		minor, err := strconv.Atoi(minorText)
		if err != nil || minor < 0 {
			return Version{}, fmt.Errorf("%q is not a PostgreSQL version such as 14 or 14.3 (10 or later)", s)
		}
		v.Minor = minor
	}
	return v, nil
}

// Known reports whether a target was set.
func (v Version) Known() bool { return v.Major > 0 }

func (v Version) String() string {
	switch {
	case !v.Known():
		return ""
	case v.Minor < 0:
		return strconv.Itoa(v.Major)
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// before reports whether the target is known to be older than major.
func (v Version) before(major int) bool { return v.Known() && v.Major < major }
