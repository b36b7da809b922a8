package db

import "testing"

func TestDurability(t *testing.T) {
	var w durability
	w.reset(3)
	w.started("0/100", "0/100") // migration 4 starts
	w.committed(4)
	w.started("0/200", "0/150") // migration 5: 4's commit ends before 0/200, the WAL is on disk to 0/150
	if w.version != 3 {
		t.Fatalf("durable %d, want 3", w.version)
	}
	w.committed(5)
	w.started("0/300", "0/200") // 4 is on disk now, 5 is not
	if w.version != 4 {
		t.Fatalf("durable %d, want 4", w.version)
	}
	w.committed(6)
	w.started("1/0", "1/0")
	if w.version != 6 {
		t.Fatalf("durable %d, want 6", w.version)
	}
	if v, ok := parseLSN("16/B374D848"); !ok || v != 0x16B374D848 {
		t.Fatalf("parseLSN = %x, %v", v, ok)
	}
	if _, ok := parseLSN("nonsense"); ok {
		t.Fatal("parseLSN accepted nonsense")
	}
}
