package app

import (
	"github.com/gocraft/work"

	"github.com/webhookdb/webhookdb/jobs"
)

// NewWorkerPool builds the job worker pool of one process, not started.
func NewWorkerPool(svc *Services) (*work.WorkerPool, error) {
	deps := jobs.Deps{DB: svc.DB, Redis: svc.Redis, Namespace: svc.Config.Namespace, Logger: svc.Logger}
	return jobs.NewWorkerPool(deps, svc.Config.Workers), nil
}
