// Package schema takes a canonical snapshot of a PostgreSQL schema by reading the catalogs, and
// compares two snapshots object by object. mage testDB uses it to prove that every migration's
// down reverses its up (see RoundTrip), and migrations/schema.snapshot is its text form.
//
// A snapshot is deterministic: no OIDs, no generated names that differ between runs, objects in a
// fixed order, and definitions rendered under fixed settings (search_path, DateStyle, TimeZone...)
// so two databases migrated the same way snapshot to the same text, whatever the session that
// reads them.
//
// What is compared, in every schema but pg_catalog, information_schema, pg_toast* and pg_temp*
// (docs/schema-proof.md goes through pg_dump --schema-only's output kind by kind):
//
//   - schema: every user schema but public, which every database starts with
//   - table: persistence, kind (partitioned, foreign), partitioning, typed table (OF type),
//     inheritance, access method, storage options and the TOAST table's, tablespace, foreign
//     table server and options, CLUSTER ON, row-level security, replica identity
//   - column: type, collation when not the type's default, NOT NULL, default, identity,
//     generated, storage when not the type's, compression, statistics target, attribute
//     options, foreign-table column options; on views, a column's own default
//   - column_order: a table's column names in physical order, its own kind of finding (see
//     ColumnOrder): only a different order of the columns both sides have is reported
//   - constraint: pg_get_constraintdef, so NOT VALID and DEFERRABLE are part of it
//   - index: pg_get_indexdef, tablespace, per-column statistics targets, the partitioned index
//     it is attached to, and validity; indexes that implement a constraint are the constraint
//   - statistics: extended statistics (CREATE STATISTICS) and their statistics target
//   - sequence: type, start, increment, bounds, cache, cycle, owning column
//   - view, materialized_view: pg_get_viewdef and view options
//   - function: pg_get_functiondef (procedures too); aggregates by every part CREATE AGGREGATE
//     takes
//   - trigger: pg_get_triggerdef and enabled state
//   - type: enums (labels in order), composite types, domains (with their constraints), ranges
//     (with the multirange type's name)
//   - extension: name and schema
//   - policy: row-level security policies
//   - rule: rewrite rules other than a view's own
//   - comment: the comment on any of the above but extensions, and on columns, constraints and
//     indexes that implement constraints; named "<kind> <name>" (comment column public.users.email)
//
// What is not compared, on purpose:
//
//   - Ownership, privileges, default privileges and security labels: they differ per
//     environment (the migrating role is not the same in CI and in production).
//   - Extension versions and comments: CREATE EXTENSION installs whatever the server ships,
//     which differs between images, while the migrations are the same.
//   - Objects that belong to an extension (its functions, types, operators...): the extension is
//     the object.
//   - The plpgsql extension and the public schema (every database has them from the start), and
//     the tables excluded by WithExcludedTables (golang-migrate's schema_migrations always),
//     with their columns, constraints, indexes, triggers, policies, owned sequences and comments.
//   - NOT NULL constraints as pg_constraint rows (PostgreSQL 18 has them): NOT NULL is compared
//     as a column property, which is the same on every version.
//   - Data and sequence values: pg_dump --schema-only leaves them out too.
//   - Event triggers: no event trigger fires for CREATE EVENT TRIGGER, so the incremental walk
//     could not see them, and the proof's own DDL log is made of them.
//   - Kinds that need a C function or a superuser and that application migrations do not
//     create: operators, operator classes and families, casts, collations, conversions, text
//     search objects, transforms, procedural languages, access methods, base types, foreign data
//     wrappers and servers (a foreign table names its server), publications, subscriptions.
//
// Definitions are compared after trimming trailing blanks from each line and blank lines at both
// ends, so a function body re-created by an editor that strips trailing spaces still matches.
package schema

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"visiona-backend/internal/db"
)

// Object kinds, as Object.Kind and as the first word of a comment's Name.
const (
	KindSchema           = "schema"
	KindTable            = "table"
	KindColumn           = "column"
	KindConstraint       = "constraint"
	KindIndex            = "index"
	KindSequence         = "sequence"
	KindView             = "view"
	KindMaterializedView = "materialized_view"
	KindFunction         = "function"
	KindTrigger          = "trigger"
	KindType             = "type"
	KindExtension        = "extension"
	KindPolicy           = "policy"
	KindRule             = "rule"
	KindComment          = "comment"
	KindColumnOrder      = "column_order"
	KindStatistics       = "statistics"
)

// Snapshot is a schema as a sorted list of objects. Take and Parse return it sorted by Kind then
// Name, which Equal and String rely on.
type Snapshot struct {
	Objects []Object `json:"objects"`
}

// Object is one schema object. Name is schema-qualified with each part quoted as PostgreSQL
// would (public.users.email, public."Odd Name"); functions carry their argument types
// (public.set_updated_at()); a comment is named after what it comments on
// ("column public.users.email"). Def is the canonical definition: one line, or several for
// functions, views and multi-line comments.
type Object struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Def  string `json:"def"`
}

// Option configures Take.
type Option func(*options) error

type options struct {
	excluded []string
}

// WithExcludedTables leaves tables out of the snapshot, with everything that hangs off them
// (columns, constraints, indexes, triggers, policies, owned sequences, comments). A name is a
// table name as stored in the catalog (unquoted), matched in every schema, or schema.table to
// match in one schema only. db.VersionTable and db.HistoryTable are always excluded: they are the
// migration tools' bookkeeping, not the schema the migrations build.
func WithExcludedTables(names ...string) Option {
	return func(o *options) error {
		for _, n := range names {
			if n == "" || strings.TrimSpace(n) != n || strings.Count(n, ".") > 1 || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".") {
				return fmt.Errorf("%w: excluded table %q is not a table or schema.table name", ErrInvalidOption, n)
			}
		}
		o.excluded = append(o.excluded, names...)
		return nil
	}
}

