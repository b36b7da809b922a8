package schema

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The tracker's catalog reads: the walk's statements (queries.go builds them) and the decoding of
// their rows into units.

// The walk's statements, built once: pgx caches prepared statements by their text.
var (
	walkFullSQL   = catalogSQL(modeWalk, 0)
	walkStepSQL   = catalogSQL(modeStep, 0)
	walkScopedSQL = func() map[byte]string {
		m := map[byte]string{}
		for _, code := range []byte(unitCodes) {
			m[code] = catalogSQL(modeScoped, code)
		}
		return m
	}()
	// unitsSQL is the log's rows alone, (tag, code, oid, info), for a full snapshot.
	unitsSQL = "WITH " + strings.ReplaceAll(logUnitsSQL, "{{last}}", "$1") + "\n" + logRowsSQL
)

// sendBatch runs b and lets read consume its results.
func (t *tracker) sendBatch(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) (err error) {
	br := t.conn.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := read(br); err != nil {
		return fmt.Errorf("read catalogs: %w", err)
	}
	return nil
}

// readRows reads a walk statement's rows into units, and walkStepSQL's log rows (kind '#tag')
// into lr.
func readRows(rows pgx.Rows, units map[unitID]*readUnit, lr *logRead) error {
	var kind, name string
	var def, ucode, uqname pgtype.Text
	var uoid, xoid pgtype.Uint32
	var added []*readUnit
	_, err := pgx.ForEachRow(rows, []any{&kind, &name, &def, &ucode, &uoid, &uqname, &xoid}, func() error {
		if tag, ok := strings.CutPrefix(kind, "#"); ok {
			if lr == nil {
				return fmt.Errorf("unexpected %s row", kind)
			}
			return lr.add(tag, ucode, uoid, pgtype.Text{String: name, Valid: name != ""})
		}
		if len(ucode.String) != 1 || !uoid.Valid {
			return fmt.Errorf("%s %s: unit %q %v", kind, name, ucode.String, uoid)
		}
		o, err := newObject(kind, name, def)
		if err != nil {
			return err
		}
		id := unitID{ucode.String[0], uoid.Uint32}
		u := units[id]
		if u == nil {
			u = &readUnit{name: ucode.String + " " + uqname.String}
			units[id] = u
			added = append(added, u)
		}
		u.objs = append(u.objs, o)
		if xoid.Valid {
			u.indexes = append(u.indexes, xoid.Uint32)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, u := range added {
		slices.SortFunc(u.objs, compareObjects)
	}
	return nil
}
