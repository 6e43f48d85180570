package app

import (
	"net/http"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/load"
	"github.com/webhookdb/webhookdb/ui"
)

// mountLoad mounts the load endpoints and GET /status/{scan_id}. A load
// may come from a logged-in UI session, so it needs the UI's sessions.
func mountLoad(mux *http.ServeMux, svc *Services, deps jobs.Deps, sched *jobs.Scheduler, pages *ui.UI) error {
	loads, err := load.New(load.Deps{
		DB:        svc.DB,
		Scheduler: sched,
		Inline:    jobs.NewSyncer(deps),
		Sessions:  pages,
		V3APIURL:  svc.Config.GitHub.V3APIURL,
		GitHub:    svc.GitHub,
		Logger:    svc.Logger.With().Str("component", "load").Logger(),
	})
	if err != nil {
		return err
	}
	loads.Register(mux, pages.Sessions.LoadAndSave)
	return nil
}
