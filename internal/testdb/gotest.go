package testdb

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Counts is how many tests passed, failed and were skipped in a `go test -json` stream.
type Counts struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

func (c Counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
}

// testEvent is one line of `go test -json` (cmd/test2json).
type testEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// relayTestJSON reads `go test -json` and writes what plain `go test` would show: each package's
// result line, and the output of failing tests only; it counts every test on the way, so the
// summary can end with a closing line CI can read.
func relayTestJSON(r io.Reader, w io.Writer) (Counts, error) {
	var c Counts
	pending := map[string][]string{} // package/test -> output, held until the test's verdict
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		var ev testEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Fprintln(w, sc.Text()) // build errors and the like come through as plain text
			continue
		}
		key := ev.Package + "/" + ev.Test
		switch {
		case ev.Action == "build-output": // compiler errors (Go 1.24+ reports them as events)
			io.WriteString(w, ev.Output)
		case ev.Test == "" && ev.Action == "output":
			if !isVerboseNoise(ev.Output) {
				io.WriteString(w, ev.Output)
			}
		case ev.Action == "output":
			pending[key] = append(pending[key], ev.Output)
		case ev.Test != "" && ev.Action == "pass":
			c.Passed++
			delete(pending, key)
		case ev.Test != "" && ev.Action == "skip":
			c.Skipped++
			delete(pending, key)
		case ev.Test != "" && ev.Action == "fail":
			c.Failed++
			io.WriteString(w, strings.Join(pending[key], ""))
			delete(pending, key)
		}
	}
	return c, sc.Err()
}

// isVerboseNoise drops the lines -json's implied -v adds at package level.
func isVerboseNoise(line string) bool {
	return line == "PASS\n" || line == "FAIL\n" || strings.HasPrefix(line, "=== ")
}
