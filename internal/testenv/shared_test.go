package testenv

import (
	"context"
	"slices"
	"strings"
	"testing"

	"visiona-backend/internal/config"
)

// ConnURL carries every setting of the configuration, and a password that would break a
// hand-built URL survives the round trip.
func TestConnURLRoundTrips(t *testing.T) {
	in := config.DB{Host: "127.0.0.1", Port: 5433, User: "u", Password: "p@ss/w:rd?#", Name: "d", SSLMode: "disable", AppName: "app"}
	out, err := config.DBFromURL(ConnURL(in))
	if err != nil {
		t.Fatal(err)
	}
	if out.Host != in.Host || out.Port != in.Port || out.User != in.User || out.Password != in.Password || out.Name != in.Name || out.SSLMode != in.SSLMode {
		t.Errorf("ConnURL(%+v) reads back as %+v", in, out)
	}
	if u := ConnURL(config.DB{Host: "h", Port: 1, User: "u", Name: "d"}); !strings.Contains(u, "application_name="+TestAppName) {
		t.Errorf("ConnURL without an AppName = %q, want application_name=%s", u, TestAppName)
	}
	if u := ConnURL(config.DB{Host: "::1", Port: 5433, User: "u", Name: "d"}); !strings.Contains(u, "@[::1]:5433/") {
		t.Errorf("ConnURL with an IPv6 host = %q, want [::1]:5433", u)
	}
}

// Generated sets are numbered from 1, named by their step, with both files per version.
func TestGenerateSet(t *testing.T) {
	fsys := Pairs([2]string{"create table a ()", "drop table a"}, [2]string{"select 1", "select 2"})
	for name, want := range map[string]string{
		"000001_step_1.up.sql":   "create table a ()\n",
		"000001_step_1.down.sql": "drop table a\n",
		"000002_step_2.up.sql":   "select 1\n",
		"000002_step_2.down.sql": "select 2\n",
	} {
		if f, ok := fsys[name]; !ok || string(f.Data) != want {
			t.Errorf("%s: %v, want %q", name, f, want)
		}
	}
	if n := len(GenerateSet(7, TableStep)); n != 14 {
		t.Errorf("GenerateSet(7, TableStep) has %d files, want 14", n)
	}
	if _, ok := GenerateSet(3, TableStep)["000003_create_t_000003.up.sql"]; !ok {
		t.Error("TableStep's third migration is not 000003_create_t_000003")
	}
}

// NewDB and Connect reach the database NewDatabase created, as the configured user.
func TestNewDBConnects(t *testing.T) {
	cfg := pgServer.NewDB(t)
	conn := Connect(t, cfg)
	var db, app string
	if err := conn.QueryRow(context.Background(), "select current_database(), current_setting('application_name')").Scan(&db, &app); err != nil {
		t.Fatal(err)
	}
	if db != cfg.Name || app != TestAppName {
		t.Errorf("connected to %q as application %q, want %q as %q", db, app, cfg.Name, TestAppName)
	}
}

func TestColumn(t *testing.T) {
	conn := Connect(t, pgServer.NewDB(t))
	if got := Column[int](t, conn, "select generate_series(3, 1, -1)"); !slices.Equal(got, []int{3, 2, 1}) {
		t.Errorf("Column = %v, want [3 2 1]", got)
	}
	if got := Column[string](t, conn, "select 'x' where false"); len(got) != 0 {
		t.Errorf("Column of no rows = %v, want none", got)
	}
}
