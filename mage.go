//go:build ignore

// Zero-install bootstrap: `go run mage.go <target>` runs the magefile with nothing but Go.
package main

import (
	"os"

	"github.com/magefile/mage/mage"
)

func main() { os.Exit(mage.Main()) }
