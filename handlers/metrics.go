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
	// batches counts group-commit transactions by how they ended
	// (committed, alone: run again one delivery at a time); batchSize is
	// their deliveries.
	batches   *prometheus.CounterVec
	batchSize prometheus.Histogram
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
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "webhookdb_webhook_batches_total",
			Help: "Group-commit transactions of several deliveries, by outcome (committed; alone: a delivery or the database failed, so each was stored again on its own).",
		}, []string{"outcome"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "webhookdb_webhook_batch_size",
			Help:    "Deliveries stored in one transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}),
	}
	if reg == nil {
		return m
	}
	m.deliveries = promreg.Register(reg, m.deliveries, logger, "webhook")
	m.duration = promreg.Register(reg, m.duration, logger, "webhook")
	m.batches = promreg.Register(reg, m.batches, logger, "webhook")
	m.batchSize = promreg.Register(reg, m.batchSize, logger, "webhook")
	return m
}

func (m *metrics) observe(event, status string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(event, status).Inc()
	m.duration.WithLabelValues(event).Observe(elapsed.Seconds())
}

// batch records one transaction of n deliveries; outcome is empty for a
// delivery stored alone.
func (m *metrics) batch(n int, outcome string) {
	if m == nil {
		return
	}
	m.batchSize.Observe(float64(n))
	if outcome != "" {
		m.batches.WithLabelValues(outcome).Inc()
	}
}
