package peers

import (
	"fmt"
	"net/url"
	"strconv"
)

// Op is one operation the harness times.
type Op string

// The operations, in the order they run on each fresh database.
const (
	Up      Op = "up"      // apply every migration to an empty database
	Version Op = "version" // ask the fully migrated database for its version
	Down    Op = "down"    // revert every migration
)

// Ops lists the operations in run order.
var Ops = []Op{Up, Version, Down}

// Role groups the tools in tables and in the chart.
type Role string

// Roles.
const (
	RoleOurs  Role = "ours"
	RolePeer  Role = "peer"
	RoleFloor Role = "floor" // psql: no migration tool can do less
)

// Mode is how many transactions a tool commits per migration.
type Mode string

// Modes.
const (
	PerMigration Mode = "per-migration" // one transaction per migration: the safe default
	AllInOne     Mode = "all-in-one"    // one transaction for the whole run: fresh databases only
)

// Tool is one contestant: how to run each operation as whole processes against one database.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Role    Role   `json:"role"`
	Mode    Mode   `json:"mode"`
	// How is how it is run, for the report.
	How string `json:"how"`

	// plan returns the processes that perform op on t, or a reason it is not measured.
	plan func(op Op, t target) ([]invocation, string) `json:"-"`
}

// target is one run's database and the migration set to apply to it.
type target struct {
	srv *Server
	db  string
	set *Set
}

// invocation is one process. env is its whole environment: tools get only what they need
// (see baseEnv), so nothing from the caller's PG* or VISIONA_* variables leaks in.
type invocation struct {
	path string
	args []string
	env  []string
}

// Binaries are the built executables.
type Binaries struct {
	Ours, GolangMigrate, Goose, Dbmate, Psql string
	// Rusage is the launcher every tool runs under (bench/peers/cmd/rusage).
	Rusage string
}

// Options shape the contestants.
type Options struct {
	// DbmateDownMaxN is the largest N at which dbmate's down is run: dbmate reverts one migration
	// per process (`dbmate rollback`), so a down of 1000 is 1000 processes (minutes).
	DbmateDownMaxN int
}

func baseEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}, extra...)
}

