package health

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// listener returns a loopback address: refused (closed) or accepting connections and never
// answering (hung), the two ways a dependency is down.
func listener(t *testing.T, hung bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if !hung {
		l.Close()
		return addr
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read: the client waits for an answer
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return addr
}

func clients(t *testing.T, pgAddr, redisAddr string) (*pgxpool.Pool, *redis.Client) {
	t.Helper()
	host, port, _ := net.SplitHostPort(pgAddr)
	cfg, err := pgxpool.ParseConfig("host=" + host + " port=" + port + " user=visiona password=hunter2 dbname=visiona sslmode=disable connect_timeout=30")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg) // lazy: connects on first use
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, Password: "hunter2", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { rdb.Close() })
	return pool, rdb
}

func TestCheckNothingConfigured(t *testing.T) {
	r := Check(t.Context(), nil, nil)
	if !r.OK || r.Postgres.Configured || r.Redis.Configured {
		t.Fatalf("report %+v: want OK with nothing configured", r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"postgres":{"status":"not configured","latency_ms":0}`) {
		t.Fatalf("JSON %s", b)
	}
}

func TestCheckRefused(t *testing.T) {
	pgAddr, redisAddr := listener(t, false), listener(t, false)
	pool, rdb := clients(t, pgAddr, redisAddr)
	r := Check(t.Context(), pool, rdb)
	if r.OK || r.Postgres.OK || r.Redis.OK || !r.Postgres.Configured || !r.Redis.Configured {
		t.Fatalf("report %+v: want both failed", r)
	}
	if r.Postgres.Error != "database unavailable (cannot connect)" || r.Redis.Error != "redis unavailable" {
		t.Fatalf("errors %q, %q", r.Postgres.Error, r.Redis.Error)
	}
	b, _ := json.Marshal(r)
	_, pgPort, _ := net.SplitHostPort(pgAddr)
	_, redisPort, _ := net.SplitHostPort(redisAddr)
	for _, secret := range []string{"hunter2", "visiona", "127.0.0.1", pgPort, redisPort} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("report %s shows %q", b, secret)
		}
	}
}

// TestCheckHungServersInParallel: two servers that never answer cost one timeout, not two.
func TestCheckHungServersInParallel(t *testing.T) {
	pool, rdb := clients(t, listener(t, true), listener(t, true))
	const timeout = 300 * time.Millisecond
	start := time.Now()
	r := Check(t.Context(), pool, rdb, WithTimeout(timeout))
	took := time.Since(start)
	want := "timeout after " + timeout.String()
	if r.OK || r.Postgres.Error != want || r.Redis.Error != want {
		t.Fatalf("report %+v: want both %q", r, want)
	}
	if took > timeout+timeout/2 {
		t.Fatalf("check took %v with a %v timeout: the pings did not run in parallel", took, timeout)
	}
	for _, st := range []Status{r.Postgres, r.Redis} {
		if st.Latency < timeout-10*time.Millisecond || st.Latency > timeout+timeout/2 {
			t.Fatalf("latency %v, want about the timeout %v", st.Latency, timeout)
		}
	}
	b, _ := json.Marshal(r.Redis)
	if !strings.Contains(string(b), `"status":"error"`) || !strings.Contains(string(b), `"error":"`+want+`"`) {
		t.Fatalf("JSON %s", b)
	}
}
