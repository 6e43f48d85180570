package app

import (
	"net/http"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/handlers"
	"github.com/webhookdb/webhookdb/jobs"
)

// mountWebhooks mounts the GitHub App webhook at POST /replication and at
// go-githubapp's default route. The installation client creator serves the
// inline pull request file refreshes; the scheduler queues follow-up work.
func mountWebhooks(mux *http.ServeMux, svc *Services, sched *jobs.Scheduler) {
	h := handlers.NewWebhookHandler(handlers.Deps{
		DB:               svc.DB,
		Scheduler:        sched,
		GitHub:           svc.GitHub,
		Logger:           svc.Logger.With().Str("component", "webhook").Logger(),
		Metrics:          svc.Metrics,
		WebhookSecret:    svc.Config.GitHub.App.WebhookSecret,
		RevokedRetention: svc.Config.RevokedRetention,
		MaxBatch:         svc.Config.WebhookBatch,
	})
	mux.Handle("POST /replication", h)
	mux.Handle("POST "+githubapp.DefaultWebhookRoute, h)
}
