package lint

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"visiona-backend/internal/migfile"
)

// suppressionPrefix starts a line comment that silences one rule in its statement;
// fileSuppressionPrefix one that silences it in the whole file.
const (
	suppressionPrefix     = "lint:ignore"
	fileSuppressionPrefix = "lint:ignore-file"
)

const noTxMarker = migfile.NoTransactionMarker

// syntaxError is the parser's refusal: its message, and where (1-based, in characters).
type syntaxError struct {
	message   string
	cursorpos int
}

// file is one migration file as the parser sees it, and the findings about it.
type file struct {
	name   string
	src    string
	up     bool // an up file (else a down file)
	noTx   bool // marked -- migrate:no-transaction: runs outside a transaction
	parsed bool // the parser accepted it; stmts and tokens are valid
	target Version

	stmts      []*pg_query.RawStmt // statements, empty ones left out
	tokens     []*pg_query.ScanToken
	lineStarts []int // byte offset of the start of each line

	findings     []found
	suppressions []*suppression
}

// found is a finding and the byte offset it points at, which tells the statement it belongs to.
type found struct {
	Finding
	offset int
}

type suppression struct {
	offset   int
	prefix   string // suppressionPrefix or fileSuppressionPrefix
	rule     string
	reason   string
	fileWide bool
	stmt     int // index into stmts of the statement it silences; -1: none
	used     bool
}

// parseFile parses and scans one file. SQL the parser refuses is a syntax-error finding; the error
// return is for the lint's own failures only.
func parseFile(name string, body []byte, up, noTx bool, target Version) (*file, error) {
	f := &file{name: name, src: string(body), up: up, noTx: noTx, target: target}
	f.lineStarts = append(f.lineStarts, 0)
	for i, c := range body {
		if c == '\n' {
			f.lineStarts = append(f.lineStarts, i+1)
		}
	}
	// The parser takes a C string: a NUL byte would silently end the file early.
	if i := bytes.IndexByte(body, 0); i >= 0 {
		f.report(i, ruleSyntaxError, "NUL byte in the file; PostgreSQL would not accept it")
		return f, nil
	}
	tree, tokens, serr, err := parse(f.src)
	switch {
	case err != nil:
		return nil, fmt.Errorf("lint: %s: %w", name, err)
	case serr != nil:
		f.syntaxError(serr, tokens)
		return f, nil
	}
	f.parsed, f.tokens = true, tokens
	for _, s := range tree.Stmts {
		if s.Stmt != nil {
			f.stmts = append(f.stmts, s)
		}
	}
	f.readSuppressions()
	return f, nil
}

// charOffset turns the parser's error position (1-based, in characters) into a byte offset.
func (f *file) charOffset(cursorpos int) int {
	if cursorpos <= 0 {
		return 0
	}
	chars := 1
	for i := range f.src { // i steps over whole characters
		if chars == cursorpos {
			return i
		}
		chars++
	}
	return len(f.src)
}

// position turns a byte offset into a line and a column, both from 1; the column counts
// characters, so a line with "é" before the statement is not off by one.
func (f *file) position(offset int) (line, column int) {
	offset = min(max(offset, 0), len(f.src))
	i, found := slices.BinarySearch(f.lineStarts, offset)
	if !found {
		i--
	}
	return i + 1, utf8.RuneCountInString(f.src[f.lineStarts[i]:offset]) + 1
}

// report records a finding of rule at a byte offset of the file.
func (f *file) report(offset int, rule, format string, args ...any) {
	f.findings = append(f.findings, found{f.finding(offset, rule, fmt.Sprintf(format, args...)), offset})
}

func (f *file) finding(offset int, rule, message string) Finding {
	r, ok := ruleByName(rule)
	if !ok {
		panic("lint: unknown rule " + rule)
	}
	line, col := f.position(offset)
	return Finding{File: f.name, Line: line, Column: col, Rule: rule, Severity: r.Severity, Message: message}
}

// tokenAt returns the offset of the first token at or after offset that is not a comment: where a
// statement really starts, past the comments the parser counts as part of it.
func (f *file) tokenAt(offset int) int {
	for _, t := range f.tokens {
		if int(t.Start) >= offset && !isComment(t) {
			return int(t.Start)
		}
	}
	return offset
}

func isComment(t *pg_query.ScanToken) bool {
	return t.Token == pg_query.Token_SQL_COMMENT || t.Token == pg_query.Token_C_COMMENT
}

// stmtStart is the offset of a statement's first keyword.
func (f *file) stmtStart(s *pg_query.RawStmt) int { return f.tokenAt(int(s.StmtLocation)) }

// stmtTokens returns the tokens of a statement, comments left out.
func (f *file) stmtTokens(s *pg_query.RawStmt) []*pg_query.ScanToken {
	start, end := int(s.StmtLocation), len(f.src)
	if s.StmtLen > 0 {
		end = start + int(s.StmtLen)
	}
	var out []*pg_query.ScanToken
	for _, t := range f.tokens {
		if int(t.Start) >= start && int(t.End) <= end && !isComment(t) {
			out = append(out, t)
		}
	}
	return out
}

