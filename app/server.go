package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/httpjson"
	"github.com/webhookdb/webhookdb/migrations"
)

// runServer runs the web server, the job workers, or both, until ctx ends;
// then it stops accepting, lets in-flight requests and jobs finish, and
// returns nil.
func runServer(ctx context.Context, cc *cmdContext, web, worker bool) error {
	cfg, err := cc.loadConfig(false)
	if err != nil {
		return err
	}
	// Both halves call GitHub; the web side also checks signatures and
	// signs sessions.
	if err := cfg.RequireGitHubApp(); err != nil {
		return err
	}
	if web {
		if err := cfg.RequireApp(); err != nil {
			return err
		}
	}
	logger := NewLogger(cfg.Log, cc.env.Stderr)
	svc, err := NewServices(cfg, logger)
	if err != nil {
		return err
	}
	defer svc.Close()
	checkSchema(ctx, svc)

	var ln net.Listener
	switch {
	case web:
		ln, err = net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	case cfg.MetricsAddr != "":
		// A worker alone serves only its health and its metrics.
		ln, err = net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("listen on metrics_addr %s: %w", cfg.MetricsAddr, err)
		}
	}
	return serveWith(ctx, svc, ln, web, worker)
}

// checkSchema warns when the database is not at this binary's schema; it
// does not stop the start, since the database may come up later.
func checkSchema(ctx context.Context, svc *Services) {
	v, err := migrations.Version(ctx, svc.DB)
	switch {
	case err != nil:
		svc.Logger.Warn().Err(err).Msg("cannot read the schema version; is the database up and migrated?")
	case v < migrations.Latest():
		svc.Logger.Warn().Int64("version", v).Int64("latest", migrations.Latest()).Msg("database schema is behind this binary; run webhookdb migrate")
	case v > migrations.Latest():
		svc.Logger.Warn().Int64("version", v).Int64("latest", migrations.Latest()).Msg("database schema is newer than this binary")
	}
}

// serve runs the web server on ln (when not nil) and the worker pool (when
// worker is true) until ctx ends, then shuts both down gracefully.
func serve(ctx context.Context, svc *Services, ln net.Listener, worker bool) error {
	return serveWith(ctx, svc, ln, ln != nil, worker)
}

// serveWith is serve, with ln serving every route when web is true and
// only health and metrics (NewOpsHandler) otherwise.
func serveWith(ctx context.Context, svc *Services, ln net.Listener, web, worker bool) error {
	log := svc.Logger
	errc := make(chan error, 1)
	var srv *http.Server
	if ln != nil {
		var handler http.Handler
		if web {
			var err error
			if handler, err = NewHandler(svc); err != nil {
				ln.Close()
				return err
			}
		} else {
			handler = NewOpsHandler(svc)
		}
		srv = newHTTPServer(svc.Config, handler)
		go func() {
			log.Info().Str("addr", ln.Addr().String()).Str("public_url", svc.Config.PublicURL).Msg("web server listening")
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("web server: %w", err)
			}
		}()
	}
	var stopWorkers func()
	if worker {
		workers, err := NewWorkers(svc)
		if err != nil {
			return err
		}
		workers.Start()
		log.Info().Int("concurrency", svc.Config.Workers).Str("namespace", svc.Config.Namespace).Msg("job workers started")
		stopWorkers = workers.Stop
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down: finishing in-flight requests and jobs")
	case runErr = <-errc:
		log.Error().Err(runErr).Msg("shutting down after an error")
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), svc.Config.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	if srv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				log.Error().Err(err).Msg("web server did not finish in time")
			}
		}()
	}
	if stopWorkers != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stop waits for the jobs in progress; they are idempotent, so
			// one cut off by the timeout runs again after a restart.
			done := make(chan struct{})
			go func() { stopWorkers(); close(done) }()
			select {
			case <-done:
			case <-shutdownCtx.Done():
				log.Error().Msg("job workers did not finish in time")
			}
		}()
	}
	wg.Wait()
	log.Info().Msg("stopped")
	return runErr
}

// newHTTPServer is every HTTP server the app runs: each read and write is
// bounded, so a client that sends headers or a body slowly, or never reads
// its answer, is dropped instead of holding a connection and its memory.
func newHTTPServer(cfg Config, handler http.Handler) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		// An idle keep-alive connection waits at most this long for its
		// next request's headers.
		IdleTimeout: 2 * time.Minute,
	}
}

// instrument counts and times every request by route pattern, and turns a
// panic in a handler into a logged 500 instead of a dropped connection.
func instrument(reg prometheus.Registerer, log zerolog.Logger, next http.Handler) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webhookdb_http_requests_total",
		Help: "HTTP requests served, by route and status code.",
	}, []string{"route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "webhookdb_http_request_duration_seconds",
		Help:    "Time to serve HTTP requests, by route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	reg.MustRegister(requests, duration)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error().Interface("panic", p).Str("path", r.URL.Path).Msg("handler panicked")
				if !rec.wrote {
					httpjson.Write(rec, http.StatusInternalServerError, map[string]string{"message": "internal error"})
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
			duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
