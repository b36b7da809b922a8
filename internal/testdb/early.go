package testdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The suites' `go test` spends most of its time building and linking test binaries, which needs
// no server. With Options.Self set, TestDB starts it before the servers, runs every test binary
// through Self's ExecAfter mode (go test -exec), and releases them by writing the servers'
// environment to a file once the proof has passed; the build then overlaps the containers' start
// and the round trip. When the proof fails, the binaries are told to abort and their output is
// dropped: the suites did not run.

// ExecAfterArg is the first argument that puts a program embedding TestDB (cmd/testdb) in
// ExecAfter mode.
const ExecAfterArg = "-exec-after"

// abortLine, as the environment file's first line, tells waiting test binaries not to run.
const abortLine = "abort"

// execAfterLimit bounds a wait whose TestDB went away without a word.
const execAfterLimit = 30 * time.Minute

// ExecAfter is the -exec program of the early `go test`: args are the environment file, then the
// test binary and its arguments. It waits until the file appears, then runs the binary with the
// file's KEY=VALUE lines added to its environment (it replaces itself, so go test sees the
// binary's output and exit status). It returns only on failure, with an exit code.
func ExecAfter(args []string) int {
	if len(args) < 2 {
		fmt.Fprintf(os.Stderr, "testdb: %s needs an environment file and a program\n", ExecAfterArg)
		return 2
	}
	envFile, argv := args[0], args[1:]
	deadline := time.Now().Add(execAfterLimit)
	for {
		data, err := os.ReadFile(envFile)
		switch {
		case err == nil:
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			if lines[0] == abortLine {
				return 1
			}
			err = syscall.Exec(argv[0], argv, append(os.Environ(), lines...))
			fmt.Fprintf(os.Stderr, "testdb: run %s: %v\n", argv[0], err)
			return 1
		case !errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(os.Stderr, "testdb: %v\n", err)
			return 1
		}
		// The directory goes with TestDB's cleanup: nobody will write the file any more.
		if _, err := os.Stat(filepath.Dir(envFile)); err != nil || time.Now().After(deadline) {
			return 1
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// release writes the environment file (atomically: the waiters read it whole or not at all).
func release(envFile string, lines []string) error {
	tmp := envFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, envFile)
}

// gate holds what is written to it until opened (then writes through) or dropped.
type gate struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	w       io.Writer // nil while closed
	dropped bool
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.dropped:
		return len(p), nil
	case g.w != nil:
		return g.w.Write(p)
	}
	return g.buf.Write(p)
}

func (g *gate) open(w io.Writer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.w = w
	_, _ = g.buf.WriteTo(w)
}

func (g *gate) drop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropped = true
	g.buf.Reset()
}
