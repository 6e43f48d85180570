package handlers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/promreg"
)

// metrics of the webhook endpoint, registered on the app's registry.
type metrics struct {
	deliveries *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, logger zerolog.Logger) *metrics {
	m := &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_webhook_deliveries_total",
			Help: "Webhook deliveries by event and outcome (processed, stale, ignored, duplicate, failed, invalid, unauthorized, too_large, busy).",
		}, []string{"event", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "webhookdb_webhook_delivery_duration_seconds",
			Help:    "Time to answer a webhook delivery, by event.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"event"}),
	}
	if reg == nil {
		return m
	}
	m.deliveries = promreg.Register(reg, m.deliveries, logger, "webhook")
	m.duration = promreg.Register(reg, m.duration, logger, "webhook")
	return m
}

func (m *metrics) observe(event, status string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(event, status).Inc()
	m.duration.WithLabelValues(event).Observe(elapsed.Seconds())
}
