package testdb

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"visiona-backend/internal/testenv"
)

// EnvPostgresVersions lists the PostgreSQL majors TestDB proves the migrations on when the
// -postgres flag is not given: "14,18", or "all" for every supported major.
const EnvPostgresVersions = "VISIONA_TESTDB_POSTGRES_VERSIONS"

// ParseMajors reads a list of PostgreSQL majors ("14,18", "18 14", "all"). The order is kept (the
// suites run on the first); repeats are dropped. what names the list's source for the error.
func ParseMajors(what, list string) ([]int, error) {
	list = strings.TrimSpace(list)
	if strings.EqualFold(list, "all") {
		var all []int
		for m := testenv.OldestMajor; m <= testenv.NewestMajor; m++ {
			all = append(all, m)
		}
		return all, nil
	}
	var majors []int
	for _, field := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
		m, err := strconv.Atoi(field)
		if err != nil || m < testenv.OldestMajor || m > testenv.NewestMajor {
			return nil, fmt.Errorf("%s: %q is not a supported PostgreSQL major; use majors %d to %d separated by commas (e.g. %d,%d), or all",
				what, field, testenv.OldestMajor, testenv.NewestMajor, testenv.ProductionMajor, testenv.NewestMajor)
		}
		if !slices.Contains(majors, m) {
			majors = append(majors, m)
		}
	}
	if len(majors) == 0 {
		return nil, fmt.Errorf("%s is empty; use majors %d to %d separated by commas, or all", what, testenv.OldestMajor, testenv.NewestMajor)
	}
	return majors, nil
}

// MajorsFromEnv returns the majors of the -postgres flag when given (flag non-empty), else of
// VISIONA_TESTDB_POSTGRES_VERSIONS, else nil: the image of VISIONA_TESTDB_POSTGRES_IMAGE alone
// (the production major by default).
func MajorsFromEnv(flag string, lookup func(string) (string, bool)) ([]int, error) {
	if strings.TrimSpace(flag) != "" {
		return ParseMajors("-postgres", flag)
	}
	if v, ok := lookup(EnvPostgresVersions); ok && strings.TrimSpace(v) != "" {
		return ParseMajors(EnvPostgresVersions, v)
	}
	return nil, nil
}

// majorOf reads the major from a server_version ("14.23", "18.4 (Debian ...)", "10.5"); 0 when it
// cannot.
func majorOf(serverVersion string) int {
	end := strings.IndexFunc(serverVersion, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(serverVersion)
	}
	m, _ := strconv.Atoi(serverVersion[:end])
	return m
}
