package lint

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"visiona-backend/internal/migfile"
)

// ConfigFile sits beside the migrations and holds the lint's settings for that history.
const ConfigFile = "lint.conf"

// Config is what ConfigFile says.
type Config struct {
	// Baseline: migrations up to this version predate the lint (applied, unchangeable) and are
	// read for the schema they build but not reported. 0: none.
	Baseline uint
}

// ReadConfig reads ConfigFile from fsys: `key = value` lines, blank lines and # comments. A
// missing file is the zero Config. A malformed one is a *migfile.SourceError naming the line, the
// error every invalid file beside the migrations gives.
func ReadConfig(fsys fs.FS) (Config, error) {
	data, err := fs.ReadFile(fsys, ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, &migfile.SourceError{File: ConfigFile, Reason: fmt.Sprintf("cannot read: %v", err)}
	}
	var cfg Config
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case !ok:
			return Config{}, &migfile.SourceError{File: ConfigFile, Reason: fmt.Sprintf("line %d is not `key = value`: %q", n, line)}
		case key == "baseline":
			v, err := strconv.ParseUint(value, 10, 63)
			if err != nil {
				return Config{}, &migfile.SourceError{File: ConfigFile, Reason: fmt.Sprintf("line %d: baseline %q is not a migration version (0 or more)", n, value)}
			}
			cfg.Baseline = uint(v)
		default:
			return Config{}, &migfile.SourceError{File: ConfigFile, Reason: fmt.Sprintf("line %d: unknown setting %q; the one setting is baseline", n, key)}
		}
	}
	return cfg, nil
}
