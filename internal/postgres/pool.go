package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"

	"visiona-backend/internal/config"
)

// NewPool opens a connection pool for a server from the same configuration as Connect:
// ConnConfig's settings (no ~/.pgpass, no PG* variables), cfg.MaxConns and cfg.MinConns, and
// cfg.AppName as application_name. It connects once before returning, so a wrong host or
// password fails here, classified like Connect's (*ConnectError), and not at the first request.
// The caller closes the pool.
func NewPool(ctx context.Context, cfg config.DB) (*pgxpool.Pool, error) {
	connCfg, err := ConnConfig(cfg)
	if err != nil {
		return nil, err
	}
	// pgxpool only accepts a Config made by its ParseConfig. The string is parsed for the pool
	// defaults alone; the connection settings are replaced by ours right after. sslmode=disable
	// keeps the throwaway parse from loading TLS files named by PG* variables.
	poolCfg, err := pgxpool.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, &ConnectError{Target: cfg.SafeTarget(), Reason: "invalid pool settings", Hint: "check the PG* variables of the environment", Err: errors.New("pgxpool rejected its default settings")}
	}
	poolCfg.ConnConfig = connCfg
	poolCfg.MaxConns = cfg.MaxConns
	poolCfg.MinConns = cfg.MinConns
	if poolCfg.MaxConns < 1 { // a DB built by hand rather than by config.Load
		poolCfg.MaxConns = 1
	}
	if poolCfg.MinConns > poolCfg.MaxConns {
		poolCfg.MinConns = poolCfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, classifyConnectError(cfg, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, classifyConnectError(cfg, err)
	}
	return pool, nil
}
