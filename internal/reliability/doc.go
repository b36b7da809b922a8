// Package reliability is a test-only package: a corpus that runs the real migrate CLI, as separate
// processes, against a real PostgreSQL and checks that it keeps its promises (README, "How it
// stays safe" and "Exit codes"):
//
//   - race_test.go: 8 migrators racing `up` on one database never apply a migration twice, never
//     hang, and a lock timeout names the holder;
//   - kill_test.go: an `up` killed with SIGKILL at a random moment leaves a clean version whose
//     schema is that version's, or a dirty no-transaction file with the exact command that
//     recovers;
//   - badinput_test.go: every kind of bad input (testdata/badinput, testdata/broken, env values,
//     arguments, database states) gets its documented exit code, one line on stderr, nothing on
//     stdout, and leaves the database as it was;
//   - fuzz_test.go: FuzzPasswordNeverPrinted, no output ever holds the password;
//   - pooler_test.go, pooler_settings_test.go: the same promises through PgBouncer in transaction
//     pooling mode, refusals in one line, no lock and no session setting left on a server connection;
//   - restart_test.go, restart_modes_test.go: a crash, a fast and an immediate restart of the server
//     during an up of 300 migrations end with one line naming the last version known committed,
//     nothing half applied, and a rerun that completes;
//   - blocker_test.go: a migration behind a long transaction is retried and succeeds, or fails
//     naming the blocker; a migrator whose path another moved stops with exit 17.
//
// `go test ./internal/reliability/` runs the short form (CI); VISIONA_CORPUS_LONG=1 or
// `go run mage.go corpus` the long one. The tests need Docker (internal/testenv) and skip without
// it, except with CI=true.
//
// The CLI under test is testdata/migratebin: cmd/migrate's code path (cli.Run over cli.OSEnv)
// with the migrations read from the folder in CORPUS_MIGRATIONS_DIR instead of the embedded set.
package reliability
