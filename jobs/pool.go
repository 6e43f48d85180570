// Package jobs holds the background work of webhookdb: gocraft/work jobs on
// Redis that call GitHub with installation tokens and hand the results to
// the process package.
//
// A collection (an installation's repositories, a repository's pull
// requests, a pull request's files...) is scanned by three jobs: spawn_<c>
// fetches page 1, learns the page count from the Link header and queues one
// sync_page_of_<c> per further page; the pages run in parallel; the page
// whose transaction brings pages_done+pages_failed to pages_total queues
// <c>_scanned, which sweeps what GitHub no longer lists and ends the scan.
// The fan-in lives in PostgreSQL (scan, scan_page), so any worker process
// can run any job and a killed one loses nothing: every job is idempotent
// and a periodic sweeper re-queues scans that stopped making progress.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Deps is what every job needs. It is built once by the app and shared by
// every job run; nothing in it changes after start.
type Deps struct {
	DB        *sql.DB
	Redis     *redis.Pool
	Namespace string
	Logger    zerolog.Logger

	// GitHub makes installation clients (installation tokens through
	// ghinstallation) and the app client.
	GitHub githubapp.ClientCreator
	// InstallationConcurrency caps the jobs of one installation calling
	// GitHub at once, across every worker process; default 4.
	InstallationConcurrency int
	// LeaseTTL is how long a concurrency slot stays taken by a job that
	// never released it (a killed worker); default 2 minutes.
	LeaseTTL time.Duration
	// StuckAfter is how long a queued or running scan may go without
	// progress before the sweeper queues its missing jobs again; default
	// 2 minutes.
	StuckAfter time.Duration
	// MaxFails is how many times a job runs before its page fails for
	// good; default 5.
	MaxFails uint
	// RetryDelay is the first retry's delay, doubling after each failure
	// (up to 5 minutes); default 2s. gocraft/work counts it in seconds.
	RetryDelay time.Duration
	// BusyDelay is how long a job waits for a slot of its installation
	// at its concurrency cap (woken when one is released) before it is
	// queued again for that long; default 1s.
	BusyDelay time.Duration
	// RateLimitFloor is how long an installation waits when GitHub says
	// its limit is spent but the reset time it gives has already passed
	// (clock skew); default 30s.
	RateLimitFloor time.Duration
	// SecondaryMinWait is how long an installation waits after a
	// secondary limit that names no wait (GitHub: "at least one minute");
	// default a minute.
	SecondaryMinWait time.Duration
	// SweepSpec is the cron spec (with seconds) of the periodic sweeper;
	// default every 15 seconds. "-" turns it off.
	SweepSpec string
	// RevokedRetention is how long a private repository no live
	// installation covers keeps its data before purge_revoked removes it;
	// 0 removes it at the next run (the webhook that ended the access
	// already did).
	RevokedRetention time.Duration
	// PurgeSpec is the cron spec (with seconds) of purge_revoked; default
	// every minute. "-" turns it off.
	PurgeSpec string

	// Metrics is the app's registry for the jobs' metrics; nil registers
	// nothing (the metrics are still counted, unseen).
	Metrics prometheus.Registerer

	// CatchupInterval is how often catch_up_deliveries reads GitHub's
	// delivery log (also once when the pool starts); default 5 minutes.
	CatchupInterval time.Duration
	// ReconcileInterval is how often every installation gets an
	// incremental scan; 0 turns it off. FullReconcileInterval is how often
	// that scan is a full one instead; 0 never.
	ReconcileInterval     time.Duration
	FullReconcileInterval time.Duration
	// DeliveryRetention is how long webhook_delivery keeps payloads;
	// DeliveryLogRetention how long it keeps the rows; defaults 14 and 90
	// days.
	DeliveryRetention    time.Duration
	DeliveryLogRetention time.Duration
	// ReplayInterval is how often replay_failed_deliveries looks for
	// failed deliveries due for another try; default 30 seconds.
	// RetentionInterval is how often apply_retention runs; default an hour.
	ReplayInterval    time.Duration
	RetentionInterval time.Duration
	// ReplayBaseDelay is the wait after a delivery's first failed replay,
	// doubling after each further one (up to an hour); default 30 seconds.
	// ReplayMaxAttempts is how many replays a failed delivery gets before
	// it is given up; default 8.
	ReplayBaseDelay   time.Duration
	ReplayMaxAttempts int
	// CatchupAskRate caps the redeliveries catch-up asks GitHub for, per
	// second; default 20. Negative: no cap (tests).
	CatchupAskRate int
	// Replay processes a stored delivery again, as the webhook endpoint
	// would (the app passes the handlers' replay); nil turns replay off.
	Replay Replay
}

