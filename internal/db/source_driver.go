package db

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"sync"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/source"

	"visiona-backend/internal/migfile"
)

// sourceDriver serves golang-migrate's engine from a validated migfile.Source: the files were read and
// checked once by migfile.LoadSource, so the engine gets the same bytes without parsing names or reading
// files again (iofs would do both, per migration).
type sourceDriver struct{ src *migfile.Source }

var _ source.Driver = sourceDriver{}

// notExist is what golang-migrate expects at either end of the history.
func notExist(op string) error { return &fs.PathError{Op: op, Path: "migrations", Err: fs.ErrNotExist} }

func (s sourceDriver) Open(string) (source.Driver, error) {
	return nil, errors.New("the visiona source is built by internal/db, not from a URL")
}

func (s sourceDriver) Close() error { return nil }

func (s sourceDriver) First() (uint, error) {
	if v := s.src.Next(0); v != 0 {
		return v, nil
	}
	return 0, notExist("first")
}

func (s sourceDriver) Prev(version uint) (uint, error) {
	if _, ok := s.src.Find(version); ok {
		if v := s.src.Previous(version); v != 0 {
			return v, nil
		}
	}
	return 0, notExist("prev")
}

func (s sourceDriver) Next(version uint) (uint, error) {
	if _, ok := s.src.Find(version); ok {
		if v := s.src.Next(version); v != 0 {
			return v, nil
		}
	}
	return 0, notExist("next")
}

func (s sourceDriver) ReadUp(version uint) (io.ReadCloser, string, error) {
	m, ok := s.src.Find(version)
	if !ok {
		return nil, "", notExist("read up")
	}
	return io.NopCloser(bytes.NewReader(m.Up)), m.Name, nil
}

func (s sourceDriver) ReadDown(version uint) (io.ReadCloser, string, error) {
	m, ok := s.src.Find(version)
	if !ok {
		return nil, "", notExist("read down")
	}
	return io.NopCloser(bytes.NewReader(m.Down)), m.Name, nil
}

// engineBufferSize is what golang-migrate's read-ahead needs here: the bodies are already in
// memory, so a larger buffer only copies them sooner.
const engineBufferSize = 4096

// engineBuffers shrinks golang-migrate's per-migration read-ahead buffer (100 KB by default,
// allocated for every migration run: 100 MB of garbage over 1000 migrations). The size is a
// package variable of golang-migrate's, with no per-instance setting, so it is written once per
// process, before the first engine is built, whichever door the process came in by; the Once keeps
// concurrent Migrators in one process from racing on it.
var engineBuffers sync.Once

func sizeEngineBuffers() { engineBuffers.Do(func() { migrate.DefaultBufferSize = engineBufferSize }) }