// Contestants returns every tool in table order: ours first, then the peers, then the floors.
func Contestants(bin Binaries, o Options) []Tool {
	one := func(path string, env []string, args ...string) []invocation {
		return []invocation{{path: path, args: args, env: env}}
	}

	oursEnv := func(t target) []string {
		s := t.srv
		return baseEnv("VISIONA_DB_HOST="+s.Host, "VISIONA_DB_PORT="+strconv.Itoa(s.Port), "VISIONA_DB_USER="+s.User,
			"VISIONA_DB_PASSWORD="+s.Password, "VISIONA_DB_NAME="+t.db, "VISIONA_DB_SSLMODE=disable")
	}
	oursArgs := map[Op][]string{Up: {"up"}, Down: {"down", "-all"}, Version: {"version"}}
	ours := Tool{Name: "visiona", Role: RoleOurs, Mode: PerMigration,
		How: "`migrate up` / `migrate down -all` / `migrate version` (cmd/migrate's runner, migrations and their migrations.sum from a directory: bench/peers/cmd/visiona-migrate)",
		plan: func(op Op, t target) ([]invocation, string) {
			return one(bin.Ours, oursEnv(t), append([]string{"-migrations", t.set.PairDir}, oursArgs[op]...)...), ""
		}}
	oursAllInOne := Tool{Name: "visiona-all-in-one", Role: RoleOurs, Mode: AllInOne,
		How: "`migrate -single-transaction up` / `migrate -single-transaction down -all`: the opt-in mode for fresh databases",
		plan: func(op Op, t target) ([]invocation, string) {
			if op == Version {
				return nil, "same as visiona"
			}
			return one(bin.Ours, oursEnv(t), append([]string{"-migrations", t.set.PairDir, "-single-transaction"}, oursArgs[op]...)...), ""
		}}

	golangMigrate := Tool{Name: GolangMigrate.Name, Version: GolangMigrate.Version, Role: RolePeer, Mode: PerMigration,
		How: "`migrate -path DIR -database pgx5://… up` / `down -all` / `version` (CLI built with -tags pgx5)",
		plan: func(op Op, t target) ([]invocation, string) {
			s := t.srv
			// golang-migrate takes the database only as a URL argument; acceptable for a throwaway
			// server on 127.0.0.1 with a random password.
			u := url.URL{Scheme: "pgx5", User: url.UserPassword(s.User, s.Password), Host: fmt.Sprintf("%s:%d", s.Host, s.Port), Path: "/" + t.db, RawQuery: "sslmode=disable"}
			args := map[Op][]string{Up: {"up"}, Down: {"down", "-all"}, Version: {"version"}}[op]
			return one(bin.GolangMigrate, baseEnv(), append([]string{"-path", t.set.PairDir, "-database", u.String()}, args...)...), ""
		}}

	goose := Tool{Name: Goose.Name, Version: Goose.Version, Role: RolePeer, Mode: PerMigration,
		How: "`goose up` / `goose reset` / `goose version`, database from GOOSE_DRIVER=postgres and GOOSE_DBSTRING",
		plan: func(op Op, t target) ([]invocation, string) {
			s := t.srv
			dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable", s.Host, s.Port, s.User, s.Password, t.db)
			env := baseEnv("GOOSE_DRIVER=postgres", "GOOSE_DBSTRING="+dsn, "GOOSE_MIGRATION_DIR="+t.set.GooseDir)
			cmd := map[Op]string{Up: "up", Down: "reset", Version: "version"}[op]
			return one(bin.Goose, env, cmd), ""
		}}

	dbmate := Tool{Name: Dbmate.Name, Version: Dbmate.Version, Role: RolePeer, Mode: PerMigration,
		How: "`dbmate migrate` / `dbmate rollback` once per migration (it reverts one per run) / `dbmate status`, schema dump off",
		plan: func(op Op, t target) ([]invocation, string) {
			s := t.srv
			u := url.URL{Scheme: "postgres", User: url.UserPassword(s.User, s.Password), Host: fmt.Sprintf("%s:%d", s.Host, s.Port), Path: "/" + t.db, RawQuery: "sslmode=disable"}
			// DBMATE_NO_DUMP_SCHEMA: by default dbmate runs pg_dump after every migrate and
			// rollback to write db/schema.sql, which is not migrating.
			env := baseEnv("DATABASE_URL="+u.String(), "DBMATE_MIGRATIONS_DIR="+t.set.DbmateDir, "DBMATE_NO_DUMP_SCHEMA=true")
			switch op {
			case Up:
				return one(bin.Dbmate, env, "migrate"), ""
			case Version:
				return one(bin.Dbmate, env, "status"), ""
			}
			if t.set.N > o.DbmateDownMaxN {
				return nil, fmt.Sprintf("not run above N=%d: one process per migration", o.DbmateDownMaxN)
			}
			runs := make([]invocation, t.set.N)
			for i := range runs {
				runs[i] = invocation{path: bin.Dbmate, args: []string{"rollback"}, env: env}
			}
			return runs, ""
		}}

	psqlEnv := func(t target) []string {
		s := t.srv
		return baseEnv("PGHOST="+s.Host, "PGPORT="+strconv.Itoa(s.Port), "PGUSER="+s.User, "PGPASSWORD="+s.Password,
			"PGDATABASE="+t.db, "PGSSLMODE=disable")
	}
	psql := Tool{Name: "psql", Role: RoleFloor, Mode: PerMigration,
		How: "`psql -X -q -v ON_ERROR_STOP=1 -f` a script with, per migration, BEGIN, its SQL, the version row as ours writes it, COMMIT; version: `psql -X -c 'select 1'`",
		plan: func(op Op, t target) ([]invocation, string) {
			switch op {
			case Up:
				return one(bin.Psql, psqlEnv(t), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", t.set.PsqlUp), ""
			case Down:
				return one(bin.Psql, psqlEnv(t), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", t.set.PsqlDown), ""
			}
			return one(bin.Psql, psqlEnv(t), "-X", "-c", "select 1"), ""
		}}
	psqlAllInOne := Tool{Name: "psql-all-in-one", Role: RoleFloor, Mode: AllInOne,
		How: "`psql -X -q -v ON_ERROR_STOP=1 --single-transaction -f` every migration's SQL and one version row",
		plan: func(op Op, t target) ([]invocation, string) {
			file := map[Op]string{Up: t.set.PsqlUpAllInOne, Down: t.set.PsqlDownAllInOne}[op]
			if file == "" {
				return nil, "same as psql"
			}
			return one(bin.Psql, psqlEnv(t), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", file), ""
		}}

	return []Tool{ours, golangMigrate, goose, dbmate, psql, oursAllInOne, psqlAllInOne}
}
