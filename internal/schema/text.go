package schema

import (
	"fmt"
	"strings"
)

// The text form, as String writes it and Parse reads it:
//
//	column public.users.email
//	    text NOT NULL
//	function public.set_updated_at()
//	    CREATE OR REPLACE FUNCTION public.set_updated_at()
//	    ...
//
// Each object is a header line, its kind and name separated by the first space, then each line
// of its definition indented by four spaces. An empty definition line is written as an empty
// line (not four spaces), so an editor that strips trailing blanks cannot break the file. Parse
// also skips lines starting with '#' at the beginning of a line, for a header in a committed
// file.

// defIndent prefixes every definition line.
const defIndent = "    "

// String is the canonical text of s: stable across runs and across databases migrated the same
// way, and what Parse reads back.
func (s *Snapshot) String() string {
	var b strings.Builder
	for _, o := range sorted(s.objects()) {
		b.WriteString(o.Kind)
		b.WriteByte(' ')
		b.WriteString(o.Name)
		b.WriteByte('\n')
		if o.Def == "" {
			continue
		}
		for line := range strings.SplitSeq(o.Def, "\n") {
			if line != "" {
				b.WriteString(defIndent)
				b.WriteString(line)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Parse reads String's output back. Definitions are canonicalized as Take does, so a file that
// lost trailing blanks to an editor still parses to an equal snapshot.
func Parse(text string) (*Snapshot, error) {
	s := &Snapshot{}
	var cur *Object
	var def []string
	flush := func() {
		if cur != nil {
			cur.Def = canonicalDef(strings.Join(def, "\n"))
			s.Objects = append(s.Objects, *cur)
		}
		cur, def = nil, def[:0]
	}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		n := i + 1
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.TrimSpace(line) == "":
			if cur != nil {
				def = append(def, "")
			}
		case strings.HasPrefix(line, defIndent):
			if cur == nil {
				return nil, fmt.Errorf("%w: line %d: a definition line before any object", ErrInvalidSnapshot, n)
			}
			def = append(def, strings.TrimPrefix(line, defIndent))
		case line[0] == ' ' || line[0] == '\t':
			return nil, fmt.Errorf("%w: line %d: definition lines are indented by exactly four spaces", ErrInvalidSnapshot, n)
		default:
			// Trailing blanks cannot end a name (a quoted identifier ends with its quote), so
			// they are an editor's, not the object's.
			kind, name, ok := strings.Cut(strings.TrimRight(line, " \t"), " ")
			if !ok || name == "" || !isKind(kind) {
				return nil, fmt.Errorf("%w: line %d: want \"kind name\" (kind in lowercase letters and _), got %q", ErrInvalidSnapshot, n, line)
			}
			flush()
			cur = &Object{Kind: kind, Name: name}
		}
	}
	flush()
	s.sort()
	if err := s.checkUnique(); err != nil {
		return nil, err
	}
	return s, nil
}

func isKind(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}
