package testenv

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// StartBoth starts PostgreSQL and Redis in parallel (the whole start then takes as long as
// PostgreSQL's alone). If either fails, the other's start is cancelled, whatever started is
// terminated, and the error says what failed.
//
// opts apply to both containers (e.g. testcontainers.WithLabels, so a caller can find exactly
// its own containers).
func StartBoth(ctx context.Context, images Images, opts ...testcontainers.ContainerCustomizer) (*Postgres, *Redis, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg           sync.WaitGroup
		pg           *Postgres
		rd           *Redis
		pgErr, rdErr error
	)
	wg.Go(func() {
		if pg, pgErr = StartPostgres(ctx, images.Postgres, opts...); pgErr != nil {
			cancel() // no point waiting for the other one
		}
	})
	wg.Go(func() {
		if rd, rdErr = StartRedis(ctx, images.Redis, opts...); rdErr != nil {
			cancel()
		}
	})
	wg.Wait()
	if pgErr == nil && rdErr == nil {
		return pg, rd, nil
	}

	// A start that failed only because the other one's failure cancelled it is noise.
	cancelledByOther := func(err, other error) bool {
		return other != nil && parent.Err() == nil && errors.Is(err, context.Canceled)
	}
	var errs []error
	if pgErr != nil && !cancelledByOther(pgErr, rdErr) {
		errs = append(errs, pgErr)
	}
	if rdErr != nil && !cancelledByOther(rdErr, pgErr) {
		errs = append(errs, rdErr)
	}
	if len(errs) == 0 { // both look cancelled: report both rather than nothing
		errs = append(errs, pgErr, rdErr)
	}
	cleanup, cancelCleanup := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
	defer cancelCleanup()
	errs = append(errs, pg.Terminate(cleanup), rd.Terminate(cleanup))
	return nil, nil, errors.Join(errs...)
}
