// Package promreg registers Prometheus collectors on the app's registry the
// way every layer needs: a collector already registered under the same name
// (a second endpoint or engine built on the one registry) is reused.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Register adds c to reg, or returns the collector of the same type
// already registered under its name. Any other clash is a mistake of the
// app's assembly: it is logged (naming what, e.g. "webhook") and c is
// returned, so its owner keeps counting, unseen, instead of failing.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C, logger zerolog.Logger, what string) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		logger.Error().Err(err).Msg("register " + what + " metrics")
	}
	return c
}
