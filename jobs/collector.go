package jobs

// The state an operator watches, read from PostgreSQL and Redis at each
// scrape rather than counted, so that every process reports the same
// figures whichever of them did the work (alert rules take max() across
// processes).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhookdb/webhookdb/models"
)

// collectTimeout bounds one scrape's queries, so a slow database makes a
// scrape report an error instead of hanging Prometheus.
const collectTimeout = 2 * time.Second

// Collector is the prometheus.Collector of scans, job queues and webhook
// deliveries (NewCollector).
type Collector struct {
	deps Deps

	scans          *prometheus.Desc
	scanPages      *prometheus.Desc
	queueDepth     *prometheus.Desc
	queueLatency   *prometheus.Desc
	newestDelivery *prometheus.Desc
	failing        *prometheus.Desc
	scrapeError    *prometheus.Desc
}

// NewCollector reads, at each scrape, with d's database and Redis (d.DB,
// d.Redis, d.Namespace, d.Logger; the rest is unused):
//   - webhookdb_scans{status}: queued and running scans, and scans failed
//     in the last hour;
//   - webhookdb_scan_open_pages_done: pages done of the queued and running
//     scans (unchanged for long while scans are open: stuck);
//   - webhookdb_job_queue_depth{job}, webhookdb_job_queue_latency_seconds{job}:
//     gocraft/work's queues;
//   - webhookdb_newest_delivery_age_seconds{installation}: age of the newest
//     delivery of each live installation;
//   - webhookdb_deliveries_failing: failed deliveries not given up;
//   - webhookdb_metrics_scrape_error{part}: 1 when that part could not be
//     read at this scrape (its other metrics are then missing).
func NewCollector(d Deps) *Collector {
	return &Collector{
		deps: d,
		scans: prometheus.NewDesc("webhookdb_scans",
			"Scans queued and running now, and failed in the last hour, by status.", []string{"status"}, nil),
		scanPages: prometheus.NewDesc("webhookdb_scan_open_pages_done",
			"Pages done so far by the scans queued and running now; flat while scans stay open means they are stuck.", nil, nil),
		queueDepth: prometheus.NewDesc("webhookdb_job_queue_depth",
			"Jobs waiting in gocraft/work's queue, by job name.", []string{"job"}, nil),
		queueLatency: prometheus.NewDesc("webhookdb_job_queue_latency_seconds",
			"How long the oldest job of the queue has waited, by job name.", []string{"job"}, nil),
		newestDelivery: prometheus.NewDesc("webhookdb_newest_delivery_age_seconds",
			"Seconds since the newest webhook delivery of each live (not deleted, not suspended) installation.", []string{"installation"}, nil),
		failing: prometheus.NewDesc("webhookdb_deliveries_failing",
			"Webhook deliveries stored as failed and not given up (replay will try them again).", nil, nil),
		scrapeError: prometheus.NewDesc("webhookdb_metrics_scrape_error",
			"1 when a part of the scrape-time metrics (scans, queues, deliveries) could not be read.", []string{"part"}, nil),
	}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.scans, c.scanPages, c.queueDepth, c.queueLatency, c.newestDelivery, c.failing, c.scrapeError} {
		ch <- d
	}
}

// Collect reads every part; a part that fails is logged and reported by
// webhookdb_metrics_scrape_error, and the others are still sent.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	// Collect has no context of its own: the scrape's bound is here.
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	parts := []struct {
		name string
		fn   func(context.Context, chan<- prometheus.Metric) error
	}{
		{"scans", c.collectScans},
		{"queues", c.collectQueues},
		{"deliveries", c.collectDeliveries},
	}
	for _, p := range parts {
		failed := 0.0
		if err := p.fn(ctx, ch); err != nil {
			failed = 1
			c.deps.Logger.Warn().Err(err).Str("part", p.name).Msg("metrics scrape")
		}
		ch <- prometheus.MustNewConstMetric(c.scrapeError, prometheus.GaugeValue, failed, p.name)
	}
}

// collectScans counts open scans by status (scan_running_key_idx covers
// them) and failures of the last hour (scan_finished_at_idx).
// Hand-written: one statement with FILTERed counts, which the models
// cannot state, instead of four round trips.
func (c *Collector) collectScans(ctx context.Context, ch chan<- prometheus.Metric) error {
	var queued, running, failed, pages int64
	err := c.deps.DB.QueryRowContext(ctx, `
		SELECT count(*) FILTER (WHERE status = 'queued'),
		       count(*) FILTER (WHERE status = 'running'),
		       count(*) FILTER (WHERE status = 'failed'),
		       coalesce(sum(pages_done) FILTER (WHERE status IN ('queued', 'running')), 0)
		FROM scan
		WHERE status IN ('queued', 'running')
		   OR (status = 'failed' AND finished_at > now() - interval '1 hour')`).Scan(&queued, &running, &failed, &pages)
	if err != nil {
		return fmt.Errorf("count scans by status: %w", err)
	}
	ch <- prometheus.MustNewConstMetric(c.scans, prometheus.GaugeValue, float64(queued), "queued")
	ch <- prometheus.MustNewConstMetric(c.scans, prometheus.GaugeValue, float64(running), "running")
	ch <- prometheus.MustNewConstMetric(c.scans, prometheus.GaugeValue, float64(failed), "failed")
	ch <- prometheus.MustNewConstMetric(c.scanPages, prometheus.GaugeValue, float64(pages))
	return nil
}

