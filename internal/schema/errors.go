package schema

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. The typed errors below unwrap to one of them, so callers can branch with
// errors.Is and still get the details with errors.As.
var (
	// ErrInvalidOption: an option or argument cannot be used (Take, RoundTrip).
	ErrInvalidOption = errors.New("invalid option")
	// ErrInvalidSnapshot: text is not a snapshot as String writes it (Parse), or a snapshot
	// names one object twice (Take, Parse).
	ErrInvalidSnapshot = errors.New("invalid snapshot")
	// ErrAlreadyMigrated: RoundTrip was given a database with migrations applied; it needs one
	// at version 0 to prove every down.
	ErrAlreadyMigrated = errors.New("database already has migrations applied")
	// ErrNotReversible: a down does not restore the schema its up started from, or an up run
	// again builds a different schema; see *RoundTripError (RoundTrip).
	ErrNotReversible = errors.New("migrations do not round-trip")
)

// Phase is a walk of RoundTrip.
type Phase string

// The three walks of RoundTrip, in order.
const (
	PhaseUp      Phase = "up"      // every migration up, recording a snapshot after each
	PhaseDown    Phase = "down"    // every migration down, comparing with the recorded snapshots
	PhaseReapply Phase = "reapply" // every migration up again, comparing again
)

// RoundTripError names the migration that breaks the round trip, and what differs.
//
// In PhaseDown, Version's down file did not bring the schema back to what it was before its up
// file ran: Changes is Diff(before its up, after its down), so "left behind" is what the down
// forgot to remove and "missing" what it removed without the up having added it. In
// PhaseReapply, every down matched but running Version's up again built a different schema:
// Changes is Diff(first time, second time).
type RoundTripError struct {
	Phase    Phase    `json:"phase"`
	Version  uint     `json:"version"`
	Name     string   `json:"name"`
	UpFile   string   `json:"up_file"`
	DownFile string   `json:"down_file"`
	Changes  []Change `json:"changes"`
}

// Error names the files on its first line, then gives the whole diff (FormatDiff): whoever
// prints the error shows what to fix, as mage testDB's stale-snapshot error does.
func (e *RoundTripError) Error() string {
	var b strings.Builder
	if e.Phase == PhaseReapply {
		fmt.Fprintf(&b, "%s, applied again after every down, builds a different schema", e.UpFile)
	} else {
		fmt.Fprintf(&b, "%s does not reverse %s", e.DownFile, e.UpFile)
	}
	if len(e.Changes) == 1 {
		b.WriteString(" (1 object differs):\n")
	} else {
		fmt.Fprintf(&b, " (%d objects differ):\n", len(e.Changes))
	}
	b.WriteString(strings.TrimSuffix(FormatDiff(e.Changes), "\n"))
	return b.String()
}

func (e *RoundTripError) Unwrap() error { return ErrNotReversible }

// Diff renders Changes for people (FormatDiff), without Error's first line.
func (e *RoundTripError) Diff() string { return FormatDiff(e.Changes) }
