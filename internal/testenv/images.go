package testenv

import (
	"fmt"
	"strconv"
	"strings"
)

// Environment variables read by this package (through the lookup function given to it, so
// that internal/config stays the only reader of the environment in non-test code).
const (
	// EnvPostgresImage overrides the PostgreSQL image.
	EnvPostgresImage = "VISIONA_TESTDB_POSTGRES_IMAGE"
	// EnvRedisImage overrides the Redis image.
	EnvRedisImage = "VISIONA_TESTDB_REDIS_IMAGE"
	// EnvTestPostgresURL, when set, is a superuser URL of an existing PostgreSQL server that
	// Server uses instead of starting a container.
	EnvTestPostgresURL = "VISIONA_TEST_POSTGRES_URL"
)

// Default images: the production majors, for teams that can pull from a registry.
const (
	DefaultPostgresImage = "postgres:14-alpine"
	DefaultRedisImage    = "redis:7-alpine"
)

// LocalImagePrefix marks images built on the machine by build/testenv/setup.sh. They can
// never be pulled, so a missing one is reported at once instead of after pull retries.
const LocalImagePrefix = "visiona-local/"

// Images names the container images to start.
type Images struct{ Postgres, Redis string }

// ImagesFromEnv returns the images named by VISIONA_TESTDB_POSTGRES_IMAGE and
// VISIONA_TESTDB_REDIS_IMAGE (blank counts as unset), defaulting to DefaultPostgresImage and
// DefaultRedisImage. lookup is usually os.LookupEnv.
func ImagesFromEnv(lookup func(string) (string, bool)) Images {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	return Images{
		Postgres: get(EnvPostgresImage, DefaultPostgresImage),
		Redis:    get(EnvRedisImage, DefaultRedisImage),
	}
}

// Supported PostgreSQL majors: production runs the first; TestDB proves any of them.
const (
	ProductionMajor = 14
	OldestMajor     = 14
	NewestMajor     = 18
)

// PostgresMajor returns the image of PostgreSQL major built like i.Postgres: the same name with
// the tag's leading number replaced (postgres:14-alpine gives postgres:18-alpine,
// visiona-local/postgres:14 gives visiona-local/postgres:18). An image whose tag does not start
// with a number names no major, and cannot be varied.
func (i Images) PostgresMajor(major int) (string, error) {
	name, tag := i.Postgres, ""
	// The tag follows the last colon after the last slash (a registry host may have a port).
	if c := strings.LastIndex(name, ":"); c > strings.LastIndex(name, "/") {
		name, tag = name[:c], name[c+1:]
	}
	digits := 0
	for digits < len(tag) && tag[digits] >= '0' && tag[digits] <= '9' {
		digits++
	}
	if digits == 0 || strings.Contains(name, "@") {
		return "", fmt.Errorf("cannot tell the image of PostgreSQL %d from %s=%s: its tag must start with the major (as in postgres:14-alpine)", major, EnvPostgresImage, i.Postgres)
	}
	return name + ":" + strconv.Itoa(major) + tag[digits:], nil
}