func newOptions(opts []Option) (*options, error) {
	o := &options{excluded: []string{db.VersionTable, db.HistoryTable}}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Take reads the schema of conn's database. It sends one batch (one round trip once the
// statement is prepared on conn): the settings, then a single catalog statement (queries.go), and
// changes nothing: the settings it needs are set for its own transaction only. On an idle
// connection that is the batch's implicit transaction; inside the caller's transaction it is a
// savepoint rolled back at the end. A connection in a failed transaction is refused.
//
// Take does not isolate itself from concurrent DDL: take it while nothing migrates.
func Take(ctx context.Context, conn *pgx.Conn, opts ...Option) (*Snapshot, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if conn == nil {
		return nil, fmt.Errorf("%w: nil connection", ErrInvalidOption)
	}
	inTx := false
	switch st := conn.PgConn().TxStatus(); st {
	case 'I':
	case 'T':
		inTx = true
	default:
		return nil, fmt.Errorf("take snapshot: the connection is in a failed transaction (status %q); roll it back first", st)
	}

	b := &pgx.Batch{}
	if inTx {
		b.Queue("SAVEPOINT " + savepoint)
	}
	b.Queue(settingsSQL)
	b.Queue(takeSQL, o.excluded)
	if inTx {
		// Rolling back to the savepoint is what undoes set_config(..., true) inside an
		// enclosing transaction; releasing alone would keep the settings until it ends.
		b.Queue("ROLLBACK TO SAVEPOINT " + savepoint)
		b.Queue("RELEASE SAVEPOINT " + savepoint)
	}

	s, err := runBatch(ctx, conn, b, inTx)
	if err != nil {
		if inTx && conn.PgConn().TxStatus() == 'E' {
			// Leave the caller's transaction as usable as we found it.
			_, rbErr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK TO SAVEPOINT "+savepoint+"; RELEASE SAVEPOINT "+savepoint)
			err = errors.Join(err, rbErr)
		}
		return nil, fmt.Errorf("take snapshot: %w", err)
	}
	return s, nil
}

// takeSQL is Take's statement, built once: pgx caches prepared statements by their text.
var takeSQL = buildTakeSQL()

// savepoint names the savepoint Take sets inside a caller's transaction.
const savepoint = "visiona_schema_snapshot"

func runBatch(ctx context.Context, conn *pgx.Conn, b *pgx.Batch, inTx bool) (s *Snapshot, err error) {
	br := conn.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if inTx {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("set savepoint: %w", err)
		}
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("apply settings: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read catalogs: %w", err)
	}
	s = &Snapshot{}
	var kind, name string
	var def pgtype.Text
	_, err = pgx.ForEachRow(rows, []any{&kind, &name, &def}, func() error {
		o, err := newObject(kind, name, def)
		if err != nil {
			return err
		}
		s.Objects = append(s.Objects, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read catalogs: %w", err)
	}
	if inTx {
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return nil, fmt.Errorf("release savepoint: %w", err)
			}
		}
	}
	s.sort()
	if err := s.checkUnique(); err != nil {
		return nil, err
	}
	return s, nil
}

// newObject is one row of the catalog statement.
func newObject(kind, name string, def pgtype.Text) (Object, error) {
	if !def.Valid {
		// A NULL definition is a case the queries do not handle: fail loudly rather than
		// compare an object by its name only.
		return Object{}, fmt.Errorf("%s %s: no definition", kind, name)
	}
	return Object{Kind: kind, Name: name, Def: canonicalDef(def.String)}, nil
}

// canonicalDef normalizes what PostgreSQL prints so that only meaningful differences remain:
// line endings, trailing blanks on each line, and blank lines at either end.
func canonicalDef(def string) string {
	def = strings.ReplaceAll(def, "\r\n", "\n")
	lines := strings.Split(def, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r\f\v")
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

func compareObjects(a, b Object) int {
	return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
}

// sort orders by Kind then Name, bytewise: the database's collation must not change the order.
func (s *Snapshot) sort() { slices.SortStableFunc(s.Objects, compareObjects) }

// checkUnique assumes s is sorted.
func (s *Snapshot) checkUnique() error {
	for i := 1; i < len(s.Objects); i++ {
		if compareObjects(s.Objects[i-1], s.Objects[i]) == 0 {
			return fmt.Errorf("%w: %s %s appears twice", ErrInvalidSnapshot, s.Objects[i].Kind, s.Objects[i].Name)
		}
	}
	return nil
}

func (s *Snapshot) objects() []Object {
	if s == nil {
		return nil
	}
	return s.Objects
}

// Equal reports whether s and o hold the same objects with the same definitions, in any order.
// A nil snapshot equals an empty one.
func (s *Snapshot) Equal(o *Snapshot) bool {
	return slices.Equal(sorted(s.objects()), sorted(o.objects()))
}

// sorted returns objs in Snapshot order, copying only when a hand-built snapshot needs it.
func sorted(objs []Object) []Object {
	if slices.IsSortedFunc(objs, compareObjects) {
		return objs
	}
	objs = slices.Clone(objs)
	slices.SortStableFunc(objs, compareObjects)
	return objs
}

// Len is the number of objects.
func (s *Snapshot) Len() int { return len(s.objects()) }
