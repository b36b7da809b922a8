// Package testenv is the test harness: everything a test needs from outside the process. It
// starts throwaway PostgreSQL and Redis servers in containers with testcontainers-go, shares one
// server among a package's tests (Server, Main), creates and drops databases on it (NewDatabase,
// NewDB), connects to them (Connect), writes generated migration sets (GenerateSet and its
// shapes), and clones the dbtest suites' databases (DBTestDatabase).
//
// The names around it, each for one thing:
//   - testenv (this package): servers, databases and migration sets for tests, and the
//     containers `mage testDB` starts.
//   - internal/testdb and cmd/testdb: `mage testDB` itself, the pre-merge proof (round trip on each
//     PostgreSQL major, the committed snapshot, then the dbtest suites). It uses this package to
//     start its servers.
//   - the dbtest build tag: the suites written against visionA's schema (store, session, health,
//     migrations). They run only under `mage testDB`, which provides the migrated template that
//     DBTestDatabase clones; a plain `go test ./...` does not compile them.
//   - DBTestDatabase and DBTestDB (this package): a dbtest suite's own database, cloned from the
//     migrated template `mage testDB` prepared; a suite without the dbtest tag uses Server.NewDB,
//     an empty database, instead.
//   - config.TestDB: the VISIONA_TESTDB_* settings that point `mage testDB` at existing servers
//     instead of containers.
//
// A package whose tests share a server:
//
//	var pgServer = testenv.NewServer()
//
//	func TestMain(m *testing.M) { testenv.Main(m, pgServer) }
//
// and in a test pgServer.NewDB(t) for an empty database of its own. If VISIONA_TEST_POSTGRES_URL
// is set, that server is used instead of a container. When no Docker engine answers, tests skip
// saying how to run them, except with CI=true, where they fail.
//
// There is no reaper (ryuk) on machines without a container registry, so every container started
// here is terminated by this package's callers: Terminate, StartBoth's error path and Server.Close
// (which Main calls). On such machines build/testenv/setup.sh builds the images and
// build/testenv/env.sh selects them; see the README.
package testenv
