package app

import (
	"errors"

	"github.com/gocraft/work"

	"github.com/webhookdb/webhookdb/handlers"
	"github.com/webhookdb/webhookdb/jobs"
)

// errNoGitHubApp is returned where GitHub must be called and the app's id
// or key is missing.
var errNoGitHubApp = errors.New("the GitHub App is not configured: set github.app.integration_id and github.app.private_key")

// JobDeps builds what the jobs need from the process's services.
func JobDeps(svc *Services) (jobs.Deps, error) {
	if svc.GitHub == nil {
		return jobs.Deps{}, errNoGitHubApp
	}
	deps := jobs.Deps{
		DB:                      svc.DB,
		Redis:                   svc.Redis,
		Namespace:               svc.Config.Namespace,
		Logger:                  svc.Logger,
		GitHub:                  svc.GitHub,
		InstallationConcurrency: svc.Config.InstallationConcurrency,
		RevokedRetention:        svc.Config.RevokedRetention,
		Metrics:                 svc.Metrics,
		CatchupInterval:         svc.Config.CatchupInterval,
		ReconcileInterval:       svc.Config.ReconcileInterval,
		FullReconcileInterval:   svc.Config.FullReconcileInterval,
		DeliveryRetention:       svc.Config.DeliveryRetention,
		DeliveryLogRetention:    svc.Config.DeliveryLogRetention,
	}
	// Replay stores failed deliveries again through the same handlers as
	// the webhook endpoint, with their follow-up work queued by this
	// process's scheduler.
	deps.Replay = handlers.NewReplay(handlers.Deps{
		DB:               svc.DB,
		Scheduler:        jobs.NewScheduler(deps),
		GitHub:           svc.GitHub,
		Logger:           svc.Logger.With().Str("component", "replay").Logger(),
		Metrics:          svc.Metrics,
		RevokedRetention: svc.Config.RevokedRetention,
	})
	return deps, nil
}

// Workers are the job worker pool of one process and the queuer of its
// periodic jobs (catch-up, replay, reconciliation, retention).
type Workers struct {
	pool     *work.WorkerPool
	periodic *jobs.Periodic
}

// Start starts the pool, then the periodic jobs (catch-up runs at once).
func (w *Workers) Start() {
	w.pool.Start()
	w.periodic.Start()
}

// Stop stops queueing periodic jobs, then waits for the jobs in progress.
func (w *Workers) Stop() {
	w.periodic.Stop()
	w.pool.Stop()
}

// NewWorkers builds the job workers of one process, not started.
func NewWorkers(svc *Services) (*Workers, error) {
	deps, err := JobDeps(svc)
	if err != nil {
		return nil, err
	}
	return &Workers{pool: jobs.NewWorkerPool(deps, svc.Config.Workers), periodic: jobs.NewPeriodic(deps)}, nil
}
