package app

import (
	"net/http"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/load"
	"github.com/webhookdb/webhookdb/ui"
)

// mountLoad mounts the load endpoints, GET /status/{scan_id}, the OAuth
// login and the home page.
func mountLoad(mux *http.ServeMux, svc *Services, deps jobs.Deps, sched *jobs.Scheduler) error {
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
		Inline:    jobs.NewSyncer(deps),
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
