package testenv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// Redis is a running Redis server in a container started by StartRedis.
type Redis struct {
	Image   string
	Version string        // redis_version from INFO, e.g. "7.0.15"
	Addr    string        // host:port for go-redis' Options.Addr; no password is set
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
func StartRedis(ctx context.Context, image string) (*Redis, error) {
	start := time.Now()
	present, err := checkImage(ctx, image)
	if err != nil {
		return nil, fmt.Errorf("start redis: %w", err)
	}
	ctr, err := tcredis.Run(ctx, image)
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
	if r.Version, err = redisVersion(ctx, r.Addr); err != nil {
		return nil, startError("redis", image, false, ctr, fmt.Errorf("query %s: %w", r.Addr, err))
	}
	r.Started = time.Since(start)
	return r, nil
}

func redisVersion(ctx context.Context, addr string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
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
