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
	pgs, rd, err := StartAll(ctx, []string{images.Postgres}, images.Redis, opts...)
	if err != nil {
		return nil, nil, err
	}
	return pgs[0], rd, nil
}

// StartAll is StartBoth for several PostgreSQL images (e.g. one per major) and one Redis, all
// started in parallel; the servers come back in the order of postgresImages. If any start fails,
// every container that did start is terminated.
func StartAll(ctx context.Context, postgresImages []string, redisImage string, opts ...testcontainers.ContainerCustomizer) ([]*Postgres, *Redis, error) {
	var (
		wg    sync.WaitGroup
		pgs   = make([]*Postgres, len(postgresImages))
		pgErr = make([]error, len(postgresImages))
		rd    *Redis
		rdErr error
	)
	for i, image := range postgresImages {
		wg.Go(func() { pgs[i], pgErr[i] = StartPostgres(ctx, image, opts...) })
	}
	wg.Go(func() { rd, rdErr = StartRedis(ctx, redisImage, opts...) })
	wg.Wait()
	errs := append(pgErr, rdErr)
	if errors.Join(errs...) == nil {
		return pgs, rd, nil
	}
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, pg := range pgs {
		errs = append(errs, pg.Terminate(cleanup))
	}
	return nil, nil, errors.Join(append(errs, rd.Terminate(cleanup))...)
}
