package app

import (
	"net/http"

	"github.com/webhookdb/webhookdb/ui"
)

// mountUI mounts the web pages and the OAuth login. It returns the UI so
// that the load endpoints can accept its logged-in sessions.
func mountUI(mux *http.ServeMux, svc *Services) (*ui.UI, error) {
	pages, err := ui.New(ui.Deps{
		DB:           svc.DB,
		GitHubConfig: svc.Config.GitHub,
		PublicURL:    svc.Config.PublicURL,
		SessionKey:   svc.Config.SessionKey,
		Logger:       svc.Logger.With().Str("component", "ui").Logger(),
		GitHub:       svc.GitHub,
	})
	if err != nil {
		return nil, err
	}
	svc.closers = append(svc.closers, pages.Close)
	pages.Register(mux)
	return pages, nil
}
