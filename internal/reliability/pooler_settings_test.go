package reliability

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"visiona-backend/internal/config"
)

// poolSize is default_pool_size in testenv.StartPgBouncer's ini: at most that many server
// connections serve one database and user.
const poolSize = 20

var leakSettings = []string{"lock_timeout", "statement_timeout", "synchronous_commit", "search_path"}

// serverSettings holds poolSize clients of the pooler in open transactions at once, so that each
// sits on a server connection of its own and together they cover every server connection of the
// pool, and returns the settings each of them sees.
func serverSettings(t testing.TB, cfg config.DB) []map[string]string {
	t.Helper()
	ctx := context.Background()
	var seen []map[string]string
	for i := range poolSize {
		c := cfg
		c.AppName = fmt.Sprintf("corpus-settings-%d", i)
		conn := connect(t, c)
		defer conn.Close(ctx)
		sql := "BEGIN;"
		for _, s := range leakSettings {
			sql += " SHOW " + s + ";"
		}
		rs, err := conn.PgConn().Exec(ctx, sql).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for j, s := range leakSettings {
			m[s] = string(rs[j+1].Rows[0][0])
		}
		seen = append(seen, m)
	}
	return seen
}

// TestPoolerSettingsDoNotLeak: after a run through PgBouncer in transaction pooling mode with
// every migration setting the tool has in use (lock_timeout, statement_timeout, asynchronous
// commits), every server connection of the pool shows another client the server's defaults. A
// plain session SET through the same kind of pool is seen first to leak, so the check can fail.
func TestPoolerSettingsDoNotLeak(t *testing.T) {
	ctx := context.Background()
	direct := newDB(t)
	conn := connect(t, direct)
	defaults := map[string]string{}
	for _, s := range leakSettings {
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+s).Scan(&v); err != nil {
			t.Fatal(err)
		}
		defaults[s] = v
	}
	conn.Close(ctx)

	// The control: a session-level SET stays on the server connection for the next client.
	control := pooled(t, newDB(t), "transaction")
	leaker := connect(t, control)
	if _, err := leaker.PgConn().Exec(ctx, "SET lock_timeout = '4321ms'").ReadAll(); err != nil {
		t.Fatal(err)
	}
	leaker.Close(ctx)
	leaked := false
	for _, m := range serverSettings(t, control) {
		leaked = leaked || m["lock_timeout"] == "4321ms"
	}
	if !leaked {
		t.Fatal("a session SET through the pooler was not seen by any other client: the check below would prove nothing")
	}

	cfg := pooled(t, direct, "transaction")
	env := with(processEnv(cfg), "VISIONA_DB_MIGRATION_LOCK_TIMEOUT", "1234ms", "VISIONA_DB_MIGRATION_STATEMENT_TIMEOUT", "5678ms",
		"VISIONA_DB_MIGRATION_SYNC_COMMIT", "false")
	if p := runMigrate(t, writeSet(t, pooledSet()), env, "up"); p.code != 0 {
		t.Fatalf("up through the pooler: %s", p)
	}
	admin := adminConn(t)
	defer admin.Close(ctx)
	var servers int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", direct.Name).Scan(&servers); err != nil {
		t.Fatal(err)
	}
	if servers < 1 || servers > poolSize {
		t.Fatalf("%d server connections to the database after the run, want 1 to %d (all of them are looked at)", servers, poolSize)
	}
	for i, m := range serverSettings(t, cfg) {
		if !maps.Equal(m, defaults) {
			t.Errorf("client %d after the run sees %v, want the defaults %v", i, m, defaults)
		}
	}
	t.Logf("%d server connections served the run; %d clients on every server connection of the pool afterwards see the defaults %v", servers, poolSize, defaults)
}
