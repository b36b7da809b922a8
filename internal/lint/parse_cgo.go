//go:build cgo

package lint

import (
	"errors"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
)

// parse runs PostgreSQL's parser and scanner over src. SQL the parser refuses is a *syntaxError,
// returned with the tokens when the scanner accepts them (they tell newer syntax from a mistake);
// err is for the parser failing otherwise.
func parse(src string) (*pg_query.ParseResult, []*pg_query.ScanToken, *syntaxError, error) {
	tree, err := pg_query.Parse(src)
	if err != nil {
		var perr *parser.Error
		if errors.As(err, &perr) {
			serr := &syntaxError{message: perr.Message, cursorpos: perr.Cursorpos}
			if scan, err := pg_query.Scan(src); err == nil {
				return nil, scan.Tokens, serr, nil
			}
			return nil, nil, serr, nil
		}
		return nil, nil, nil, err
	}
	scan, err := pg_query.Scan(src)
	if err != nil {
		return nil, nil, nil, err
	}
	return tree, scan.Tokens, nil, nil
}
