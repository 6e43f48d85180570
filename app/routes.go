package app

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewHandler builds every HTTP route of the web server.
func NewHandler(svc *Services) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := svc.Ready(r.Context()); err != nil {
			svc.Logger.Warn().Err(err).Msg("not ready")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(svc.Metrics, promhttp.HandlerOpts{Registry: svc.Metrics}))
	mountWebhooks(mux, svc) // POST /replication and /api/github/hook (webhooks.go)
	mountLoad(mux, svc)     // load endpoints, /status, login and home page (routes_load.go)
	return instrument(svc.Metrics, svc.Logger, mux)
}
