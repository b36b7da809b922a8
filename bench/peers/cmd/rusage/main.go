// Command rusage runs one program and writes its wall time, CPU time and peak resident set to a
// file, for the peer benchmark:
//
//	rusage RESULT.json PROGRAM [ARGS...]
//
// It exists because Linux counts the memory of the process that starts a program toward that
// program's peak RSS: a child's ru_maxrss starts at its parent's high-water mark (at exec the
// kernel folds the old address space's peak into the new program's), so a harness holding 20 MB
// would make every tool under 20 MB look like 20 MB. This launcher is small (a few MB), so every
// tool's own peak shows. The program inherits stdin, stdout, stderr and the environment; rusage
// exits with its exit code.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Result is what the file holds; bench/peers reads it.
type Result struct {
	WallNS   int64 `json:"wall_ns"`
	CPUNS    int64 `json:"cpu_ns"`
	MaxRSSKB int64 `json:"max_rss_kb"`
	Exit     int   `json:"exit"`
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: rusage RESULT.json PROGRAM [ARGS...]")
		os.Exit(2)
	}
	// The child is killed if this thread dies (Pdeathsig is per thread): a harness that gives up
	// on us leaves no tool running.
	runtime.LockOSThread()
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
		os.Exit(127)
	}
	ps := cmd.ProcessState
	r := Result{WallNS: wall.Nanoseconds(), CPUNS: (ps.UserTime() + ps.SystemTime()).Nanoseconds(), Exit: ps.ExitCode()}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.Exit = 128 + int(ws.Signal())
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSSKB = ru.Maxrss // kilobytes on Linux
	}
	data, _ := json.Marshal(r)
	if err := os.WriteFile(os.Args[1], data, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "rusage: %v\n", err)
		os.Exit(127)
	}
	os.Exit(r.Exit)
}
