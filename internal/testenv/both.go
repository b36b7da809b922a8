package testenv

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// StartBoth starts PostgreSQL and Redis in parallel (the whole start then takes as long as
// PostgreSQL's alone). If either fails, the other is let finish its start and then terminated,
// and the error says what failed. It is not cancelled: Docker creates a container whose create
// request was cancelled all the same, and nobody would then remove it.
//
// opts apply to both containers (e.g. testcontainers.WithLabels, so a caller can find exactly
// its own containers).
func StartBoth(ctx context.Context, images Images, opts ...testcontainers.ContainerCustomizer) (*Postgres, *Redis, error) {
	var (
		wg           sync.WaitGroup
		pg           *Postgres
		rd           *Redis
		pgErr, rdErr error
	)
	wg.Go(func() { pg, pgErr = StartPostgres(ctx, images.Postgres, opts...) })
	wg.Go(func() { rd, rdErr = StartRedis(ctx, images.Redis, opts...) })
	wg.Wait()
	if pgErr == nil && rdErr == nil {
		return pg, rd, nil
	}
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return nil, nil, errors.Join(pgErr, rdErr, pg.Terminate(cleanup), rd.Terminate(cleanup))
}
