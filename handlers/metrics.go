package handlers

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
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
	m.deliveries = register(reg, m.deliveries, logger)
	m.duration = register(reg, m.duration, logger)
	return m
}

// register adds c to reg, or reuses the collector already registered under
// its name (a second endpoint built on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, logger zerolog.Logger) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// A clash with a different collector is a mistake in the app's
		// assembly; counting into an unregistered collector keeps the
		// webhook working meanwhile.
		logger.Error().Err(err).Msg("register webhook metrics")
	}
	return c
}

func (m *metrics) observe(event, status string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(event, status).Inc()
	m.duration.WithLabelValues(event).Observe(elapsed.Seconds())
}
