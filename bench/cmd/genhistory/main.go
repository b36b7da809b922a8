// Command genhistory writes a generated migration history to a folder, in golang-migrate's
// format, for trying the round-trip proof on it:
//
//	go run ./bench/cmd/genhistory -n 340 /tmp/history
//	go run ./cmd/migrate -path /tmp/history prove
//
// The folder is created if missing and must not hold .sql files already.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"visiona-backend/bench/history"
)

func main() {
	n := flag.Int("n", 340, "how many migrations")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: genhistory [-n N] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *n < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := write(flag.Arg(0), *n); err != nil {
		fmt.Fprintln(os.Stderr, "genhistory:", err)
		os.Exit(1)
	}
}

func write(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if old, _ := filepath.Glob(filepath.Join(dir, "*.sql")); len(old) > 0 {
		return fmt.Errorf("%s already holds migrations (%s): give an empty or new folder", dir, filepath.Base(old[0]))
	}
	for name, f := range history.FS(history.Realistic(n)) {
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%d migrations in %s\n", n, dir)
	return nil
}
