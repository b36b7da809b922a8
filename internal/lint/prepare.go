package lint

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"visiona-backend/internal/migfile"
)

// PrepareFile is the migrator's preflight for a file about to run in a transaction (db.WithPreflight).
// A file wrapped whole in BEGIN ... COMMIT, as golang-migrate users often write them, comes back
// with those two statements blanked out (same length, same lines), so it runs in the tool's own
// transaction together with its version row. Any other transaction control is an error naming the
// line: run as is, a COMMIT would keep what came before it even if a later statement failed.
// Without a parser (a build without cgo) the file comes back unchanged; the migrator's own guard
// still refuses to record a migration that ended its transaction.
func PrepareFile(name string, body []byte) ([]byte, *migfile.SQLFailure) {
	f, err := parseFile(name, body, true, false, Version{})
	if err != nil || !f.parsed {
		return body, nil // no parser, or a syntax error PostgreSQL will report with its position
	}
	var control []*pg_query.RawStmt
	for _, s := range f.stmts {
		if s.Stmt.GetTransactionStmt() != nil {
			control = append(control, s)
		}
	}
	if len(control) == 0 {
		return body, nil
	}
	wrapped := len(control) >= 2 && control[0] == f.stmts[0] && control[len(control)-1] == f.stmts[len(f.stmts)-1] &&
		isKind(control[0], pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START) &&
		isKind(control[len(control)-1], pg_query.TransactionStmtKind_TRANS_STMT_COMMIT)
	if wrapped && len(control) == 2 {
		out := append([]byte(nil), body...)
		for _, s := range control {
			start, end := int(s.StmtLocation), len(out)
			if s.StmtLen > 0 {
				end = start + int(s.StmtLen)
			}
			for i := start; i < end; i++ {
				if out[i] != '\n' {
					out[i] = ' '
				}
			}
		}
		return out, nil
	}
	offending := control[0]
	if wrapped {
		offending = control[1] // the wrapper is fine; what is inside it is not
	}
	line, col := f.position(f.stmtStart(offending))
	return nil, &migfile.SQLFailure{File: name, Line: line, Column: col,
		Message: "transaction control in a migration file: the tool runs each file in one transaction with its version row, and a COMMIT here would keep what ran before it even if a later statement failed",
		Hint:    "remove it; a file wrapped whole in BEGIN ... COMMIT is fine"}
}

func isKind(s *pg_query.RawStmt, kinds ...pg_query.TransactionStmtKind) bool {
	k := s.Stmt.GetTransactionStmt().Kind
	for _, want := range kinds {
		if k == want {
			return true
		}
	}
	return false
}
