// Package jobs holds the background work of webhookdb: gocraft/work jobs on
// Redis that call GitHub with installation tokens and hand the results to
// the process package.
package jobs

import (
	"database/sql"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
	"github.com/rs/zerolog"
)

// Deps is what every job needs. It is built once by the app and shared by
// every job run; nothing in it changes after start.
type Deps struct {
	DB        *sql.DB
	Redis     *redis.Pool
	Namespace string
	Logger    zerolog.Logger
}

// Context is gocraft/work's per-job context. gocraft/work builds a fresh one
// for each job by reflection, so it carries no state of its own.
type Context struct{}

// NewWorkerPool builds the pool that runs jobs with the given concurrency.
// It does not start it.
func NewWorkerPool(d Deps, concurrency int) *work.WorkerPool {
	pool := work.NewWorkerPool(Context{}, uint(concurrency), d.Namespace, d.Redis)
	return pool
}

// NewEnqueuer builds the enqueuer that web handlers use to queue jobs.
func NewEnqueuer(d Deps) *work.Enqueuer {
	return work.NewEnqueuer(d.Namespace, d.Redis)
}
