package schema

import (
	"fmt"
	"slices"
	"strings"
)

// The tracker's state: the schema by unit, and how a step's reads change it. Pure: no database.

// unitID is a unit as the catalogs know it: its code (see queries.go) and OID. OIDs change when
// an object is dropped and created again, so states are compared by unit name, not by unitID.
type unitID struct {
	code byte
	oid  uint32
}

// change is a unit before and after a step; nil is absent (a unit that exists has at least the
// object it is named after).
type change struct {
	before, after []Object
}

// delta is what one step changed, by unit name: only units whose objects differ.
type delta map[string]change

// state is a schema by unit.
type state struct {
	units map[string][]Object // unit name ("<code> <qualified name>") to its objects, sorted
	names map[unitID]string   // the units in units, by ID
	// index maps an index's OID to its table's unit, for a DROP INDEX, which the log reports
	// without its table. Entries are never removed: a stale one only makes a step read a unit
	// it did not need to.
	index map[uint32]unitID
	// identity maps a table's unit name to its identity sequences: the sequence's unit and the
	// column it is the identity of. ALTER TABLE ... DROP IDENTITY drops the sequence without a
	// sql_drop event, so the log never names it; the tracker finds it gone from its column
	// (dropLostIdentities). Entries are checked when used, never removed otherwise.
	identity map[string][]identitySeq
}

// identitySeq is an identity sequence of a table.
type identitySeq struct {
	id     unitID
	name   string // the sequence's unit name
	column string // the column's object name
}

func newState() *state {
	return &state{units: map[string][]Object{}, names: map[unitID]string{}, index: map[uint32]unitID{}, identity: map[string][]identitySeq{}}
}

// snapshot is the state as a Snapshot.
func (s *state) snapshot() *Snapshot {
	n := 0
	for _, objs := range s.units {
		n += len(objs)
	}
	out := &Snapshot{Objects: make([]Object, 0, n)}
	for _, objs := range s.units {
		out.Objects = append(out.Objects, objs...)
	}
	out.sort()
	return out
}

// readUnit is one unit's rows.
type readUnit struct {
	name    string
	objs    []Object
	indexes []uint32
}

func (s *state) put(id unitID, u *readUnit) {
	s.units[u.name] = u.objs
	s.names[id] = u.name
	for _, ix := range u.indexes {
		s.index[ix] = id
	}
	for _, o := range u.objs {
		if o.Kind != KindSequence {
			continue
		}
		if _, col, ok := strings.Cut(o.Def, " IDENTITY OF "); ok {
			if table, ok := columnTable(col); ok {
				s.identity["r "+table] = append(s.identity["r "+table], identitySeq{id: id, name: u.name, column: col})
			}
		}
	}
}

// dropLostIdentities removes from the state, and adds to d, the identity sequences of the tables
// d changed whose column is no longer an identity column: DROP IDENTITY dropped them unlogged.
func (s *state) dropLostIdentities(d delta) {
	for table, c := range d {
		seqs := s.identity[table]
		if len(seqs) == 0 || c.after == nil {
			continue // no identity, or the table is gone: its sequences' drop was logged
		}
		var keep []identitySeq
		for _, seq := range seqs {
			objs, ok := s.units[seq.name]
			if !ok || s.names[seq.id] != seq.name || !slices.ContainsFunc(objs, func(o Object) bool {
				return o.Kind == KindSequence && strings.HasSuffix(o.Def, " IDENTITY OF "+seq.column)
			}) {
				continue // a stale entry
			}
			if slices.ContainsFunc(c.after, func(o Object) bool {
				return o.Kind == KindColumn && o.Name == seq.column && strings.Contains(o.Def, " AS IDENTITY")
			}) {
				keep = append(keep, seq)
				continue
			}
			prev, seen := d[seq.name]
			if !seen {
				prev.before = objs
			}
			d[seq.name] = change{before: prev.before}
			delete(s.units, seq.name)
			delete(s.names, seq.id)
		}
		s.identity[table] = keep
	}
}

// apply replaces the touched units with what was read of them (nothing, for a unit that is gone
// or now out of scope) and returns what changed. It changes nothing and returns false when a
// unit read would take the name of a unit that was not touched: the state and the database
// disagree.
func (s *state) apply(touched map[unitID]bool, read map[unitID]*readUnit) (delta, bool) {
	gone := map[string]bool{}
	for id := range touched {
		if name, ok := s.names[id]; ok {
			gone[name] = true
		}
	}
	names := map[string]bool{}
	for _, u := range read {
		if _, taken := s.units[u.name]; (taken && !gone[u.name]) || names[u.name] {
			return nil, false
		}
		names[u.name] = true
	}
	before := map[string][]Object{}
	for id := range touched {
		if name, ok := s.names[id]; ok {
			before[name] = s.units[name]
			delete(s.units, name)
			delete(s.names, id)
		}
	}
	for id, u := range read {
		if _, ok := before[u.name]; !ok {
			before[u.name] = nil
		}
		s.put(id, u)
	}
	d := delta{}
	for name, objs := range before {
		if after := s.units[name]; !slices.Equal(objs, after) {
			d[name] = change{before: objs, after: after}
		}
	}
	return d, true
}

// columnTable is the table part of a column's object name (schema.table.column, each part as
// quote_ident prints it): everything before the last dot outside double quotes.
func columnTable(col string) (string, bool) {
	quoted, last := false, -1
	for i := 0; i < len(col); i++ {
		switch col[i] {
		case '"':
			quoted = !quoted // a doubled quote inside a quoted name toggles twice
		case '.':
			if !quoted {
				last = i
			}
		}
	}
	return col[:max(last, 0)], last > 0
}

// stateFrom is the state of a full read. Two units with one name, or an object in two units, make
// the read invalid.
func stateFrom(read map[unitID]*readUnit) (*state, error) {
	st := newState()
	for id, u := range read {
		if _, taken := st.units[u.name]; taken {
			return nil, fmt.Errorf("%w: two units are both named %s", ErrInvalidSnapshot, u.name)
		}
		st.put(id, u)
	}
	if err := st.snapshot().checkUnique(); err != nil {
		return nil, err
	}
	return st, nil
}

// changes is what differs from s to next, unit by unit.
func (s *state) changes(next *state) delta {
	d := delta{}
	for name, objs := range s.units {
		if after := next.units[name]; !slices.Equal(objs, after) {
			d[name] = change{before: objs, after: after}
		}
	}
	for name, objs := range next.units {
		if _, ok := s.units[name]; !ok {
			d[name] = change{after: objs}
		}
	}
	return d
}

// toRead is what a step must read again, given the log's rows: the units the log names (touched),
// and of those, by code, the OIDs that walkStepSQL does not read itself: every unit but a relation,
// and the table of a dropped index that nothing else touched. A dropped unit the state does not
// know is an index, or something created and dropped within the step.
func (s *state) toRead(lr *logRead) (touched map[unitID]bool, more map[byte][]uint32) {
	touched, more = map[unitID]bool{}, map[byte][]uint32{}
	for _, id := range lr.units {
		touched[id] = true
		if id.code != 'r' {
			more[id.code] = append(more[id.code], id.oid)
		}
	}
	var indexes []uint32
	for _, d := range lr.dropped {
		if _, ok := s.names[d]; ok {
			touched[d] = true
		} else if d.code == 'r' {
			indexes = append(indexes, d.oid)
		}
	}
	for _, oid := range indexes {
		if u, ok := s.index[oid]; ok && !touched[u] {
			// A dropped index whose table nothing else touched: read the table again.
			touched[u] = true
			more['r'] = append(more['r'], u.oid)
		}
	}
	return touched, more
}
