package store

import (
	"testing"
)

func openMemory(t *testing.T, opts ...Option) *Stores {
	t.Helper()
	s, err := NewMemory(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMemoryContract runs the shared contract against the memory backend (no server needed).
func TestMemoryContract(t *testing.T) { runContract(t, openMemory) }
