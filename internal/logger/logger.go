// Package logger builds the slog.Logger every door (CLI, mage, server) uses, so log lines look
// the same whichever way the tool was started.
package logger

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Format selects slog's handler.
type Format string

// Formats: text for people, json for log collectors.
const (
	Text Format = "text"
	JSON Format = "json"
)

// New returns a logger writing to w at the named level ("debug", "info", "warn", "error").
func New(w io.Writer, level string, format Format) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case Text, "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case JSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}

// Discard drops everything; for library callers who want results only.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
