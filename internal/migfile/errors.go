package migfile

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSource: the migration files are not a valid set; see *SourceError (LoadSource).
var ErrInvalidSource = errors.New("invalid migrations")

// SourceError names the migration file that makes the set invalid.
type SourceError struct {
	File   string // empty when the directory itself is the problem
	Reason string
}

func (e *SourceError) Error() string {
	if e.File == "" {
		return "migrations: " + e.Reason
	}
	return fmt.Sprintf("migrations/%s: %s", e.File, e.Reason)
}

func (e *SourceError) Unwrap() error { return ErrInvalidSource }

// SQLFailure is where and why PostgreSQL rejected the SQL of a file (a migration or a seed).
type SQLFailure struct {
	File     string
	Line     int // 0 when PostgreSQL gave no position
	Column   int
	SQLState string
	Message  string
	Detail   string
	Hint     string
}

// Describe renders "<where>:line:col: ERROR message (SQLSTATE x); detail; hint: ...".
func (f SQLFailure) Describe(where string) string {
	var b strings.Builder
	b.WriteString(where)
	if f.Line > 0 {
		fmt.Fprintf(&b, ":%d", f.Line)
		if f.Column > 0 {
			fmt.Fprintf(&b, ":%d", f.Column)
		}
	}
	b.WriteString(": ")
	if f.SQLState != "" {
		fmt.Fprintf(&b, "ERROR %s (SQLSTATE %s)", f.Message, f.SQLState)
	} else {
		b.WriteString(f.Message)
	}
	if f.Detail != "" {
		b.WriteString("; " + f.Detail)
	}
	if f.Hint != "" {
		b.WriteString("; hint: " + f.Hint)
	}
	return b.String()
}

// LineColumn maps PostgreSQL's 1-based character position to a line and column of body; a
// position past the body maps to the body's end.
func LineColumn(body []byte, pos int) (line, col int) {
	runes := []rune(string(body))
	if len(runes) == 0 {
		return 0, 0
	}
	// Past the body is the tool's own statements: the body left a statement or a quote open, and
	// the end of the file is where to look.
	pos = min(pos, len(runes))
	line, col = 1, 1
	for _, r := range runes[:pos-1] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}
