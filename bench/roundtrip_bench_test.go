package bench

import (
	"context"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"

	"visiona-backend/bench/history"
	"visiona-backend/internal/db"
	"visiona-backend/internal/schema"
)

// The yardsticks: the proof for 200 generated migrations, and for a realistic history of 340,
// must each stay within 3x a plain up-all + down-all of the same set.
const (
	roundTripSize = 200
	realisticSize = 340
)

// BenchmarkRoundTrip times, on the same generated history, what mage testDB does (schema.RoundTrip:
// up, down and up again, a snapshot after every step) against a plain up-all + down-all, on two
// histories: historyFS's simple one and bench/history's realistic one. Compare the two modes with
// benchstat -col /mode.
func BenchmarkRoundTrip(b *testing.B) {
	srv := connectServer(b)
	for _, h := range []struct {
		name string
		fsys fs.FS
	}{
		{fmt.Sprintf("history=simple/n=%d", roundTripSize), historyFS(roundTripSize)},
		{fmt.Sprintf("history=realistic/n=%d", realisticSize), history.FS(history.Realistic(realisticSize))},
	} {
		benchRoundTrip(b, srv, h.name, h.fsys)
	}
}

func benchRoundTrip(b *testing.B, srv *server, name string, fsys fs.FS) {
	modes := []struct {
		name string
		run  func(context.Context, target) error
	}{
		{"plain-up-down", func(ctx context.Context, t target) error {
			m, err := db.New(t.cfg, fsys)
			if err != nil {
				return err
			}
			if _, err := m.Up(ctx); err != nil {
				return err
			}
			_, err = m.DownAll(ctx)
			return err
		}},
		{"roundtrip", func(ctx context.Context, t target) error {
			_, err := schema.RoundTrip(ctx, t.cfg, fsys)
			return err
		}},
	}
	for _, mode := range modes {
		b.Run(name+"/mode="+mode.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				t := srv.createDatabase(b)
				b.StartTimer()
				if err := mode.run(b.Context(), t); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				srv.dropDatabase(b, t)
				b.StartTimer()
			}
		})
	}
}

// historyFS grows a schema the way a real history does: tables, then columns, constraints,
// indexes and comments added to them by later migrations.
func historyFS(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	add := func(v int, up, down string) {
		fsys[fmt.Sprintf("%06d_step.up.sql", v)] = &fstest.MapFile{Data: []byte(up)}
		fsys[fmt.Sprintf("%06d_step.down.sql", v)] = &fstest.MapFile{Data: []byte(down)}
	}
	for v := 1; v <= n; v++ {
		t := fmt.Sprintf("t_%03d", (v+3)/4)
		switch v % 4 {
		case 1:
			add(v, fmt.Sprintf("CREATE TABLE %s (id bigint PRIMARY KEY, name text NOT NULL);\n", t), fmt.Sprintf("DROP TABLE %s;\n", t))
		case 2:
			add(v, fmt.Sprintf("ALTER TABLE %[1]s ADD COLUMN state text NOT NULL DEFAULT 'new' CONSTRAINT %[1]s_state_check CHECK (state <> '');\n", t),
				fmt.Sprintf("ALTER TABLE %s DROP COLUMN state;\n", t))
		case 3:
			add(v, fmt.Sprintf("CREATE INDEX %[1]s_name_idx ON %[1]s (lower(name)) WHERE state <> 'gone';\n", t), fmt.Sprintf("DROP INDEX %s_name_idx;\n", t))
		default:
			add(v, fmt.Sprintf("COMMENT ON TABLE %s IS 'step %d';\n", t, v), fmt.Sprintf("COMMENT ON TABLE %s IS NULL;\n", t))
		}
	}
	return fsys
}
