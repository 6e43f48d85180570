package jobs

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/gocraft/work"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhookdb/webhookdb/ghfake"
)

// metricValue is the value of the series name{labels} in reg (a counter's
// or gauge's value, a histogram's count); ok false when it is not there.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// TestJobMetricsCountRunsByOutcome: wrap counts each run by job name and
// outcome and times it, on the registry of Deps.Metrics.
func TestJobMetricsCountRunsByOutcome(t *testing.T) {
	d := testDeps(t)
	reg := prometheus.NewRegistry()
	d.Metrics = reg
	e := newEngine(d)
	fail := errors.New("boom")
	runs := []struct {
		job string
		err error
	}{{"job_a", nil}, {"job_a", nil}, {"job_a", fail}, {"job_b", fail}}
	for _, r := range runs {
		_ = e.wrap(r.job, func(context.Context, *work.Job) error { return r.err })(&work.Job{Name: r.job})
	}
	// A second engine of the process (the web side's scheduler) shares
	// the registered collectors instead of failing or hiding its counts.
	_ = newEngine(d).wrap("job_b", func(context.Context, *work.Job) error { return nil })(&work.Job{Name: "job_b"})
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"webhookdb_job_runs_total", map[string]string{"job": "job_a", "outcome": "ok"}, 2},
		{"webhookdb_job_runs_total", map[string]string{"job": "job_a", "outcome": "error"}, 1},
		{"webhookdb_job_runs_total", map[string]string{"job": "job_b", "outcome": "error"}, 1},
		{"webhookdb_job_runs_total", map[string]string{"job": "job_b", "outcome": "ok"}, 1},
		{"webhookdb_job_duration_seconds", map[string]string{"job": "job_a"}, 3},
		{"webhookdb_job_duration_seconds", map[string]string{"job": "job_b"}, 2},
	}
	for _, w := range want {
		if got, ok := metricValue(t, reg, w.name, w.labels); !ok || got != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
}

// TestRateLimitGaugesFromJobs: a backfill against ghfake leaves the
// installation's primary limit, as GitHub's last answer gave it, in the
// gauges.
func TestRateLimitGaugesFromJobs(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, ghfake.Options{Seed: &ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 1}}, func(d *Deps) { d.Metrics = reg })
	h.start(2)
	h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, RequestedBy: "test"})
	h.waitIdle(30 * time.Second)
	inst := map[string]string{"installation": strconv.FormatInt(h.inst, 10)}
	limit, ok := metricValue(t, reg, "webhookdb_github_rate_limit_limit", inst)
	if !ok || limit <= 0 {
		t.Fatalf("rate limit limit = %v (present %v)", limit, ok)
	}
	remaining, ok := metricValue(t, reg, "webhookdb_github_rate_limit_remaining", inst)
	if !ok || remaining >= limit {
		t.Errorf("rate limit remaining = %v (present %v), want below the limit %v after a backfill", remaining, ok, limit)
	}
	if reset, ok := metricValue(t, reg, "webhookdb_github_rate_limit_reset_timestamp_seconds", inst); !ok || reset < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("rate limit reset = %v (present %v), want a time to come", reset, ok)
	}
	if n, ok := metricValue(t, reg, "webhookdb_job_runs_total", map[string]string{"job": SpawnJob(CollectionRepositories), "outcome": "ok"}); !ok || n < 1 {
		t.Errorf("spawn_repositories runs = %v, want at least 1", n)
	}
}

// TestObserveRateLimitReadsOnlyThePrimaryLimit: the gauges follow the core
// limit's headers; other resources and incomplete headers leave them.
func TestObserveRateLimitReadsOnlyThePrimaryLimit(t *testing.T) {
	tests := []struct {
		name      string
		header    map[string]string
		remaining float64 // -1: not set
	}{
		{"core", map[string]string{"X-RateLimit-Resource": "core", "X-RateLimit-Remaining": "42", "X-RateLimit-Limit": "5000"}, 42},
		{"no resource header", map[string]string{"X-RateLimit-Remaining": "7", "X-RateLimit-Limit": "5000"}, 7},
		{"search limit", map[string]string{"X-RateLimit-Resource": "search", "X-RateLimit-Remaining": "1", "X-RateLimit-Limit": "30"}, -1},
		{"no limit header", map[string]string{"X-RateLimit-Remaining": "1"}, -1},
		{"garbage", map[string]string{"X-RateLimit-Remaining": "many", "X-RateLimit-Limit": "5000"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := newJobMetrics(reg, testDeps(t).Logger)
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			m.observeRateLimit(9, h)
			got, ok := metricValue(t, reg, "webhookdb_github_rate_limit_remaining", map[string]string{"installation": "9"})
			if tt.remaining < 0 {
				if ok {
					t.Fatalf("gauge set to %v", got)
				}
				return
			}
			if !ok || got != tt.remaining {
				t.Fatalf("remaining = %v (present %v), want %v", got, ok, tt.remaining)
			}
		})
	}
}

