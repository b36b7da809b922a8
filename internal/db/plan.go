package db

import (
	"slices"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"

	"visiona-backend/internal/migfile"
)

// plan is one run's destination, stated once by the Migrator. walk asks golang-migrate's engine
// to go there, and the engine chooses each step; target is where that leaves the database,
// counted from the version the driver reads under the lock. The driver holds the run to the same
// plan: a run through a pooler refuses a no-transaction file on its path before anything runs,
// a single transaction commits only at the target, and an interrupt short of it is reported.
type plan struct {
	src  *migfile.Source
	up   bool // every pending migration
	to   int  // else this version (NilVersion: none), unless back is set
	back int  // else this many migrations below the version found under the lock
}

// walk is the engine's call for the plan.
func (p *plan) walk(mg *migrate.Migrate) error {
	switch {
	case p.up:
		return mg.Up()
	case p.back > 0:
		return mg.Steps(-p.back)
	case p.to == database.NilVersion:
		return mg.Down()
	}
	return mg.Migrate(uint(p.to))
}

// unreachableVersion is no version a run can end at.
const unreachableVersion = -2

// target is the version the plan leaves the database at, from start: for back, NilVersion when
// none is left, and unreachableVersion when fewer than back are applied (the engine then stops
// short).
func (p *plan) target(start int) int {
	switch {
	case p.up:
		return int(p.src.Latest())
	case p.back == 0:
		return p.to
	}
	migs := p.src.Migrations()
	i := slices.IndexFunc(migs, func(m migfile.Migration) bool { return int(m.Version) == start })
	switch {
	case i < 0 || i+1 < p.back:
		return unreachableVersion
	case i+1 == p.back:
		return database.NilVersion
	}
	return int(migs[i-p.back].Version)
}

// direction is the way the plan goes from start.
func (p *plan) direction(start int) Direction {
	if p.target(start) < start {
		return Down
	}
	return Up
}

// noTxFile is the first no-transaction file on the plan's path from start, "" for none.
func (p *plan) noTxFile(start int) string {
	to := p.target(start)
	for m := range p.src.All() {
		v := int(m.Version)
		switch {
		case to > start && v > start && v <= to && m.UpNoTx:
			return m.UpFile
		case to < start && v <= start && v > to && m.DownNoTx:
			return m.DownFile
		}
	}
	return ""
}
