package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gomodule/redigo/redis"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/load"
)

// Services are the long-lived connections and registries of one process.
type Services struct {
	Config  Config
	Logger  zerolog.Logger
	DB      *sql.DB
	Redis   *redis.Pool
	Metrics *prometheus.Registry
	// GitHub makes app and installation clients; nil when the app is not
	// configured (migrate needs no GitHub).
	GitHub githubapp.ClientCreator

	// closers release what the routes started (the session store's
	// cleanup); Close runs them before closing the pools they use.
	closers []func()
}

// NewLogger builds the process logger from the configuration.
func NewLogger(c LogConfig, w io.Writer) zerolog.Logger {
	if c.Format == "text" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !isTerminal(w)}
	}
	// Many goroutines log at once; the writer may not be safe for that
	// (a bytes.Buffer in tests), so serialise the writes.
	w = zerolog.SyncWriter(w)
	level, err := zerolog.ParseLevel(c.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// isTerminal says whether w is a character device (colours make sense).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// OpenDB opens a PostgreSQL pool. It does not connect: readiness is checked
// by Ping, so a process can start while the database is still coming up.
func OpenDB(url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// OpenRedis builds a Redis pool for url.
func OpenRedis(url string, maxActive int) *redis.Pool {
	return &redis.Pool{
		MaxIdle:     maxActive,
		MaxActive:   maxActive,
		Wait:        true,
		IdleTimeout: 5 * time.Minute,
		Dial: func() (redis.Conn, error) {
			return redis.DialURL(url,
				redis.DialConnectTimeout(5*time.Second),
				redis.DialReadTimeout(30*time.Second),
				redis.DialWriteTimeout(10*time.Second))
		},
		TestOnBorrow: func(c redis.Conn, t time.Time) error {
			if time.Since(t) < time.Minute {
				return nil
			}
			_, err := c.Do("PING")
			return err
		},
	}
}

// NewServices opens the database and Redis pools and the metrics registry.
func NewServices(c Config, logger zerolog.Logger) (*Services, error) {
	db, err := OpenDB(c.DatabaseURL)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var gh githubapp.ClientCreator
	if c.GitHub.App.IntegrationID != 0 && c.GitHub.App.PrivateKey != "" {
		if gh, err = NewClientCreator(c, newGitHubMetrics(reg, logger).option()); err != nil {
			db.Close()
			return nil, err
		}
	}
	pool := OpenRedis(c.RedisURL, c.Workers*2+16)
	// Scans, queues, delivery freshness: read from the database and Redis
	// at each scrape (jobs/collector.go).
	reg.MustRegister(jobs.NewCollector(jobs.Deps{DB: db, Redis: pool, Namespace: c.Namespace, Logger: logger}))
	return &Services{
		Config:  c,
		Logger:  logger,
		DB:      db,
		Redis:   pool,
		Metrics: reg,
		GitHub:  gh,
	}, nil
}

// NewClientCreator builds the GitHub client creator of the app. It caches
// one client per installation, so a token (ghinstallation) is shared by
// every job, webhook and load request of the process instead of being
// minted per use. A spent rate limit is shared through the installation's
// pause in Redis (jobs/throttle.go), which every process sees.
// NewServices passes the GitHub request metrics (githubmetrics.go) in opts,
// as the base transport.
func NewClientCreator(c Config, opts ...githubapp.ClientOption) (githubapp.ClientCreator, error) {
	opts = append([]githubapp.ClientOption{
		githubapp.WithClientUserAgent("webhookdb"),
		// A hung GitHub answer must not hold a worker or an inline load
		// for ever; a minute is far beyond any normal API call.
		githubapp.WithClientTimeout(time.Minute),
		// Hands GitHub's rate-limit headers to the inline load request
		// that made the call; a no-op for every other caller.
		githubapp.WithClientMiddleware(load.RecordRateLimit),
	}, opts...)
	cc, err := githubapp.NewDefaultCachingClientCreator(c.GitHub, opts...)
	if err != nil {
		return nil, fmt.Errorf("GitHub client creator: %w", err)
	}
	return cc, nil
}

// Close stops what the routes started, then releases the pools.
func (s *Services) Close() error {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	return errors.Join(s.DB.Close(), s.Redis.Close())
}

// Ready checks that the database and Redis answer. The error names the one
// that does not.
func (s *Services) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var errs []error
	if err := s.DB.PingContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("database: %w", err))
	}
	conn, err := s.Redis.GetContext(ctx)
	if err == nil {
		_, err = redis.DoContext(conn, ctx, "PING")
		conn.Close()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("redis: %w", err))
	}
	return errors.Join(errs...)
}
