package jobs

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/promreg"
)

// jobMetrics are the jobs' Prometheus metrics. Every engine of a process
// (the worker pool's and the web side's scheduler) shares one set through
// the registry.
type jobMetrics struct {
	// runs counts job runs by job name and outcome (ok, error);
	// duration times them.
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// Catch-up from GitHub's delivery log: deliveries listed, redeliveries
	// asked for, deliveries recovered (a redelivery asked for that was
	// then stored), and runs by outcome.
	catchupListed    prometheus.Counter
	catchupAsked     prometheus.Counter
	catchupRecovered prometheus.Counter
	catchupRuns      *prometheus.CounterVec

	// Local replay of failed deliveries: tries by outcome (processed,
	// failed) and deliveries given up.
	replays       *prometheus.CounterVec
	replayGiveUps prometheus.Counter

	// Reconciliation: runs by kind (incremental, full) and what their
	// scans cost once finished.
	reconcileRuns        *prometheus.CounterVec
	reconcileRequests    *prometheus.CounterVec
	reconcileNotModified *prometheus.CounterVec

	// Retention: rows removed (or payloads dropped) by what.
	retained *prometheus.CounterVec

	// GitHub's primary (core) rate limit of each installation, as its last
	// answer to a job or inline sync said (ratelimitgauge.go).
	rateRemaining *prometheus.GaugeVec
	rateLimit     *prometheus.GaugeVec
	rateReset     *prometheus.GaugeVec
}

func newJobMetrics(reg prometheus.Registerer, logger zerolog.Logger) *jobMetrics {
	m := &jobMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_job_runs_total",
			Help: "Job runs by job name and outcome (ok, error).",
		}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "webhookdb_job_duration_seconds",
			Help:    "Time of one job run, by job name.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"job"}),
		catchupListed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webhookdb_catchup_listed_total",
			Help: "Deliveries read from GitHub's delivery log by catch-up.",
		}),
		catchupAsked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webhookdb_catchup_redeliveries_asked_total",
			Help: "Redeliveries catch-up asked GitHub for (deliveries that failed or never reached webhookdb).",
		}),
		catchupRecovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webhookdb_catchup_recovered_total",
			Help: "Deliveries catch-up asked for that then arrived and were stored.",
		}),
		catchupRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_catchup_runs_total",
			Help: "Catch-up runs by outcome (ok, error, skipped: another process held the lock).",
		}, []string{"outcome"}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_replays_total",
			Help: "Replays of failed deliveries from their stored payload, by outcome (the stored status: processed, stale, duplicate, ignored; or failed).",
		}, []string{"outcome"}),
		replayGiveUps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "webhookdb_replay_give_ups_total",
			Help: "Failed deliveries given up after the last replay.",
		}),
		reconcileRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_reconcile_runs_total",
			Help: "Reconciliation runs started, by kind (incremental, full) and reason (schedule, outage).",
		}, []string{"kind", "reason"}),
		reconcileRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_reconcile_requests_total",
			Help: "GitHub requests made by finished reconciliation runs, by kind.",
		}, []string{"kind"}),
		reconcileNotModified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_reconcile_not_modified_total",
			Help: "GitHub answers 304 (no rate limit spent) in finished reconciliation runs, by kind.",
		}, []string{"kind"}),
		retained: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_retention_removed_total",
			Help: "Rows removed by retention, by what (delivery, delivery_payload, scan_page, scan, api_etag, tombstone, collaborator_removal, reconcile_run, catchup_request).",
		}, []string{"what"}),
		rateRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "webhookdb_github_rate_limit_remaining",
			Help: "Requests left in the installation's primary rate limit window, from GitHub's last answer (X-RateLimit-Remaining).",
		}, []string{"installation"}),
		rateLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "webhookdb_github_rate_limit_limit",
			Help: "The installation's primary rate limit per window, from GitHub's last answer (X-RateLimit-Limit).",
		}, []string{"installation"}),
		rateReset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "webhookdb_github_rate_limit_reset_timestamp_seconds",
			Help: "When the installation's primary rate limit window resets, Unix seconds, from GitHub's last answer (X-RateLimit-Reset).",
		}, []string{"installation"}),
	}
	if reg == nil {
		return m
	}
	m.runs = promreg.Register(reg, m.runs, logger, "job")
	m.duration = promreg.Register(reg, m.duration, logger, "job")
	m.catchupListed = promreg.Register(reg, m.catchupListed, logger, "job")
	m.catchupAsked = promreg.Register(reg, m.catchupAsked, logger, "job")
	m.catchupRecovered = promreg.Register(reg, m.catchupRecovered, logger, "job")
	m.catchupRuns = promreg.Register(reg, m.catchupRuns, logger, "job")
	m.replays = promreg.Register(reg, m.replays, logger, "job")
	m.replayGiveUps = promreg.Register(reg, m.replayGiveUps, logger, "job")
	m.reconcileRuns = promreg.Register(reg, m.reconcileRuns, logger, "job")
	m.reconcileRequests = promreg.Register(reg, m.reconcileRequests, logger, "job")
	m.reconcileNotModified = promreg.Register(reg, m.reconcileNotModified, logger, "job")
	m.retained = promreg.Register(reg, m.retained, logger, "job")
	m.rateRemaining = promreg.Register(reg, m.rateRemaining, logger, "job")
	m.rateLimit = promreg.Register(reg, m.rateLimit, logger, "job")
	m.rateReset = promreg.Register(reg, m.rateReset, logger, "job")
	return m
}

// observeJob counts one job run and its time.
func (m *jobMetrics) observeJob(name string, err error, elapsed time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.runs.WithLabelValues(name, outcome).Inc()
	m.duration.WithLabelValues(name).Observe(elapsed.Seconds())
}

// observeRateLimit records the installation's primary rate limit from the
// headers of one GitHub answer. Answers of other limits (search, graphql)
// and answers without the headers leave the gauges as they were.
func (m *jobMetrics) observeRateLimit(inst int64, h http.Header) {
	if r := h.Get("X-RateLimit-Resource"); r != "" && r != "core" {
		return
	}
	remaining, err1 := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Remaining")), 10, 64)
	limit, err2 := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Limit")), 10, 64)
	if err1 != nil || err2 != nil || limit <= 0 {
		return
	}
	id := strconv.FormatInt(inst, 10)
	m.rateRemaining.WithLabelValues(id).Set(float64(remaining))
	m.rateLimit.WithLabelValues(id).Set(float64(limit))
	if reset, ok := resetTime(h); ok {
		m.rateReset.WithLabelValues(id).Set(float64(reset.Unix()))
	}
}

// rateLimitObserver is the transport of an installation's session
// (reauth.go's sessionClient): every answer GitHub gives a job or an
// inline sync updates the installation's rate-limit gauges. Only here is
// the installation of a request known.
type rateLimitObserver struct {
	m    *jobMetrics
	inst int64
	next http.RoundTripper
}

func (t *rateLimitObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		t.m.observeRateLimit(t.inst, resp.Header)
	}
	return resp, err
}
