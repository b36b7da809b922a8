// Package migrations holds visionA's schema history in golang-migrate's format, embedded in the binary.
package migrations

import "embed"

// FS holds every file of this directory, so strict discovery also sees misnamed files and editor backups.
//
//go:embed *
var FS embed.FS
