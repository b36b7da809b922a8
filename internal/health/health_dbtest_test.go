//go:build dbtest

package health

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"visiona-backend/internal/postgres"
	"visiona-backend/internal/testenv"
)

func TestCheckRealServers(t *testing.T) {
	cfg := testenv.DBTestDB(t)
	pool, err := postgres.NewPool(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	url, _ := testenv.DBTestRedis(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal("VISIONA_DBTEST_REDIS_URL is not a redis:// URL")
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	r := Check(t.Context(), pool, rdb)
	if !r.OK || !r.Postgres.OK || !r.Redis.OK || r.Postgres.Latency <= 0 || r.Redis.Latency <= 0 {
		t.Fatalf("report %+v: want both ok with a latency", r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"ok":true`) || !strings.Contains(string(b), `"redis":{"status":"ok","latency_ms":`) {
		t.Fatalf("JSON %s", b)
	}
}