// Replay stores a delivery again from its stored payload, through the
// webhook handlers, and reports the stored status (processed, stale,
// ignored, failed...). An error means it failed again.
type Replay func(ctx context.Context, d StoredDelivery) (status string, err error)

// StoredDelivery is a webhook delivery as webhook_delivery holds it.
type StoredDelivery struct {
	GUID       string
	Event      string
	Payload    []byte
	ReceivedAt time.Time
}

func (d Deps) withDefaults() Deps {
	if d.InstallationConcurrency <= 0 {
		d.InstallationConcurrency = 4
	}
	if d.LeaseTTL <= 0 {
		d.LeaseTTL = 2 * time.Minute
	}
	if d.StuckAfter <= 0 {
		d.StuckAfter = 2 * time.Minute
	}
	if d.MaxFails == 0 {
		d.MaxFails = 5
	}
	if d.RetryDelay <= 0 {
		d.RetryDelay = 2 * time.Second
	}
	if d.BusyDelay <= 0 {
		d.BusyDelay = time.Second
	}
	if d.RateLimitFloor <= 0 {
		d.RateLimitFloor = 30 * time.Second
	}
	if d.SecondaryMinWait <= 0 {
		d.SecondaryMinWait = secondaryMinWait
	}
	if d.SweepSpec == "" {
		d.SweepSpec = "*/15 * * * * *"
	}
	if d.PurgeSpec == "" {
		d.PurgeSpec = "0 * * * * *"
	}
	if d.CatchupInterval <= 0 {
		d.CatchupInterval = 5 * time.Minute
	}
	if d.CatchupAskRate == 0 {
		d.CatchupAskRate = 20
	}
	if d.DeliveryRetention <= 0 {
		d.DeliveryRetention = 14 * 24 * time.Hour
	}
	if d.DeliveryLogRetention <= 0 {
		d.DeliveryLogRetention = 90 * 24 * time.Hour
	}
	if d.ReplayInterval <= 0 {
		d.ReplayInterval = 30 * time.Second
	}
	if d.RetentionInterval <= 0 {
		d.RetentionInterval = time.Hour
	}
	if d.ReplayBaseDelay <= 0 {
		d.ReplayBaseDelay = DefaultReplayBaseDelay
	}
	if d.ReplayMaxAttempts <= 0 {
		d.ReplayMaxAttempts = 8
	}
	return d
}

// Context is gocraft/work's per-job context. gocraft/work builds a fresh one
// for each job by reflection, so it carries no state of its own.
type Context struct{}

// JobSweep is the periodic sweeper's job name.
const JobSweep = "sweep_scans"

// jobTimeout bounds one job run, so a hung GitHub answer frees its worker.
const jobTimeout = 5 * time.Minute

