package migfile

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SumFile sits beside the migrations and records their chained checksums, so an edited, removed,
// reordered or unhashed file is caught before it runs. golang-migrate has nothing like it.
const SumFile = "migrations.sum"

// ErrChecksum: the migrations do not match migrations.sum; see *ChecksumError.
var ErrChecksum = errors.New("migrations do not match " + SumFile)

// ChecksumError names the first file that differs from what migrations.sum recorded.
type ChecksumError struct {
	File    string // empty when the sum file itself is the problem
	Problem string // "edited", "removed", "added", "reordered", "missing sum file", ...
	Detail  string
}

func (e *ChecksumError) Error() string {
	fix := "if the change is intended, run `go run mage.go migrateHash` and commit " + SumFile
	if e.Problem == "edited" {
		fix = "an applied migration must not change: add a new migration instead; if this one was never deployed, run `go run mage.go migrateHash`"
	}
	where := "migrations/" + SumFile
	if e.File != "" {
		where = "migrations/" + e.File
	}
	s := fmt.Sprintf("%s: %s", where, e.Problem)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s + "; " + fix
}

func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// FileSum is one line of migrations.sum: a file and the hash of it and every file before it.
type FileSum struct {
	Name string
	Sum  string
}

// Sums are the chained checksums of a migration set. Each file's sum covers its name, its content
// and the sum before it, so a change anywhere shows at that file and every one after it; Total is
// the last, written at the top so a merge conflict in the file is a conflict on its first line.
type Sums struct {
	Total string
	Files []FileSum
}

func encodeSum(h []byte) string { return "h1:" + base64.StdEncoding.EncodeToString(h) }

// Sums computes the chain over the files in version order, up before down.
func (s *Source) Sums() Sums {
	var sums Sums
	prev := sha256.Sum256(nil)
	for _, m := range s.migrations {
		for _, f := range []struct {
			name string
			body []byte
		}{{m.UpFile, m.Up}, {m.DownFile, m.Down}} {
			h := sha256.New()
			h.Write(prev[:])
			h.Write([]byte(f.name))
			h.Write([]byte{0})
			h.Write(f.body)
			copy(prev[:], h.Sum(nil))
			sums.Files = append(sums.Files, FileSum{Name: f.name, Sum: encodeSum(prev[:])})
		}
	}
	sums.Total = encodeSum(prev[:])
	return sums
}

// Checksum is one migration's own hash (up and down files), recorded in the history table when it
// is applied, so `status` can tell when a file changed after it ran.
func (m Migration) Checksum() string {
	h := sha256.New()
	h.Write(m.Up)
	h.Write([]byte{0})
	h.Write(m.Down)
	return encodeSum(h.Sum(nil))
}

func (s Sums) String() string {
	var b strings.Builder
	b.WriteString(s.Total + "\n")
	for _, f := range s.Files {
		fmt.Fprintf(&b, "%s %s\n", f.Name, f.Sum)
	}
	return b.String()
}

// ParseSums reads a migrations.sum file.
func ParseSums(text string) (Sums, error) {
	var sums Sums
	sc := bufio.NewScanner(strings.NewReader(text))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case line == 1:
			if !strings.HasPrefix(l, "h1:") {
				return Sums{}, &ChecksumError{Problem: "malformed", Detail: "line 1 must be the total, h1:..."}
			}
			sums.Total = l
		case l == "":
		default:
			name, sum, ok := strings.Cut(l, " ")
			if !ok || !strings.HasPrefix(sum, "h1:") {
				return Sums{}, &ChecksumError{Problem: "malformed", Detail: fmt.Sprintf("line %d is not `<file> h1:<sum>`", line)}
			}
			sums.Files = append(sums.Files, FileSum{Name: name, Sum: sum})
		}
	}
	if sums.Total == "" {
		return Sums{}, &ChecksumError{Problem: "malformed", Detail: "empty"}
	}
	return sums, nil
}

// VerifySums compares the source with the sums recorded in fsys's migrations.sum, and names the
// first file that differs. A set with no sum file at all fails with Problem "missing sum file".
func VerifySums(src *Source, fsys fs.FS) error {
	data, err := fs.ReadFile(fsys, SumFile)
	if errors.Is(err, fs.ErrNotExist) {
		return &ChecksumError{Problem: "missing sum file", Detail: "no checksums recorded"}
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", SumFile, err)
	}
	recorded, err := ParseSums(string(data))
	if err != nil {
		return err
	}
	return compareSums(recorded, src.Sums())
}

func compareSums(recorded, actual Sums) error {
	if recorded.Total == actual.Total && len(recorded.Files) == len(actual.Files) {
		return nil
	}
	inRecord := map[string]bool{}
	for _, f := range recorded.Files {
		inRecord[f.Name] = true
	}
	onDisk := map[string]bool{}
	for _, f := range actual.Files {
		onDisk[f.Name] = true
	}
	for i := 0; i < max(len(recorded.Files), len(actual.Files)); i++ {
		switch {
		case i >= len(actual.Files):
			return &ChecksumError{File: recorded.Files[i].Name, Problem: "removed", Detail: "recorded in " + SumFile + " but not in the folder"}
		case i >= len(recorded.Files):
			return &ChecksumError{File: actual.Files[i].Name, Problem: "added", Detail: "not in " + SumFile}
		}
		rec, act := recorded.Files[i], actual.Files[i]
		switch {
		case rec.Name != act.Name && !onDisk[rec.Name]:
			return &ChecksumError{File: rec.Name, Problem: "removed", Detail: "recorded in " + SumFile + " but not in the folder"}
		case rec.Name != act.Name && !inRecord[act.Name]:
			return &ChecksumError{File: act.Name, Problem: "added", Detail: "not in " + SumFile}
		case rec.Name != act.Name:
			return &ChecksumError{File: act.Name, Problem: "reordered", Detail: fmt.Sprintf("%s records %s at this place", SumFile, rec.Name)}
		case rec.Sum != act.Sum:
			return &ChecksumError{File: act.Name, Problem: "edited", Detail: "its content differs from when " + SumFile + " was written"}
		}
	}
	return &ChecksumError{Problem: "stale total", Detail: "the files match but the total on line 1 does not"}
}

// WriteSums (re)writes dir's migrations.sum from the files in dir.
func WriteSums(dir string) (Sums, error) {
	src, err := LoadSource(os.DirFS(dir))
	if err != nil {
		return Sums{}, err
	}
	sums := src.Sums()
	if err := os.WriteFile(filepath.Join(dir, SumFile), []byte(sums.String()), 0o644); err != nil {
		return Sums{}, fmt.Errorf("write %s: %w", SumFile, err)
	}
	return sums, nil
}
