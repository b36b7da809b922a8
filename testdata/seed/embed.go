// Package seed is the data a local database gets after `dbReset` migrates it (see db.Reset): a
// few users with models, devices and tokens that cover every state the schema allows, so a
// developer sees realistic rows without creating them by hand. The files load in name order, in
// one transaction, after the latest migration.
package seed

import "embed"

// FS holds the seed files. Only *.sql is embedded: this Go file is not seed.
//
//go:embed *.sql
var FS embed.FS
