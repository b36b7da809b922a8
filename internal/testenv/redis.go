package testenv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// Redis is a running Redis server in a container started by StartRedis.
type Redis struct {
	Image   string
	Version string // redis_version from INFO, e.g. "7.0.15"
	Addr    string // host:port for go-redis' Options.Addr
	// URL is a redis:// URL for go-redis' ParseURL; for an existing server it may hold a
	// password: never log it.
	URL     string
	Started time.Duration // from the start call until the server answered PING

	ctr *tcredis.RedisContainer
}

// String describes the server for logs.
func (r *Redis) String() string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("Redis %s at %s (image %q)", r.Version, r.Addr, r.Image)
}

// Terminate stops and removes the container; a second call is a no-op. Not safe for
// concurrent use.
func (r *Redis) Terminate(ctx context.Context) error {
	if r == nil || r.ctr == nil {
		return nil
	}
	ctr := r.ctr
	r.ctr = nil
	if err := ctr.Terminate(ctx); err != nil {
		return fmt.Errorf("terminate redis container: %w", err)
	}
	return nil
}

// StartRedis starts image with testcontainers' redis module and returns once the server
// answers PING. On error nothing is left running.
func StartRedis(ctx context.Context, image string, opts ...testcontainers.ContainerCustomizer) (*Redis, error) {
	start := time.Now()
	present, err := checkImage(ctx, image)
	if err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	ctr, err := tcredis.Run(ctx, image, append(runLabel(), opts...)...)
	if err != nil {
		return nil, startError("redis", image, !present, ctr, err)
	}
	r := &Redis{Image: image, ctr: ctr}
	host, err := ctr.Host(ctx)
	if err != nil {
		return nil, startError("redis", image, false, ctr, fmt.Errorf("host: %w", err))
	}
	port, err := ctr.MappedPort(ctx, "6379/tcp")
	if err != nil {
		return nil, startError("redis", image, false, ctr, fmt.Errorf("mapped port: %w", err))
	}
	r.Addr = net.JoinHostPort(host, strconv.Itoa(int(port.Num())))
	r.URL = "redis://" + r.Addr + "/0"
	if r.Version, err = redisVersion(ctx, &goredis.Options{Addr: r.Addr}); err != nil {
		return nil, startError("redis", image, false, ctr, fmt.Errorf("query %s: %w", r.Addr, err))
	}
	r.Started = time.Since(start)
	return r, nil
}

// ConnectRedis describes an existing server from a redis:// URL (VISIONA_TESTDB_REDIS_URL) and
// checks that it answers. Terminate does nothing to it. Errors never repeat the URL.
func ConnectRedis(ctx context.Context, rawURL string) (*Redis, error) {
	start := time.Now()
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: not a redis://[:password@]host:port/db URL")
	}
	r := &Redis{Addr: opts.Addr, URL: rawURL}
	if r.Version, err = redisVersion(ctx, opts); err != nil {
		return nil, fmt.Errorf("query redis at %s: %w", r.Addr, err)
	}
	r.Started = time.Since(start)
	return r, nil
}

func redisVersion(ctx context.Context, opts *goredis.Options) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := goredis.NewClient(opts)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		return "", err
	}
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("no redis_version in INFO server")
}

var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// DeleteRedisPrefix removes every key starting with prefix: how TestDB leaves an existing Redis
// as it found it. SCAN, not KEYS, so a large server is not blocked.
func DeleteRedisPrefix(ctx context.Context, rawURL, prefix string) error {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return fmt.Errorf("redis URL: not a redis://[:password@]host:port/db URL")
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	// SCAN takes a glob: escape the prefix so it matches itself only.
	iter := c.Scan(ctx, 0, globEscaper.Replace(prefix)+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return fmt.Errorf("delete keys %s*: %w", prefix, err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan keys %s*: %w", prefix, err)
	}
	if len(batch) > 0 {
		if err := c.Unlink(ctx, batch...).Err(); err != nil {
			return fmt.Errorf("delete keys %s*: %w", prefix, err)
		}
	}
	return nil
}
