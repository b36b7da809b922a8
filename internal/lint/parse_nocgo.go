//go:build !cgo

package lint

import (
	"errors"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// errNoCgo: pg_query_go compiles PostgreSQL's parser from C, which a build without cgo cannot do.
// The package still compiles, so `go vet ./...` and CGO_ENABLED=0 builds of other packages work.
var errNoCgo = errors.New("built without cgo: the lint needs PostgreSQL's parser (CGO_ENABLED=1 and a C compiler)")

func parse(string) (*pg_query.ParseResult, []*pg_query.ScanToken, *syntaxError, error) {
	return nil, nil, nil, errNoCgo
}
