// Package migfile is the migration files as data: discovery and strict validation of a folder of
// NNNNNN_name.up.sql/.down.sql pairs, their chained checksums (migrations.sum), and where in a file
// an error points. It reads files and never connects to a database.
package migfile

import (
	"cmp"
	"fmt"
	"io/fs"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// NoTransactionMarker, on a line of its own among a file's leading comments, runs that file outside
// a transaction: for statements PostgreSQL refuses inside one, such as CREATE INDEX CONCURRENTLY.
const NoTransactionMarker = "-- migrate:no-transaction"

// migrationFile is golang-migrate's own file name pattern (source.Regex): a version, _, any
// title, the direction and any extension, so that an existing history runs as it is
// (20190226002946_create-user.up.sql). golang-migrate skips a file that does not match silently;
// we refuse it.
var migrationFile = regexp.MustCompile(`^([0-9]+)_(.*)\.(down|up)\.(.*)$`)

// strictFile is the name `create` writes: digits, a lowercase snake_case title, .sql.
var strictFile = regexp.MustCompile(`^([0-9]+)_([a-z0-9][a-z0-9_]*)\.(up|down)\.sql$`)

// StrictName reports whether file has the name `migrate create` writes (NNNNNN_snake_name.up.sql
// or .down.sql). Discovery accepts every name golang-migrate does; a new file should still have
// the strict one, which the lint can check with this.
func StrictName(file string) bool { return strictFile.MatchString(file) }

// Files that may sit beside the migrations without being one.
func isCompanionFile(name string) bool {
	switch {
	case strings.HasSuffix(name, ".go"), name == "README.md", name == "migrations.sum", name == "schema.snapshot", name == "lint.conf":
		return true
	}
	return false
}

func isEditorBackup(name string) bool {
	return strings.HasSuffix(name, "~") || strings.HasPrefix(name, ".#") ||
		strings.HasSuffix(name, ".swp") || strings.HasSuffix(name, ".swo") ||
		strings.HasSuffix(name, ".bak") || strings.HasSuffix(name, ".orig") ||
		strings.HasSuffix(name, ".rej") || (strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"))
}

// Migration is one version of the schema: an up file and the down file that reverses it.
type Migration struct {
	Version  uint
	Name     string
	UpFile   string
	DownFile string
	Up       []byte
	Down     []byte
	// UpNoTx and DownNoTx are set by NoTransactionMarker.
	UpNoTx   bool
	DownNoTx bool
}

// Label is how a migration is named to people: 000003_add_devices.
func (m Migration) Label() string { return fmt.Sprintf("%06d_%s", m.Version, m.Name) }

// Source is a validated, ordered set of migrations.
type Source struct {
	fsys       fs.FS
	migrations []Migration
}

// LoadSource reads every file at the top of fsys and validates it strictly before anything runs: a
// misnamed file, a missing half, a duplicate version, an editor backup or an empty file is a
// *SourceError naming the file. Subdirectories are not looked into.
func LoadSource(fsys fs.FS) (*Source, error) { return loadSource(fsys, false) }

// LoadUnfilled is LoadSource that lets files with only comments through: `create` hashes the pair
// it just wrote before anyone has filled it in.
func LoadUnfilled(fsys fs.FS) (*Source, error) { return loadSource(fsys, true) }

// LoadNames reads the directory only: every name is checked as LoadSource checks it, but no file
// is opened, so the contents are neither read nor checked (what `version` needs).
func LoadNames(fsys fs.FS) (*Source, error) { return load(fsys, false, false) }

// loadSource with unwritten set is LoadUnfilled.
func loadSource(fsys fs.FS, unwritten bool) (*Source, error) { return load(fsys, unwritten, true) }

// load with bodies unset is LoadNames.
func load(fsys fs.FS, unwritten, bodies bool) (*Source, error) {
	if fsys == nil {
		return nil, &SourceError{Reason: "no migrations folder given (a nil fs.FS)"}
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, &SourceError{Reason: fmt.Sprintf("cannot list migrations: %v", err)}
	}
	byVersion := map[uint]*Migration{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || isCompanionFile(name) {
			continue
		}
		if isEditorBackup(name) {
			return nil, &SourceError{File: name, Reason: "editor backup or leftover file; delete it"}
		}
		parts := migrationFile.FindStringSubmatch(name)
		if parts == nil {
			return nil, &SourceError{File: name, Reason: "not a migration name; want VERSION_title.up.sql or .down.sql, e.g. 000002_add_devices.up.sql (create pairs with `migrate create NAME`)"}
		}
		v, err := strconv.ParseUint(parts[1], 10, 63)
		if err != nil || v == 0 {
			return nil, &SourceError{File: name, Reason: "version must be a number from 1 up (version 0 means an empty database)"}
		}
		var body []byte
		if bodies {
			if body, err = fs.ReadFile(fsys, name); err != nil {
				return nil, &SourceError{File: name, Reason: fmt.Sprintf("cannot read: %v", err)}
			}
		}
		if bodies && !unwritten && !hasStatement(body) {
			return nil, &SourceError{File: name, Reason: "has no SQL, only blanks or comments; write the statements (an irreversible down should fail loudly, e.g. with RAISE EXCEPTION in a DO block)"}
		}
		m := byVersion[uint(v)]
		if m == nil {
			m = &Migration{Version: uint(v), Name: parts[2]}
			byVersion[uint(v)] = m
		} else if m.Name != parts[2] {
			other := m.UpFile + m.DownFile
			return nil, &SourceError{File: name, Reason: fmt.Sprintf("version %d is also used by %s; give each migration its own version", v, other)}
		}
		switch parts[3] {
		case "up":
			if m.UpFile != "" {
				return nil, &SourceError{File: name, Reason: fmt.Sprintf("duplicate up file for version %d (also %s)", v, m.UpFile)}
			}
			m.UpFile, m.Up, m.UpNoTx = name, body, hasNoTxMarker(body)
		case "down":
			if m.DownFile != "" {
				return nil, &SourceError{File: name, Reason: fmt.Sprintf("duplicate down file for version %d (also %s)", v, m.DownFile)}
			}
			m.DownFile, m.Down, m.DownNoTx = name, body, hasNoTxMarker(body)
		}
	}
	src := &Source{fsys: fsys}
	for _, m := range byVersion {
		switch {
		case m.UpFile == "":
			return nil, &SourceError{File: m.DownFile, Reason: fmt.Sprintf("has no up file; add %s", strings.Replace(m.DownFile, ".down.", ".up.", 1))}
		case m.DownFile == "":
			return nil, &SourceError{File: m.UpFile, Reason: fmt.Sprintf("has no down file; add %s that reverses it", strings.Replace(m.UpFile, ".up.", ".down.", 1))}
		}
		src.migrations = append(src.migrations, *m)
	}
	slices.SortFunc(src.migrations, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	return src, nil
}

// hasStatement reports whether body holds anything but white space and comments (-- to the end of
// a line, and /* */ blocks, which PostgreSQL lets nest): a file fresh from `create` that was never
// filled in must not count as applied.
func hasStatement(body []byte) bool {
	depth := 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case depth > 0 && c == '*' && i+1 < len(body) && body[i+1] == '/':
			depth--
			i++
		case c == '/' && i+1 < len(body) && body[i+1] == '*':
			depth++
			i++
		case depth > 0:
		case c == '-' && i+1 < len(body) && body[i+1] == '-':
			for i < len(body) && body[i] != '\n' {
				i++
			}
		case c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != ';':
			return true
		}
	}
	return false
}

// hasNoTxMarker looks only at the comment lines before the first statement, so the marker cannot
// be switched on by accident from inside a function body or a string.
func hasNoTxMarker(body []byte) bool {
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		switch {
		case line == NoTransactionMarker:
			return true
		case line == "" || strings.HasPrefix(line, "--"):
			continue
		default:
			return false
		}
	}
	return false
}

