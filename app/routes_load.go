package app

import (
	"fmt"
	"net/http"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/load"
	"github.com/webhookdb/webhookdb/ui"
)

// mountLoad mounts the load endpoints, GET /status/{scan_id}, the OAuth
// login and the home page. When they cannot be built the load routes
// answer 503 and the rest of the server (webhooks, health) still serves.
func mountLoad(mux *http.ServeMux, svc *Services) {
	if err := mountLoadRoutes(mux, svc); err != nil {
		svc.Logger.Error().Err(err).Msg("load endpoints and login not built; /load/ answers 503")
		mux.HandleFunc("/load/", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "load endpoints unavailable"})
		})
	}
}

func mountLoadRoutes(mux *http.ServeMux, svc *Services) error {
	// The jobs' dependencies (workers.go) carry the app's client creator.
	deps, err := JobDeps(svc)
	if err != nil {
		return fmt.Errorf("load endpoints: %w", err)
	}
	sched := jobs.NewScheduler(deps)
	// The inline syncer gets clients of its own that pass GitHub's
	// rate-limit headers back to the load request.
	inlineDeps := deps
	inlineDeps.GitHub, err = githubapp.NewDefaultCachingClientCreator(svc.Config.GitHub,
		githubapp.WithClientUserAgent("webhookdb"),
		githubapp.WithClientMiddleware(load.RecordRateLimit))
	if err != nil {
		return fmt.Errorf("load endpoints: GitHub client creator: %w", err)
	}
	pages, err := ui.New(ui.Options{
		DB:         svc.DB,
		GitHub:     svc.Config.GitHub,
		PublicURL:  svc.Config.PublicURL,
		SessionKey: svc.Config.SessionKey,
		Logger:     svc.Logger.With().Str("component", "ui").Logger(),
	})
	if err != nil {
		return err
	}
	opts := load.Options{
		DB:        svc.DB,
		Scheduler: sched,
		Inline:    jobs.NewSyncer(inlineDeps),
		Sessions:  pages,
		V3APIURL:  svc.Config.GitHub.V3APIURL,
		Apps:      deps.GitHub,
		Logger:    svc.Logger.With().Str("component", "load").Logger(),
	}
	loads, err := load.New(opts)
	if err != nil {
		return err
	}
	loads.Register(mux, pages.Sessions.LoadAndSave)
	pages.Register(mux)
	return nil
}
