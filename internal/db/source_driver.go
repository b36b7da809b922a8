package db

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"io/fs"
	"slices"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/source"
)

// sourceDriver serves golang-migrate's engine from a validated Source: the files were read and
// checked once by LoadSource, so the engine gets the same bytes without parsing names or reading
// files again (iofs would do both, per migration).
type sourceDriver struct{ src *Source }

var _ source.Driver = sourceDriver{}

// notExist is what golang-migrate expects at either end of the history.
func notExist(op string) error { return &fs.PathError{Op: op, Path: "migrations", Err: fs.ErrNotExist} }

func (s sourceDriver) Open(string) (source.Driver, error) {
	return nil, errors.New("the visiona source is built by internal/db, not from a URL")
}

func (s sourceDriver) Close() error { return nil }

func (s sourceDriver) First() (uint, error) {
	if len(s.src.migrations) == 0 {
		return 0, notExist("first")
	}
	return s.src.migrations[0].Version, nil
}

func (s sourceDriver) Prev(version uint) (uint, error) {
	i, ok := s.index(version)
	if !ok || i == 0 {
		return 0, notExist("prev")
	}
	return s.src.migrations[i-1].Version, nil
}

func (s sourceDriver) Next(version uint) (uint, error) {
	i, ok := s.index(version)
	if !ok || i == len(s.src.migrations)-1 {
		return 0, notExist("next")
	}
	return s.src.migrations[i+1].Version, nil
}

func (s sourceDriver) ReadUp(version uint) (io.ReadCloser, string, error) {
	i, ok := s.index(version)
	if !ok {
		return nil, "", notExist("read up")
	}
	m := s.src.migrations[i]
	return io.NopCloser(bytes.NewReader(m.Up)), m.Name, nil
}

func (s sourceDriver) ReadDown(version uint) (io.ReadCloser, string, error) {
	i, ok := s.index(version)
	if !ok {
		return nil, "", notExist("read down")
	}
	m := s.src.migrations[i]
	return io.NopCloser(bytes.NewReader(m.Down)), m.Name, nil
}

func (s sourceDriver) index(version uint) (int, bool) {
	return slices.BinarySearchFunc(s.src.migrations, version, func(m Migration, v uint) int { return cmp.Compare(m.Version, v) })
}

// engineBufferSize is what golang-migrate's read-ahead needs here: the bodies are already in
// memory, so a larger buffer only copies them sooner.
const engineBufferSize = 4096

// SizeEngineBuffers shrinks golang-migrate's per-migration read-ahead buffer, a package variable
// (100 KB by default, allocated for every migration run: 100 MB of garbage over 1000 migrations,
// 3-8 MB more peak memory measured on the benchmark). Call it once, from a process's main, before
// any migration runs: it writes golang-migrate's global.
func SizeEngineBuffers() { migrate.DefaultBufferSize = engineBufferSize }
