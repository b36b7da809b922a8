// Package migrations holds visionA's schema history in golang-migrate's format, embedded in the binary.
package migrations

import "embed"

// FS holds the SQL files and their checksums: what a binary needs to migrate. Misnamed .sql files are embedded too, so
// strict discovery rejects them in every binary; the on-disk folder is checked by the tests.
//
//go:embed *.sql migrations.sum
var FS embed.FS

// LintBaseline is the last migration written before `migrate lint` existed. Those are applied in
// production and cannot change (migrations.sum), so the lint reports from the next one on; it found
// unsafe statements in 000005-000007 (indexes without CONCURRENTLY, CHECKs without NOT VALID),
// acceptable on the then-empty tables and kept as history.
const LintBaseline = 9