// Migrations returns the migrations in version order.
func (s *Source) Migrations() []Migration { return slices.Clone(s.migrations) }

// Latest is the highest version, or 0 when there are no migrations.
func (s *Source) Latest() uint {
	if len(s.migrations) == 0 {
		return 0
	}
	return s.migrations[len(s.migrations)-1].Version
}

// Find returns the migration with version v.
func (s *Source) Find(v uint) (Migration, bool) {
	i, ok := s.index(v)
	if !ok {
		return Migration{}, false
	}
	return s.migrations[i], true
}

// index is where version v is in the ordered set.
func (s *Source) index(v uint) (int, bool) {
	return slices.BinarySearchFunc(s.migrations, v, func(m Migration, v uint) int { return cmp.Compare(m.Version, v) })
}

// All yields the migrations in version order without copying them.
func (s *Source) All() iter.Seq[Migration] {
	return func(yield func(Migration) bool) {
		for _, m := range s.migrations {
			if !yield(m) {
				return
			}
		}
	}
}

// Len is how many migrations the set holds.
func (s *Source) Len() int { return len(s.migrations) }

// Previous returns the version before v in the source, 0 when v is the first.
func (s *Source) Previous(v uint) uint {
	if i, _ := s.index(v); i > 0 {
		return s.migrations[i-1].Version
	}
	return 0
}

// Next returns the version after v in the source (the first for 0), 0 when none.
func (s *Source) Next(v uint) uint {
	i, found := s.index(v)
	if found {
		i++
	}
	if i < len(s.migrations) {
		return s.migrations[i].Version
	}
	return 0
}

// NextVersion is the version `create` gives a new migration.
func (s *Source) NextVersion() uint { return s.Latest() + 1 }