// TestCollectorReadsScansDeliveriesAndQueues: the scrape-time gauges say
// what the database and Redis hold.
func TestCollectorReadsScansDeliveriesAndQueues(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := d.DB.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO scan (kind, scan_key, status, pages_done, finished_at, created_at) VALUES
		('issues', 'q1', 'queued', 0, NULL, now()),
		('issues', 'q2', 'queued', 0, NULL, now()),
		('issues', 'r1', 'running', 3, NULL, now()),
		('issues', 'f1', 'failed', 1, now() - interval '10 minutes', now()),
		('issues', 'f2', 'failed', 1, now() - interval '2 hours', now()),
		('issues', 'd1', 'done', 9, now(), now())`)
	exec(`INSERT INTO github_installation (id, account_id, account_login, deleted_at, suspended_at) VALUES
		(1, 1, 'live', NULL, NULL), (2, 2, 'deleted', now(), NULL), (3, 3, 'suspended', NULL, now()), (4, 4, 'quiet', NULL, NULL)`)
	exec(`INSERT INTO webhook_delivery (delivery_id, event, installation_id, received_at, status, gave_up_at) VALUES
		('a', 'issues', 1, now() - interval '2 hours', 'processed', NULL),
		('b', 'issues', 1, now() - interval '30 minutes', 'failed', NULL),
		('c', 'issues', 2, now(), 'processed', NULL),
		('d', 'issues', 3, now(), 'failed', now()),
		('e', 'issues', NULL, now(), 'failed', NULL)`)
	enq := NewEnqueuer(d)
	for _, name := range []string{"spawn_issues", "spawn_issues", "sync_user"} {
		if _, err := enq.Enqueue(name, work.Q{"scan_id": 1}); err != nil {
			t.Fatal(err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(d))
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"webhookdb_scans", map[string]string{"status": "queued"}, 2},
		{"webhookdb_scans", map[string]string{"status": "running"}, 1},
		{"webhookdb_scans", map[string]string{"status": "failed"}, 1}, // the last hour's only
		{"webhookdb_scan_open_pages_done", nil, 3},
		{"webhookdb_job_queue_depth", map[string]string{"job": "spawn_issues"}, 2},
		{"webhookdb_job_queue_depth", map[string]string{"job": "sync_user"}, 1},
		{"webhookdb_deliveries_failing", nil, 2},
		{"webhookdb_metrics_scrape_error", map[string]string{"part": "scans"}, 0},
		{"webhookdb_metrics_scrape_error", map[string]string{"part": "queues"}, 0},
		{"webhookdb_metrics_scrape_error", map[string]string{"part": "deliveries"}, 0},
	}
	for _, w := range want {
		if got, ok := metricValue(t, reg, w.name, w.labels); !ok || got != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
	// The newest delivery of the live installation only: deleted and
	// suspended ones are not watched, one without deliveries has no age.
	age, ok := metricValue(t, reg, "webhookdb_newest_delivery_age_seconds", map[string]string{"installation": "1"})
	if !ok || age < 25*60 || age > 60*60 {
		t.Errorf("newest delivery age of installation 1 = %v (present %v), want about 30 minutes", age, ok)
	}
	for _, inst := range []string{"2", "3", "4"} {
		if v, ok := metricValue(t, reg, "webhookdb_newest_delivery_age_seconds", map[string]string{"installation": inst}); ok {
			t.Errorf("installation %s has a newest delivery age %v, want none", inst, v)
		}
	}

	// The queue reading stands in for gocraft/work's Client.Queues, which
	// cannot take a context: both must agree.
	mine, err := queueDepths(ctx, d.Redis, d.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := work.NewClient(d.Namespace, d.Redis).Queues()
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].job < mine[j].job })
	if len(mine) != len(theirs) {
		t.Fatalf("queues: ours %+v, gocraft/work's %d", mine, len(theirs))
	}
	for i, q := range theirs {
		if mine[i].job != q.JobName || mine[i].count != q.Count || (q.Count > 0 && mine[i].enqueuedAt == 0) {
			t.Errorf("queue %d: ours %+v, gocraft/work's %+v", i, mine[i], *q)
		}
	}
}

// TestCollectorReportsAnUnreadablePart: with the database gone, the scrape
// still succeeds, reports the parts it could not read, and keeps Redis's.
func TestCollectorReportsAnUnreadablePart(t *testing.T) {
	d := testDeps(t)
	closed, err := sql.Open("pgx", env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	d.DB = closed
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(d))
	for part, want := range map[string]float64{"scans": 1, "deliveries": 1, "queues": 0} {
		if got, ok := metricValue(t, reg, "webhookdb_metrics_scrape_error", map[string]string{"part": part}); !ok || got != want {
			t.Errorf("scrape error of %s = %v (present %v), want %v", part, got, ok, want)
		}
	}
	if _, ok := metricValue(t, reg, "webhookdb_scans", nil); ok {
		t.Error("webhookdb_scans reported without a database")
	}
}
