package db

import (
	"strconv"
	"strings"
)

// Migrations commit with synchronous_commit off (see queue): the server acknowledges a COMMIT
// before its WAL is on disk, so after a server crash or an immediate restart the last few
// acknowledged migrations can be gone. A run cut off by the server must not name those as
// committed. Each migration's first statement reads two WAL positions: the insert position, past
// the commit record of the migration before it, and the flush position, up to which the WAL is
// on disk. A migration is known durable once a later flush position reaches the insert position
// read after its COMMIT. This costs two function calls per migration and no round trip.
type durability struct {
	version  int       // the last version known durable
	marks    []walMark // committed migrations not yet known durable, oldest first
	awaiting *int      // the last committed migration, whose end the next insert position gives
}

type walMark struct {
	version int
	end     uint64 // an insert position past its commit record
}

// walColumns are read in each migration's first select, before its start marker.
const (
	walInsertColumn = "visiona_wal_insert"
	walFlushColumn  = "visiona_wal_flush"
	walColumns      = "pg_current_wal_insert_lsn()::text AS " + walInsertColumn + ", pg_current_wal_flush_lsn()::text AS " + walFlushColumn + ", "
)

// startedRow notes the WAL positions in a start marker's row, if it has them.
func (w *durability) startedRow(fields []string, row [][]byte) {
	var insert, flushed string
	for i, f := range fields {
		switch f {
		case walInsertColumn:
			insert = string(row[i])
		case walFlushColumn:
			flushed = string(row[i])
		}
	}
	w.started(insert, flushed)
}

// reset: every commit so far is known durable at version (a synchronous commit, a WAL flush, or
// the version found at the start).
func (w *durability) reset(version int) {
	*w = durability{version: version}
}

// started notes the WAL positions read at a migration's start.
func (w *durability) started(insert, flushed string) {
	ins, ok1 := parseLSN(insert)
	fl, ok2 := parseLSN(flushed)
	if !ok1 || !ok2 {
		return
	}
	if w.awaiting != nil {
		w.marks = append(w.marks, walMark{version: *w.awaiting, end: ins})
		w.awaiting = nil
	}
	for len(w.marks) > 0 && w.marks[0].end <= fl {
		w.version = w.marks[0].version
		w.marks = w.marks[1:]
	}
}

// committed notes a migration the server acknowledged.
func (w *durability) committed(version int) {
	w.awaiting = &version
}

// parseLSN reads a pg_lsn's text, "16/B374D848".
func parseLSN(s string) (uint64, bool) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, false
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return h<<32 | l, true
}