// NewWorkerPool builds the pool that runs every job with the given
// concurrency. It does not start it.
func NewWorkerPool(d Deps, concurrency int) *work.WorkerPool {
	e := newEngine(d)
	// The scan jobs' follow-ups run in the pool's free slots (handoff.go).
	e.local = newLocal(concurrency, e.handlers())
	pool := work.NewWorkerPool(Context{}, uint(concurrency), e.deps.Namespace, e.deps.Redis)
	opts := work.JobOptions{
		MaxFails: e.deps.MaxFails,
		Backoff:  e.backoff,
	}
	for name, fn := range e.handlers() {
		pool.JobWithOptions(name, opts, e.wrap(name, fn))
	}
	// The sweeper is cheap and idempotent; one failed run is followed by
	// the next, so it does not retry.
	pool.JobWithOptions(JobSweep, work.JobOptions{MaxFails: 1, SkipDead: true}, e.wrap(JobSweep, func(ctx context.Context, _ *work.Job) error {
		_, err := e.sweep(ctx)
		return err
	}))
	if e.deps.SweepSpec != "-" {
		pool.PeriodicallyEnqueue(e.deps.SweepSpec, JobSweep)
	}
	// Like the sweeper: idempotent, and the next run picks up what one
	// failed run left.
	pool.JobWithOptions(JobPurgeRevoked, work.JobOptions{MaxFails: 1, SkipDead: true}, e.wrap(JobPurgeRevoked, func(ctx context.Context, _ *work.Job) error {
		_, err := e.purgeRevoked(ctx, time.Now())
		return err
	}))
	if e.deps.PurgeSpec != "-" {
		pool.PeriodicallyEnqueue(e.deps.PurgeSpec, JobPurgeRevoked)
	}
	// The periodic jobs of reliability.go: each idempotent, so a failed
	// run is followed by the next instead of retried.
	for name, fn := range e.periodicHandlers() {
		pool.JobWithOptions(name, work.JobOptions{MaxFails: 1, SkipDead: true}, e.wrap(name, fn))
	}
	return pool
}

// NewEnqueuer builds the enqueuer that web handlers use to queue jobs.
func NewEnqueuer(d Deps) *work.Enqueuer {
	return work.NewEnqueuer(d.Namespace, d.Redis)
}

// engine is the shared state of the jobs of one process: Deps, the
// enqueuer, and the installation tokens made after GitHub refused one
// (reauth.go).
type engine struct {
	deps Deps
	enq  *work.Enqueuer
	// renewals holds by installation id the *renewed token made after a
	// 401, shared by the engine's sessions.
	renewals *sync.Map
	// metrics are the jobs' Prometheus metrics (metrics.go).
	metrics *jobMetrics
	// local is the worker pool's hand-off (handoff.go); nil on the web
	// side, which runs no jobs.
	local *handoff
	// leaseRenewed, a test hook, is told each lease renewal and the new
	// expiry; nil in production.
	leaseRenewed func(inst int64, expiry time.Time)
}

func newEngine(d Deps) *engine {
	d = d.withDefaults()
	return &engine{deps: d, enq: NewEnqueuer(d), renewals: &sync.Map{}, metrics: newJobMetrics(d.Metrics, d.Logger)}
}

// backoff is the delay in seconds before retry number job.Fails.
func (e *engine) backoff(job *work.Job) int64 {
	d := e.deps.RetryDelay
	for i := int64(1); i < job.Fails && d < 5*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 5*time.Minute)
	return max(int64(d/time.Second), 1)
}

// lastAttempt says whether a failure of this run sends the job to the dead
// queue; the job then records the failure itself so its scan still ends.
func (e *engine) lastAttempt(job *work.Job) bool {
	return job.Fails+1 >= int64(e.deps.MaxFails)
}

type jobFunc func(ctx context.Context, job *work.Job) error

// wrap turns a job function into gocraft/work's generic handler: a context
// with a deadline and a logged error.
func (e *engine) wrap(name string, fn jobFunc) func(*work.Job) error {
	return func(job *work.Job) error {
		if e.local != nil {
			return e.runFetched(name, fn, job)
		}
		return e.run(context.Background(), name, fn, job)
	}
}

// run runs one job on a context derived from parent (which carries the
// hand-off's crew, if any).
func (e *engine) run(parent context.Context, name string, fn jobFunc, job *work.Job) error {
	ctx, cancel := context.WithTimeout(parent, jobTimeout)
	defer cancel()
	start := time.Now()
	err := fn(ctx, job)
	e.metrics.observeJob(name, err, time.Since(start))
	if err != nil {
		e.deps.Logger.Warn().Err(err).Str("job", name).Str("job_id", job.ID).
			Interface("args", job.Args).Int64("fails", job.Fails).Msg("job failed; it is retried")
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// handlers maps every job name to its function.
func (e *engine) handlers() map[string]jobFunc {
	h := map[string]jobFunc{}
	for _, c := range collections {
		h[SpawnJob(c.name)] = e.spawnJob
		h[PageJob(c.name)] = e.pageJob
		h[ScannedJob(c.name)] = e.scannedJob
	}
	for _, k := range singleKinds {
		h[k] = e.singleJob
	}
	return h
}