// collectQueues reads gocraft/work's queues as its Client.Queues does (the
// same keys: <namespace>:known_jobs, <namespace>:jobs:<name>), with the
// scrape's context, which Queues cannot take: it would wait for a Redis
// connection unbounded. A test compares the two.
func (c *Collector) collectQueues(ctx context.Context, ch chan<- prometheus.Metric) error {
	qs, err := queueDepths(ctx, c.deps.Redis, c.deps.Namespace)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	for _, q := range qs {
		latency := 0.0
		if q.count > 0 && q.enqueuedAt > 0 {
			latency = float64(max(now-q.enqueuedAt, 0))
		}
		ch <- prometheus.MustNewConstMetric(c.queueDepth, prometheus.GaugeValue, float64(q.count), q.job)
		ch <- prometheus.MustNewConstMetric(c.queueLatency, prometheus.GaugeValue, latency, q.job)
	}
	return nil
}

type queueDepth struct {
	job        string
	count      int64
	enqueuedAt int64 // of the oldest job waiting, Unix seconds; 0 if none
}

func queueDepths(ctx context.Context, pool *redis.Pool, namespace string) ([]queueDepth, error) {
	conn, err := pool.GetContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue depths: redis: %w", err)
	}
	defer conn.Close()
	prefix := namespace
	if prefix != "" && prefix[len(prefix)-1] != ':' {
		prefix += ":"
	}
	names, err := redis.Strings(redis.DoContext(conn, ctx, "SMEMBERS", prefix+"known_jobs"))
	if err != nil {
		return nil, fmt.Errorf("queue depths: known jobs: %w", err)
	}
	out := make([]queueDepth, 0, len(names))
	for _, name := range names {
		n, err := redis.Int64(redis.DoContext(conn, ctx, "LLEN", prefix+"jobs:"+name))
		if err != nil {
			return nil, fmt.Errorf("queue depth of %s: %w", name, err)
		}
		q := queueDepth{job: name, count: n}
		if n > 0 {
			// The oldest job is at the tail (gocraft/work pushes at the
			// head); its JSON holds its enqueue time.
			raw, err := redis.Bytes(redis.DoContext(conn, ctx, "LINDEX", prefix+"jobs:"+name, -1))
			if err != nil && !errors.Is(err, redis.ErrNil) {
				return nil, fmt.Errorf("oldest job of %s: %w", name, err)
			}
			q.enqueuedAt = enqueuedAt(raw)
		}
		out = append(out, q)
	}
	return out, nil
}

// collectDeliveries reads the newest delivery of each live installation,
// one probe of webhook_delivery_installation_idx per installation through
// a LATERAL subquery (a plain GROUP BY would read every delivery), and
// counts the failed deliveries not given up (webhook_delivery_replay_idx).
// The first is hand-written: the models cannot state a LATERAL join.
func (c *Collector) collectDeliveries(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.deps.DB.QueryContext(ctx, `
		SELECT i.id, extract(epoch FROM now() - d.received_at)::float8
		FROM github_installation i
		CROSS JOIN LATERAL (
			SELECT w.received_at FROM webhook_delivery w
			WHERE w.installation_id = i.id
			ORDER BY w.received_at DESC LIMIT 1) d
		WHERE i.deleted_at IS NULL AND i.suspended_at IS NULL`)
	if err != nil {
		return fmt.Errorf("newest delivery per installation: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var age float64
		if err := rows.Scan(&id, &age); err != nil {
			return fmt.Errorf("newest delivery per installation: %w", err)
		}
		ch <- prometheus.MustNewConstMetric(c.newestDelivery, prometheus.GaugeValue, max(age, 0), strconv.FormatInt(id, 10))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("newest delivery per installation: %w", err)
	}
	failing, err := models.WebhookDeliveries(models.WebhookDeliveryWhere.Status.EQ("failed"),
		models.WebhookDeliveryWhere.GaveUpAt.IsNull()).Count(ctx, c.deps.DB)
	if err != nil {
		return fmt.Errorf("count failing deliveries: %w", err)
	}
	ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, float64(failing))
	return nil
}

// enqueuedAt reads a queued job's enqueue time (gocraft/work's JSON); 0
// when it cannot be read.
func enqueuedAt(raw []byte) int64 {
	var j work.Job
	if len(raw) == 0 || json.Unmarshal(raw, &j) != nil {
		return 0
	}
	return j.EnqueuedAt
}
