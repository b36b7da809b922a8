package cli_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"visiona-backend/internal/cli"
)

// A CodedError maps to its own code however deeply it is wrapped; an interrupt still wins.
func TestExitCodeOfCodedError(t *testing.T) {
	suites := &cli.CodedError{Msg: "dbtest suites failed", Code: cli.ExitSuites}
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		{"bare", suites, cli.ExitSuites},
		{"wrapped", fmt.Errorf("run: %w", suites), cli.ExitSuites},
		{"joined with an interrupt", errors.Join(suites, context.Canceled), cli.ExitInterrupted},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := cli.ExitCode(c.err); got != c.want {
				t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
}
