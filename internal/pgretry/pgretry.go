// Package pgretry says when PostgreSQL aborted a transaction only because
// of concurrent ones, and waits before running it again: the one rule the
// webhook's delivery transactions and the jobs' transactions share.
package pgretry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Retryable is true when PostgreSQL aborted the transaction only because
// of concurrent ones (class 40: deadlock, serialization failure): run whole
// again, it succeeds.
func Retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// Wait waits before run attempt (2, 3, ...): step per earlier attempt plus
// up to 50 ms of jitter, so the transaction that won takes its rows first
// instead of meeting this one again. It is false when ctx ends first.
func Wait(ctx context.Context, attempt int, step time.Duration) bool {
	d := time.Duration(attempt-1)*step + time.Duration(rand.Int64N(int64(50*time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Run runs fn, and runs it again, up to attempts runs in all, while
// PostgreSQL aborted it only for concurrent transactions (Retryable) and
// ctx lasts, waiting before each new run (Wait with step). onRetry, when
// not nil, is told the error and the number of the run about to start.
// It returns fn's last error.
func Run(ctx context.Context, attempts int, step time.Duration, onRetry func(err error, attempt int), fn func() error) error {
	err := fn()
	for attempt := 2; err != nil && Retryable(err) && attempt <= attempts && ctx.Err() == nil; attempt++ {
		if onRetry != nil {
			onRetry(err, attempt)
		}
		if !Wait(ctx, attempt, step) {
			break
		}
		err = fn()
	}
	return err
}
