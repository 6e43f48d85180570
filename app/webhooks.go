package app

import (
	"fmt"
	"net/http"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/handlers"
	"github.com/webhookdb/webhookdb/jobs"
)

// mountWebhooks mounts the GitHub App webhook at POST /replication and at
// go-githubapp's default route. When it cannot be built the routes answer
// 503, so GitHub records the deliveries as failed and they can be
// redelivered once the configuration is fixed.
func mountWebhooks(mux *http.ServeMux, svc *Services) {
	h, err := newWebhookEndpoint(svc)
	if err != nil {
		svc.Logger.Error().Err(err).Msg("webhook endpoint not built; answering 503")
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "webhook endpoint unavailable"})
		})
	}
	mux.Handle("POST /replication", h)
	mux.Handle("POST "+githubapp.DefaultWebhookRoute, h)
}

// newWebhookEndpoint builds the webhook handler: the installation client
// creator (for inline pull request file refreshes) and the job scheduler
// (for follow-up work) on the process's services.
func newWebhookEndpoint(svc *Services) (http.Handler, error) {
	deps, err := JobDeps(svc)
	if err != nil {
		return nil, fmt.Errorf("webhook endpoint: %w", err)
	}
	return handlers.NewWebhookHandler(handlers.Deps{
		DB:            svc.DB,
		Scheduler:     jobs.NewScheduler(deps),
		ClientCreator: deps.GitHub,
		Logger:        svc.Logger.With().Str("component", "webhook").Logger(),
		Metrics:       svc.Metrics,
		WebhookSecret: svc.Config.GitHub.App.WebhookSecret,
	}), nil
}
