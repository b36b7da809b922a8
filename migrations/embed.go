// Package migrations holds visionA's schema history in golang-migrate's format, embedded in the binary.
package migrations

import "embed"

// FS holds the SQL files and their checksums: what a binary needs to migrate. Misnamed .sql files are embedded too, so
// strict discovery rejects them in every binary; the on-disk folder is checked by the tests.
//
//go:embed *.sql migrations.sum lint.conf
var FS embed.FS
