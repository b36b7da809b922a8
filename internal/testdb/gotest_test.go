package testdb

import (
	"strings"
	"testing"
)

func TestRelayTestJSON(t *testing.T) {
	stream := strings.Join([]string{
		`{"Action":"start","Package":"p"}`,
		`{"Action":"run","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestA"}`,
		`{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestB"}`,
		`{"Action":"skip","Package":"p","Test":"TestC"}`,
		`{"Action":"output","Package":"p","Output":"PASS\n"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"ImportPath":"q","Action":"build-output","Output":"q/x.go:3:1: syntax error\n"}`,
		`# p [build failed]`,
	}, "\n")
	var out strings.Builder
	c, err := relayTestJSON(strings.NewReader(stream), &out)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Counts{Passed: 1, Failed: 1, Skipped: 1}) {
		t.Errorf("counts = %+v", c)
	}
	if want := "    b_test.go:9: boom\nFAIL\tp\t0.1s\nq/x.go:3:1: syntax error\n# p [build failed]\n"; out.String() != want {
		t.Errorf("relayed %q, want %q", out.String(), want)
	}
}
