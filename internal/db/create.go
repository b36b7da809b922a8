package db

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"visiona-backend/internal/migfile"
)

var migrationName = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)

// Create writes the next migration pair into dir (the repository's migrations/ folder) and returns
// the two paths. The existing files are validated first, so a broken set is fixed before it grows.
func Create(dir, name string) (upPath, downPath string, err error) {
	if !migrationName.MatchString(name) {
		suggestion := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(name), "_"), "_")
		return "", "", fmt.Errorf("%w: migration name %q: use lowercase letters, digits and _, e.g. %q", ErrInvalidArgument, name, suggestion)
	}
	src, err := migfile.LoadSource(os.DirFS(dir))
	if err != nil {
		return "", "", err
	}
	// The sum file is rewritten below: first make sure it does not paper over an edited migration.
	if _, statErr := os.Stat(filepath.Join(dir, migfile.SumFile)); statErr == nil {
		if err := migfile.VerifySums(src, os.DirFS(dir)); err != nil {
			return "", "", err
		}
	}
	base := fmt.Sprintf("%06d_%s", src.NextVersion(), name)
	upPath = filepath.Join(dir, base+".up.sql")
	downPath = filepath.Join(dir, base+".down.sql")
	up := fmt.Sprintf("-- %s: what this migration changes, and why.\n-- Runs in one transaction with its version row; put %q on the first line to opt out.\n", base, migfile.NoTransactionMarker)
	down := fmt.Sprintf("-- %s: reverses %s.up.sql exactly (mage testDB compares the schema before and after).\n", base, base)
	if err := writeNew(upPath, up); err != nil {
		return "", "", err
	}
	if err := writeNew(downPath, down); err != nil {
		return "", "", errors.Join(err, os.Remove(upPath))
	}
	// The new pair goes into migrations.sum at once, as its template; once it is written, `mage
	// migrateHash` records the real content (until then verify reports it as edited, on purpose).
	withNew, err := migfile.LoadUnfilled(os.DirFS(dir))
	if err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(dir, migfile.SumFile), []byte(withNew.Sums().String()), 0o644); err != nil {
		return "", "", fmt.Errorf("write %s: %w", migfile.SumFile, err)
	}
	return upPath, downPath, nil
}

// writeNew refuses to overwrite: two people creating the same version must notice.
func writeNew(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
