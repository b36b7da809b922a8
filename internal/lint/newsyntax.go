package lint

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// newerSyntax is a construct a PostgreSQL newer than the parser's accepts, recognised by the
// token the parser stopped at and the ones before it.
type newerSyntax struct {
	major int
	what  string
	match func(prev []string, at string) bool // prev: lower-case token texts before the error, nearest last
}

var newerSyntaxes = []newerSyntax{
	{18, "a NOT NULL table constraint (CONSTRAINT name NOT NULL col [NOT VALID])", func(prev []string, at string) bool {
		return at == "not" && len(prev) >= 2 && prev[len(prev)-2] == "constraint"
	}},
	{18, "a VIRTUAL generated column", func(_ []string, at string) bool { return at == "virtual" }},
	{18, "ENFORCED / NOT ENFORCED constraints", func(_ []string, at string) bool { return at == "enforced" }},
	{18, "WITHOUT OVERLAPS in a key", func(prev []string, at string) bool {
		return at == "overlaps" && len(prev) > 0 && prev[len(prev)-1] == "without"
	}},
	{18, "PERIOD in a foreign key", func(_ []string, at string) bool { return at == "period" }},
}

// syntaxError reports what the parser refused. Syntax a newer PostgreSQL accepts is not a mistake
// in the file: when the target server is that new (or unknown), it is a warning naming both
// versions; when the target is older, the server will refuse it too, and it is an error saying so.
func (f *file) syntaxError(serr *syntaxError, tokens []*pg_query.ScanToken) {
	at := f.charOffset(serr.cursorpos)
	if ns, ok := f.newerSyntaxAt(at, tokens); ok {
		if f.target.before(ns.major) {
			f.report(at, ruleSyntaxError, "%s needs PostgreSQL %d, and the target server is %s (VISIONA_DB_SERVER_VERSION), which refuses it: %s", ns.what, ns.major, f.target, serr.message)
			return
		}
		f.report(at, ruleParserOlder, "%s is PostgreSQL %d syntax, newer than the lint's parser (PostgreSQL %d): this file is not linted; running it against PostgreSQL %d (TestDB) proves it", ns.what, ns.major, ParserMajor, ns.major)
		return
	}
	if f.target.Known() && f.target.Major > ParserMajor {
		f.report(at, ruleParserOlder, "the lint's parser (PostgreSQL %d) refuses this: %s; the target server is PostgreSQL %s, whose grammar may accept it: this file is not linted, and running it against %s (TestDB) tells", ParserMajor, serr.message, f.target, f.target)
		return
	}
	f.report(at, ruleSyntaxError, "%s", serr.message)
}

func (f *file) newerSyntaxAt(at int, tokens []*pg_query.ScanToken) (newerSyntax, bool) {
	var prev []string
	for _, t := range tokens {
		if isComment(t) {
			continue
		}
		text := strings.ToLower(f.src[t.Start:t.End])
		if int(t.Start) == at {
			for _, ns := range newerSyntaxes {
				if ns.match(prev, text) {
					return ns, true
				}
			}
			return newerSyntax{}, false
		}
		prev = append(prev, text)
	}
	return newerSyntax{}, false
}
