package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/gocraft/work"
	"github.com/google/go-github/v60/github"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// reconcileInstallations stores three installations: 41 live, 42 deleted,
// 43 suspended.
func reconcileInstallations(t *testing.T, d Deps) {
	t.Helper()
	ctx := context.Background()
	m := process.Meta{Via: process.ViaWebhook, FetchedAt: time.Now().Add(-time.Hour)}
	for _, id := range []int64{41, 42, 43} {
		in := &github.Installation{ID: github.Int64(id), Account: &github.User{ID: github.Int64(id * 10), Login: github.String("acct")}}
		if id == 43 {
			in.SuspendedAt = &github.Timestamp{Time: m.FetchedAt}
		}
		if _, err := process.Installation(ctx, d.DB, in, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := process.DeleteInstallation(ctx, d.DB, 42, process.Meta{Via: process.ViaWebhook, FetchedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// pastRun records a finished run that started ago.
func pastRun(t *testing.T, full bool, reason string, ago time.Duration) {
	t.Helper()
	if _, err := env.DB.Exec(`INSERT INTO reconcile_run (full_scan, reason, started_at, finished_at, requests, not_modified, items)
		VALUES ($1, $2, now() - make_interval(secs => $3), now() - make_interval(secs => $3), 0, 0, 0)`,
		full, reason, ago.Seconds()); err != nil {
		t.Fatal(err)
	}
}

func outageJob() *work.Job {
	return &work.Job{Name: JobReconcile, Args: map[string]any{"reason": reconcileOutage}}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestReconcileDecides: a due run records a repositories scan with
// children for each live installation (none for deleted or suspended
// ones) and the run holding them; a run not due records nothing; full and
// outage runs follow their own clocks.
func TestReconcileDecides(t *testing.T) {
	day, week := 24*time.Hour, 7*24*time.Hour
	type past struct {
		full   bool
		reason string
		ago    time.Duration
	}
	tests := []struct {
		name           string
		interval, full time.Duration
		past           []past
		outage         bool
		wantRun        bool
		wantFull       bool
		wantReason     string
	}{
		{name: "first run", interval: day, wantRun: true, wantReason: reconcileSchedule},
		{name: "first run of all: incremental", interval: day, full: week, wantRun: true, wantReason: reconcileSchedule},
		{name: "no full run yet, the first run a week ago: full", interval: day, full: week,
			past: []past{{false, reconcileSchedule, week + time.Hour}, {false, reconcileSchedule, 2 * day}}, wantRun: true, wantFull: true, wantReason: reconcileSchedule},
		{name: "no full run yet, the first run days ago: incremental", interval: day, full: week,
			past: []past{{false, reconcileSchedule, 3 * day}, {false, reconcileSchedule, 2 * day}}, wantRun: true, wantReason: reconcileSchedule},
		{name: "not due", interval: day, full: week, past: []past{{true, reconcileSchedule, time.Hour}}},
		{name: "due, incremental", interval: day, full: week,
			past: []past{{true, reconcileSchedule, 3 * day}, {false, reconcileSchedule, 25 * time.Hour}}, wantRun: true, wantReason: reconcileSchedule},
		{name: "due, full", interval: day, full: week,
			past: []past{{true, reconcileSchedule, week + time.Hour}, {false, reconcileSchedule, 25 * time.Hour}}, wantRun: true, wantFull: true, wantReason: reconcileSchedule},
		{name: "an outage run counts as the last run", interval: day, past: []past{{false, reconcileOutage, 2 * time.Hour}}},
		{name: "schedule off", interval: 0, full: week},
		{name: "outage at once", interval: day, full: week, outage: true,
			past: []past{{true, reconcileSchedule, time.Minute}}, wantRun: true, wantReason: reconcileOutage},
		{name: "outage with the schedule off", interval: 0, outage: true, wantRun: true, wantReason: reconcileOutage},
		{name: "outage not twice within the hour", interval: day, outage: true,
			past: []past{{false, reconcileOutage, 59 * time.Minute}}},
		{name: "outage again after the hour", interval: day, outage: true,
			past: []past{{false, reconcileOutage, 61 * time.Minute}}, wantRun: true, wantReason: reconcileOutage},
	}
	// One truncate for all the cases (it is the slow part): each case
	// empties the runs and scans and queues into its own namespace.
	base := testDeps(t)
	reconcileInstallations(t, base)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := env.DB.Exec(`DELETE FROM reconcile_run; DELETE FROM scan`); err != nil {
				t.Fatal(err)
			}
			d := base
			d.Namespace = fmt.Sprintf("%s_%d", base.Namespace, i)
			t.Cleanup(func() {
				if err := testutil.DeleteNamespace(env.Redis, d.Namespace); err != nil {
					t.Errorf("clean redis: %v", err)
				}
			})
			d.ReconcileInterval, d.FullReconcileInterval = tc.interval, tc.full
			for _, p := range tc.past {
				pastRun(t, p.full, p.reason, p.ago)
			}
			e := newEngine(d)
			var job *work.Job
			if tc.outage {
				job = outageJob()
			}
			if err := e.reconcileJob(context.Background(), job); err != nil {
				t.Fatal(err)
			}
			runs, err := models.ReconcileRuns(models.ReconcileRunWhere.FinishedAt.IsNull()).All(context.Background(), d.DB)
			if err != nil {
				t.Fatal(err)
			}
			var scans int
			if err := d.DB.QueryRow(`SELECT count(*) FROM scan`).Scan(&scans); err != nil {
				t.Fatal(err)
			}
			if !tc.wantRun {
				if len(runs) != 0 || scans != 0 {
					t.Fatalf("%d runs and %d scans recorded, want none", len(runs), scans)
				}
				return
			}
			if len(runs) != 1 {
				t.Fatalf("%d runs recorded, want 1", len(runs))
			}
			r := runs[0]
			if r.FullScan != tc.wantFull || r.Reason != tc.wantReason || len(r.ScanIds) != 1 {
				t.Fatalf("run full=%v reason=%s scans=%v; want full=%v reason=%s and one scan", r.FullScan, r.Reason, r.ScanIds, tc.wantFull, tc.wantReason)
			}
			sc, err := models.FindScan(context.Background(), d.DB, r.ScanIds[0])
			if err != nil {
				t.Fatal(err)
			}
			if sc.Kind != CollectionRepositories || sc.InstallationID.Int64 != 41 || sc.FullScan != tc.wantFull ||
				sc.RequestedBy.String != reconcileRequester || sc.Status != "queued" || scans != 1 {
				t.Fatalf("scan %+v (of %d); want a queued repositories scan of installation 41 only", sc, scans)
			}
			if n := queueLen(t, d.Namespace, SpawnJob(CollectionRepositories)); n != 1 {
				t.Errorf("%d spawn jobs queued, want 1", n)
			}
			kind := reconcileKind(tc.wantFull)
			if v := counterValue(t, e.metrics.reconcileRuns.WithLabelValues(kind, tc.wantReason)); v != 1 {
				t.Errorf("reconcile runs %s/%s = %v, want 1", kind, tc.wantReason, v)
			}
		})
	}
}

// TestReconcileJoinsAndLocks: a scan of the installation already queued
// is joined and recorded in the run; while another process holds the
// lock the job does nothing.
func TestReconcileJoinsAndLocks(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	d.ReconcileInterval = time.Hour
	reconcileInstallations(t, d)
	e := newEngine(d)

	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`SELECT pg_advisory_xact_lock($1)`, reconcileLockKey); err != nil {
		t.Fatal(err)
	}
	if err := e.reconcileJob(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := models.ReconcileRuns().Count(ctx, d.DB); err != nil || n != 0 {
		t.Fatalf("%d runs while the lock is held (%v), want 0", n, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	queued, _, err := NewScheduler(d).Scan(ctx, ScanRequest{Kind: CollectionRepositories, InstallationID: 41, RequestedBy: "someone"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.reconcileJob(ctx, nil); err != nil {
		t.Fatal(err)
	}
	r, err := models.ReconcileRuns().One(ctx, d.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ScanIds) != 1 || r.ScanIds[0] != queued {
		t.Fatalf("run scans %v, want the queued scan %d", r.ScanIds, queued)
	}
	var children bool
	if err := d.DB.QueryRow(`SELECT coalesce((params->>'children')::bool, false) FROM scan WHERE id = $1`, queued).Scan(&children); err != nil {
		t.Fatal(err)
	}
	if !children {
		t.Error("the joined scan does not load children")
	}
}

// TestReconcileFinishWaitsForDescendants: a run is finished only once
// every scan descending from its scans has ended, and then holds their
// sums.
func TestReconcileFinishWaitsForDescendants(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	e := newEngine(d) // ReconcileInterval 0: the job only finishes runs
	insert := func(key, status string, parent sql.NullInt64, requests, notModified, items int) int64 {
		t.Helper()
		var id int64
		if err := d.DB.QueryRow(`INSERT INTO scan (kind, scan_key, status, parent_scan_id, requests, not_modified, items, finished_at)
			VALUES ('labels', $1, $2, $3, $4, $5, $6, CASE WHEN $2 IN ('done', 'failed') THEN now() END) RETURNING id`,
			key, status, parent, requests, notModified, items).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	root := insert("a", "done", sql.NullInt64{}, 3, 1, 10)
	child := insert("b", "done", sql.NullInt64{Int64: root, Valid: true}, 5, 4, 20)
	grandchild := insert("c", "running", sql.NullInt64{Int64: child, Valid: true}, 2, 2, 0)
	other := insert("d", "failed", sql.NullInt64{}, 1, 0, 0)
	var runID int64
	if err := d.DB.QueryRow(`INSERT INTO reconcile_run (full_scan, reason, scan_ids) VALUES (true, 'schedule', $1) RETURNING id`,
		fmt.Sprintf("{%d,%d}", root, other)).Scan(&runID); err != nil {
		t.Fatal(err)
	}
	if err := e.reconcileJob(ctx, nil); err != nil {
		t.Fatal(err)
	}
	r, err := models.FindReconcileRun(ctx, d.DB, runID)
	if err != nil {
		t.Fatal(err)
	}
	if r.FinishedAt.Valid {
		t.Fatal("run finished while a grandchild scan runs")
	}
	if _, err := d.DB.Exec(`UPDATE scan SET status = 'failed', finished_at = now() WHERE id = $1`, grandchild); err != nil {
		t.Fatal(err)
	}
	if err := e.reconcileJob(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(ctx, d.DB); err != nil {
		t.Fatal(err)
	}
	if !r.FinishedAt.Valid || r.Requests.Int != 11 || r.NotModified.Int != 7 || r.Items.Int != 30 {
		t.Fatalf("run finished=%v requests=%d not_modified=%d items=%d; want finished, 11, 7, 30",
			r.FinishedAt.Valid, r.Requests.Int, r.NotModified.Int, r.Items.Int)
	}
	if v := counterValue(t, e.metrics.reconcileRequests.WithLabelValues("full")); v != 11 {
		t.Errorf("full reconcile requests metric %v, want 11", v)
	}
	if v := counterValue(t, e.metrics.reconcileNotModified.WithLabelValues("full")); v != 7 {
		t.Errorf("full reconcile 304s metric %v, want 7", v)
	}
	// Finished runs are counted once.
	if err := e.reconcileJob(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if v := counterValue(t, e.metrics.reconcileRequests.WithLabelValues("full")); v != 11 {
		t.Errorf("full reconcile requests metric %v after another run, want 11", v)
	}
}

// TestReconcileCost: after a load, an incremental reconciliation really
// scans the installation against ghfake; the next job run records what
// its scans cost, which for unchanged data is mostly free 304s.
func TestReconcileCost(t *testing.T) {
	ctx := context.Background()
	seed := &ghfake.SeedOptions{Seed: 14, Accounts: 1, Users: 3, ReposPerAccount: 2, PullsPerRepo: 3, IssuesPerRepo: 3,
		FilesPerPull: 2, CommentsPerIssue: 1, LabelsPerRepo: 2, MilestonesPerRepo: 1, ReviewsPerPull: 1, ReviewCommentsPerPull: 1}
	h := newHarness(t, ghfake.Options{Seed: seed, RateLimit: 100000}, func(d *Deps) { d.ReconcileInterval = time.Hour })
	h.start(4)
	h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, RequestedBy: "test"})
	h.waitIdle(time.Minute)
	h.assertAllDone()

	// Opened while no delivery reaches webhookdb (the harness has no
	// webhook URL): only the reconciliation brings it.
	owner, name := h.repo()
	opened, _, err := h.gh.OpenIssue(ctx, owner, name, ghfake.NewIssue{Title: "opened during the outage"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(h.deps)
	before := h.gh.Stats().ByInstallation[h.inst]
	if err := e.reconcileJob(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitIdle(time.Minute)
	h.assertAllDone()
	spent := h.gh.Stats().ByInstallation[h.inst]
	h.assertMatchesWorld()
	if ok, err := models.GithubIssueExists(ctx, h.deps.DB, opened.GetID()); err != nil || !ok {
		t.Fatalf("the issue opened during the outage is not in the replica (%v)", err)
	}
	if err := e.reconcileJob(ctx, nil); err != nil {
		t.Fatal(err)
	}
	r, err := models.ReconcileRuns().One(ctx, h.deps.DB)
	if err != nil {
		t.Fatal(err)
	}
	if !r.FinishedAt.Valid || r.FullScan || r.Reason != reconcileSchedule {
		t.Fatalf("run %+v; want a finished incremental scheduled run", r)
	}
	var scans, requests, notModified, items int
	var ids []int64
	rows, err := h.deps.DB.Query(`SELECT id, requests, not_modified, items FROM scan WHERE requested_by = $1`, reconcileRequester)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var rq, nm, it int
		if err := rows.Scan(&id, &rq, &nm, &it); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		scans++
		requests, notModified, items = requests+rq, notModified+nm, items+it
	}
	rows.Close()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	t.Logf("run: %d scans, requests %d, not modified %d, items %d; ghfake counted %d requests", scans,
		r.Requests.Int, r.NotModified.Int, r.Items.Int, spent.Requests-before.Requests)
	if scans <= 1 || len(r.ScanIds) != 1 || r.ScanIds[0] != ids[0] {
		t.Fatalf("run scans %v, reconcile scans %v: want one root scan with children", r.ScanIds, ids)
	}
	if r.Requests.Int != requests || r.NotModified.Int != notModified || r.Items.Int != items {
		t.Errorf("run requests %d, 304s %d, items %d; its scans add up to %d, %d, %d",
			r.Requests.Int, r.NotModified.Int, r.Items.Int, requests, notModified, items)
	}
	if got := spent.Requests - before.Requests; got != r.Requests.Int {
		t.Errorf("ghfake served %d requests to the installation, the run recorded %d", got, r.Requests.Int)
	}
	// Data unchanged but for one issue: the listings answer 304 from
	// their ETags, but for the changed page of issues.
	repos := len(h.gh.World().InstallationRepositories(h.inst))
	if r.Items.Int == 0 || r.NotModified.Int == 0 || r.Requests.Int-r.NotModified.Int > 3*repos {
		t.Errorf("%d requests of which %d were 304s; want 304s and at most %d paid", r.Requests.Int, r.NotModified.Int, 3*repos)
	}
	if v := counterValue(t, e.metrics.reconcileRequests.WithLabelValues("incremental")); v != float64(r.Requests.Int) {
		t.Errorf("reconcile requests metric %v, want %d", v, r.Requests.Int)
	}
	if v := counterValue(t, e.metrics.reconcileNotModified.WithLabelValues("incremental")); v != float64(r.NotModified.Int) {
		t.Errorf("reconcile 304s metric %v, want %d", v, r.NotModified.Int)
	}
}
