package app

import (
	"net/http"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/load"
	"github.com/webhookdb/webhookdb/ui"
)

// mountLoad mounts the load endpoints, GET /status/{scan_id}, the OAuth
// login and the home page.
func mountLoad(mux *http.ServeMux, svc *Services, deps jobs.Deps, sched *jobs.Scheduler) error {
	// The inline syncer gets clients of its own that pass GitHub's
	// rate-limit headers back to the load request.
	inlineDeps := deps
	var err error
	inlineDeps.GitHub, err = NewClientCreator(svc.Config, githubapp.WithClientMiddleware(load.RecordRateLimit))
	if err != nil {
		return err
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
	svc.closers = append(svc.closers, pages.Close)
	loads, err := load.New(load.Options{
		DB:        svc.DB,
		Scheduler: sched,
		Inline:    jobs.NewSyncer(inlineDeps),
		Sessions:  pages,
		V3APIURL:  svc.Config.GitHub.V3APIURL,
		Apps:      svc.GitHub,
		Logger:    svc.Logger.With().Str("component", "load").Logger(),
	})
	if err != nil {
		return err
	}
	loads.Register(mux, pages.Sessions.LoadAndSave)
	pages.Register(mux)
	return nil
}