// subcommandStarts returns where each of the n comma-separated subcommands of an ALTER TABLE
// starts, from the tokens after the table's name, or nil when the tokens do not add up to n (then
// findings point at the statement).
func (f *file) subcommandStarts(s *pg_query.RawStmt, nameLocation int32, n int) []int {
	toks := f.stmtTokens(s)
	i := slices.IndexFunc(toks, func(t *pg_query.ScanToken) bool { return t.Start == nameLocation })
	if i < 0 {
		return nil
	}
	i++ // past the name, and past any further ".name" parts
	for i+1 < len(toks) && toks[i].Token == pg_query.Token_ASCII_46 {
		i += 2
	}
	if i >= len(toks) {
		return nil
	}
	starts := []int{int(toks[i].Start)}
	depth := 0
	for ; i < len(toks); i++ {
		switch toks[i].Token {
		case pg_query.Token_ASCII_40, pg_query.Token_ASCII_91: // ( [
			depth++
		case pg_query.Token_ASCII_41, pg_query.Token_ASCII_93: // ) ]
			depth--
		case pg_query.Token_ASCII_44: // ,
			if depth == 0 && i+1 < len(toks) {
				starts = append(starts, int(toks[i+1].Start))
			}
		}
	}
	if len(starts) != n {
		return nil
	}
	return starts
}

// readSuppressions collects the `-- lint:ignore <rule> <reason>` and `-- lint:ignore-file <rule>
// <reason>` comments. Comments come from the scanner, so text inside strings and function bodies
// never counts.
func (f *file) readSuppressions() {
	for _, t := range f.tokens {
		if t.Token != pg_query.Token_SQL_COMMENT {
			continue
		}
		text := strings.TrimSpace(strings.TrimPrefix(f.src[t.Start:t.End], "--"))
		sup := &suppression{offset: int(t.Start), stmt: -1}
		rest, ok := strings.CutPrefix(text, fileSuppressionPrefix)
		if ok {
			sup.prefix, sup.fileWide = fileSuppressionPrefix, true
		} else if rest, ok = strings.CutPrefix(text, suppressionPrefix); ok {
			sup.prefix = suppressionPrefix
		}
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) > 0 {
			sup.rule = fields[0]
			sup.reason = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), sup.rule))
		}
		if !sup.fileWide {
			sup.stmt = f.suppressedStmt(sup.offset)
		}
		f.suppressions = append(f.suppressions, sup)
	}
}

// stmtEnd is the offset just past a statement's last character (before its semicolon).
func (f *file) stmtEnd(i int) int {
	s := f.stmts[i]
	if s.StmtLen == 0 {
		return len(f.src)
	}
	return int(s.StmtLocation + s.StmtLen)
}

// suppressedStmt is the statement a `-- lint:ignore` comment at offset speaks of: the one it
// trails on the same line (`create index ...; -- lint:ignore ...`), else the one it sits in or
// precedes (comments above a statement, or above an ALTER TABLE's subcommand). -1: none follows.
func (f *file) suppressedStmt(offset int) int {
	line, _ := f.position(offset)
	for i := len(f.stmts) - 1; i >= 0; i-- {
		end := f.stmtEnd(i)
		if end <= offset {
			if endLine, _ := f.position(end); endLine == line && f.stmtStart(f.stmts[i]) < end {
				return i
			}
			break
		}
	}
	for i := range f.stmts {
		if offset < f.stmtEnd(i) {
			return i
		}
	}
	return -1
}

// stmtOf is the index of the statement holding offset, -1 when none does.
func (f *file) stmtOf(offset int) int {
	for i, s := range f.stmts {
		if offset >= int(s.StmtLocation) && offset <= f.stmtEnd(i) {
			return i
		}
	}
	return -1
}

// result applies the file's suppressions to its findings and reports the suppressions that are
// malformed or silence nothing.
func (f *file) result() []Finding {
	var valid []*suppression
	for _, s := range f.suppressions {
		switch {
		case s.rule == "":
			f.report(s.offset, ruleSuppressionWithoutReason, "-- %s names no rule; write -- %s <rule> <why it does not apply>", s.prefix, s.prefix)
		case !suppressible(s.rule):
			if _, known := ruleByName(s.rule); known {
				f.report(s.offset, ruleUnusedIgnore, "%s cannot be suppressed; remove the -- %s comment", s.rule, s.prefix)
			} else {
				f.report(s.offset, ruleUnusedIgnore, "-- %s %s names no rule (see internal/lint/README.md); fix the name or remove the comment", s.prefix, s.rule)
			}
		case s.reason == "":
			f.report(s.offset, ruleSuppressionWithoutReason, "-- %s %s has no reason and is not honoured; say why the finding does not apply: -- %s %s <reason>", s.prefix, s.rule, s.prefix, s.rule)
		default:
			valid = append(valid, s)
		}
	}
	var out []Finding
	for _, fd := range f.findings {
		silenced := false
		stmt := -2 // computed once, when a statement suppression names the rule
		for _, s := range valid {
			if s.rule != fd.Rule {
				continue
			}
			if !s.fileWide {
				if stmt == -2 {
					stmt = f.stmtOf(fd.offset)
				}
				if s.stmt != stmt {
					continue
				}
			}
			s.used, silenced = true, true
		}
		if !silenced {
			out = append(out, fd.Finding)
		}
	}
	for _, s := range valid {
		if s.used {
			continue
		}
		where := "its statement"
		switch {
		case s.fileWide:
			where = f.name
		case s.stmt < 0:
			where = "the file after it (no statement follows)"
		}
		out = append(out, f.finding(s.offset, ruleUnusedIgnore, fmt.Sprintf("nothing in %s triggers %s; remove the -- %s comment", where, s.rule, s.prefix)))
	}
	slices.SortStableFunc(out, compareFindings)
	return out
}
