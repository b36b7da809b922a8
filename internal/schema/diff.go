package schema

import (
	"slices"
	"strings"
)

// What Change.Op says.
const (
	OpLeftBehind = "left behind" // in got, not in want
	OpMissing    = "missing"     // in want, not in got
	OpChanged    = "changed"     // in both, with different definitions
)

// Change is one object that differs between two snapshots. Want is its definition in the
// snapshot that was expected ("" when OpLeftBehind), Got in the one that was taken ("" when
// OpMissing).
type Change struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Op   string `json:"op"`
	Want string `json:"want,omitempty"`
	Got  string `json:"got,omitempty"`
}

// Diff lists the objects that differ, in Snapshot order. The words suit RoundTrip, where want is
// the schema before an up and got the schema after its down: an object the down forgot is
// "left behind", one it removed too many is "missing". Diff(want, got) is empty exactly when
// want.Equal(got).
func Diff(want, got *Snapshot) []Change {
	w, g := sorted(want.objects()), sorted(got.objects())
	var changes []Change
	for len(w) > 0 || len(g) > 0 {
		switch {
		case len(g) == 0 || (len(w) > 0 && compareObjects(w[0], g[0]) < 0):
			if w[0].Kind != KindColumnOrder {
				changes = append(changes, Change{Kind: w[0].Kind, Name: w[0].Name, Op: OpMissing, Want: w[0].Def})
			}
			w = w[1:]
		case len(w) == 0 || compareObjects(w[0], g[0]) > 0:
			if g[0].Kind != KindColumnOrder {
				changes = append(changes, Change{Kind: g[0].Kind, Name: g[0].Name, Op: OpLeftBehind, Got: g[0].Def})
			}
			g = g[1:]
		case w[0].Kind == KindColumnOrder:
			if !sameOrder(w[0].Def, g[0].Def) {
				changes = append(changes, Change{Kind: w[0].Kind, Name: w[0].Name, Op: OpChanged, Want: w[0].Def, Got: g[0].Def})
			}
			w, g = w[1:], g[1:]
		default:
			if w[0].Def != g[0].Def {
				changes = append(changes, Change{Kind: w[0].Kind, Name: w[0].Name, Op: OpChanged, Want: w[0].Def, Got: g[0].Def})
			}
			w, g = w[1:], g[1:]
		}
	}
	return changes
}

// sameOrder reports whether two column orders (column names joined by ", ") put the columns
// both have in the same relative order. A column added or removed is a column change of its
// own; the order is a finding only when columns both tables have sit in another order, which is
// what positional INSERTs, SELECT * and row-type functions see.
func sameOrder(want, got string) bool {
	w, g := strings.Split(want, ", "), strings.Split(got, ", ")
	in := func(list []string) map[string]bool {
		m := map[string]bool{}
		for _, c := range list {
			m[c] = true
		}
		return m
	}
	inW, inG := in(w), in(g)
	var cw, cg []string
	for _, c := range w {
		if inG[c] {
			cw = append(cw, c)
		}
	}
	for _, c := range g {
		if inW[c] {
			cg = append(cg, c)
		}
	}
	return slices.Equal(cw, cg)
}

// diffContext is how many unchanged lines FormatDiff shows around a change in a long definition.
const diffContext = 2

// FormatDiff renders changes for people, one block per object:
//
//	index public.devices_serial_live_key: left behind
//	    + CREATE UNIQUE INDEX devices_serial_live_key ON public.devices USING btree (serial)
//	column public.models.labels: changed
//	    - text[] NOT NULL DEFAULT '{}'::text[]
//	    + text[]
//
// A changed multi-line definition (a function, a view) shows only the lines that differ, with
// a little context; "..." stands for the unchanged lines left out.
func FormatDiff(changes []Change) string {
	var b strings.Builder
	for _, c := range changes {
		b.WriteString(c.Kind + " " + c.Name + ": " + c.Op + "\n")
		switch c.Op {
		case OpLeftBehind:
			writeLines(&b, '+', c.Got)
		case OpMissing:
			writeLines(&b, '-', c.Want)
		default:
			writeLineDiff(&b, c.Want, c.Got)
		}
	}
	return b.String()
}

func writeLines(b *strings.Builder, mark byte, def string) {
	for line := range strings.SplitSeq(def, "\n") {
		writeLine(b, mark, line)
	}
}

// writeLine writes one marked line, without trailing blanks when the line is empty.
func writeLine(b *strings.Builder, mark byte, line string) {
	b.WriteString(strings.TrimRight(defIndent+string(mark)+" "+line, " ") + "\n")
}

// writeLineDiff writes a line diff of want and got: whole definitions for one-liners, changed
// lines with diffContext lines of context for longer ones.
func writeLineDiff(b *strings.Builder, want, got string) {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(wl) == 1 && len(gl) == 1 {
		writeLines(b, '-', want)
		writeLines(b, '+', got)
		return
	}
	ops := lineDiff(wl, gl)
	// Show a kept line only when a change is within diffContext lines of it.
	show := make([]bool, len(ops))
	for i, op := range ops {
		if op.mark == ' ' {
			continue
		}
		for j := max(0, i-diffContext); j <= min(len(ops)-1, i+diffContext); j++ {
			show[j] = true
		}
	}
	skipped := false
	for i, op := range ops {
		if !show[i] {
			skipped = true
			continue
		}
		if skipped {
			b.WriteString(defIndent + "  ...\n")
			skipped = false
		}
		writeLine(b, op.mark, op.line)
	}
	if skipped {
		b.WriteString(defIndent + "  ...\n")
	}
}

type lineOp struct {
	mark byte // ' ' kept, '-' only in want, '+' only in got
	line string
}

// lineDiff is a longest-common-subsequence line diff. Definitions are short (a function is tens
// of lines), so the quadratic table costs nothing worth a cleverer algorithm.
func lineDiff(a, b []string) []lineOp {
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []lineOp
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			ops = append(ops, lineOp{' ', a[i]})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			ops = append(ops, lineOp{'-', a[i]})
			i++
		default:
			ops = append(ops, lineOp{'+', b[j]})
			j++
		}
	}
	for ; i < len(a); i++ {
		ops = append(ops, lineOp{'-', a[i]})
	}
	for ; j < len(b); j++ {
		ops = append(ops, lineOp{'+', b[j]})
	}
	return ops
}
