package app

import (
	"errors"

	"github.com/gocraft/work"

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
	return jobs.Deps{
		DB:                      svc.DB,
		Redis:                   svc.Redis,
		Namespace:               svc.Config.Namespace,
		Logger:                  svc.Logger,
		GitHub:                  svc.GitHub,
		InstallationConcurrency: svc.Config.InstallationConcurrency,
		RevokedRetention:        svc.Config.RevokedRetention,
	}, nil
}

// NewWorkerPool builds the job worker pool of one process, not started.
func NewWorkerPool(svc *Services) (*work.WorkerPool, error) {
	deps, err := JobDeps(svc)
	if err != nil {
		return nil, err
	}
	return jobs.NewWorkerPool(deps, svc.Config.Workers), nil
}
