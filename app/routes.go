package app

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/webhookdb/webhookdb/internal/httpjson"
	"github.com/webhookdb/webhookdb/jobs"
)

// NewHandler builds every HTTP route of the web server. It fails when a
// part cannot be built (a bad key, say), so that a misconfigured server
// stops at start instead of answering 503 for ever.
func NewHandler(svc *Services) (http.Handler, error) {
	deps, err := JobDeps(svc)
	if err != nil {
		return nil, err
	}
	// One scheduler for the webhook and load sides: both queue scans.
	sched := jobs.NewScheduler(deps)

	mux := http.NewServeMux()
	mountOps(mux, svc)              // GET /healthz, /readyz, /metrics
	mountWebhooks(mux, svc, sched)  // POST /replication and /api/github/hook (webhooks.go)
	pages, err := mountUI(mux, svc) // GET /, the OAuth login (routes_ui.go)
	if err != nil {
		return nil, fmt.Errorf("web pages and login: %w", err)
	}
	if err := mountLoad(mux, svc, deps, sched, pages); err != nil {
		return nil, fmt.Errorf("load endpoints: %w", err)
	}
	if err := mountReadAPI(mux, svc); err != nil { // GET /api/v3/... (routes_read.go)
		return nil, fmt.Errorf("read API: %w", err)
	}
	return instrument(svc.Metrics, svc.Logger, mux), nil
}

// NewOpsHandler is what a worker serves on metrics_addr: liveness,
// readiness and its own metrics (job runs, catch-up, replay, rate limits),
// which only that process counts.
func NewOpsHandler(svc *Services) http.Handler {
	mux := http.NewServeMux()
	mountOps(mux, svc)
	return instrument(svc.Metrics, svc.Logger, mux)
}

// mountOps adds liveness, readiness (database and Redis reachable) and the
// Prometheus metrics.
func mountOps(mux *http.ServeMux, svc *Services) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := svc.Ready(r.Context()); err != nil {
			svc.Logger.Warn().Err(err).Msg("not ready")
			httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(svc.Metrics, promhttp.HandlerOpts{Registry: svc.Metrics}))
}
