package app

import (
	"net/http"

	"github.com/webhookdb/webhookdb/readapi"
)

// mountReadAPI mounts GitHub's REST reads of the replica under /api/v3/.
func mountReadAPI(mux *http.ServeMux, svc *Services) error {
	api, err := readapi.New(readapi.Deps{
		DB:        svc.DB,
		Redis:     svc.Redis,
		Namespace: svc.Config.Namespace,
		V3APIURL:  svc.Config.GitHub.V3APIURL,
		PublicURL: svc.Config.PublicURL,
		RateLimit: svc.Config.ReadRateLimit,
		Logger:    svc.Logger.With().Str("component", "readapi").Logger(),
	})
	if err != nil {
		return err
	}
	api.Register(mux)
	return nil
}
