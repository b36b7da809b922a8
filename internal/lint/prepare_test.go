package lint

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrepareFile(t *testing.T) {
	needParser(t)
	wrapped := []byte("-- golang-migrate style\nBEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n")
	out, failure := PrepareFile("000001_a.up.sql", wrapped)
	if failure != nil {
		t.Fatalf("a whole-file wrapper: %+v", failure)
	}
	if len(out) != len(wrapped) || bytes.Count(out, []byte("\n")) != bytes.Count(wrapped, []byte("\n")) {
		t.Errorf("the prepared file must keep length and lines: %q", out)
	}
	if bytes.Contains(out, []byte("BEGIN")) || bytes.Contains(out, []byte("COMMIT")) || !bytes.Contains(out, []byte("CREATE TABLE a (id int);")) {
		t.Errorf("prepared = %q, want the wrapper blanked and the body kept", out)
	}

	plain := []byte("CREATE TABLE a (id int);\n")
	if out, failure := PrepareFile("000001_a.up.sql", plain); failure != nil || !bytes.Equal(out, plain) {
		t.Errorf("a file without transaction control must come back as is: %q, %+v", out, failure)
	}

	for _, body := range []string{
		"CREATE TABLE a (id int);\nCOMMIT;\nSELECT 1/0;\n",
		"CREATE TABLE a (id int);\nROLLBACK;\n",
		"BEGIN;\nCREATE TABLE a (id int);\nSAVEPOINT s;\nCOMMIT;\n",
	} {
		_, failure := PrepareFile("000002_b.up.sql", []byte(body))
		if failure == nil || failure.File != "000002_b.up.sql" || failure.Line < 2 || !strings.Contains(failure.Message, "transaction control") {
			t.Errorf("%q: failure = %+v, want transaction control named with its line", body, failure)
		}
	}
}
