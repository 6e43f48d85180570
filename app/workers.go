package app

import (
	"fmt"

	"github.com/gocraft/work"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/jobs"
)

// JobDeps builds what the jobs need from the process's services: the pools
// and an installation client creator for the configured GitHub App.
func JobDeps(svc *Services) (jobs.Deps, error) {
	// The caching creator keeps one client per installation, so its token
	// (ghinstallation) and go-github's knowledge of a spent rate limit are
	// reused across jobs instead of minting a token per job.
	cc, err := githubapp.NewDefaultCachingClientCreator(svc.Config.GitHub, githubapp.WithClientUserAgent("webhookdb"))
	if err != nil {
		return jobs.Deps{}, fmt.Errorf("GitHub client creator: %w", err)
	}
	return jobs.Deps{
		DB:                      svc.DB,
		Redis:                   svc.Redis,
		Namespace:               svc.Config.Namespace,
		Logger:                  svc.Logger,
		GitHub:                  cc,
		InstallationConcurrency: svc.Config.InstallationConcurrency,
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
