// Package lines shortens text for one-line messages: error lines, test failures and table cells.
// It is a leaf package, so the commands, the runner and the test harness share it without pulling
// in each other's dependencies.
package lines

import "strings"

// First returns s up to its first newline.
func First(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Fold joins s's words with single spaces: SQL or a multi-line message on one line.
func Fold(s string) string { return strings.Join(strings.Fields(s), " ") }
