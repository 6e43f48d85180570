package jobs

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/types"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// retentionDay is a day, for ages.
const retentionDay = 24 * time.Hour

// retentionDeps keeps payloads 5 days and rows 20.
func retentionDeps(t *testing.T) Deps {
	d := testDeps(t)
	d.DeliveryRetention = 5 * retentionDay
	d.DeliveryLogRetention = 20 * retentionDay
	return d
}

type deliveryRow struct {
	guid      string
	age       time.Duration
	status    string
	gaveUp    bool
	noPayload bool
}

func insertDelivery(t *testing.T, now time.Time, r deliveryRow) {
	t.Helper()
	d := &models.WebhookDelivery{DeliveryID: r.guid, Event: "issues", ReceivedAt: now.Add(-r.age), Status: r.status}
	if !r.noPayload {
		d.Payload = null.JSONFrom([]byte(`{"action":"opened"}`))
	}
	if r.gaveUp {
		d.GaveUpAt = null.TimeFrom(now.Add(-r.age + time.Hour))
	}
	if err := d.Insert(context.Background(), env.DB, boil.Infer()); err != nil {
		t.Fatalf("insert delivery %s: %v", r.guid, err)
	}
}

type scanRowSpec struct {
	name       string
	key        string
	status     string
	incomplete bool
	pagesTotal int // 0: NULL
	finished   time.Duration
	parent     string
	pages      int
}

// insertScans stores the scans (parents first) and their pages, and
// returns their ids by name.
func insertScans(t *testing.T, now time.Time, specs []scanRowSpec) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	ids := map[string]int64{}
	for _, s := range specs {
		sc := &models.Scan{Kind: CollectionIssues, ScanKey: s.key, Params: types.JSON(`{}`), Status: s.status,
			Incomplete: s.incomplete, StartedAt: null.TimeFrom(now.Add(-s.finished - time.Minute)),
			FinishedAt: null.TimeFrom(now.Add(-s.finished))}
		if s.pagesTotal > 0 {
			sc.PagesTotal = null.IntFrom(s.pagesTotal)
		}
		if s.parent != "" {
			sc.ParentScanID = null.Int64From(ids[s.parent])
		}
		if err := sc.Insert(ctx, env.DB, boil.Infer()); err != nil {
			t.Fatalf("insert scan %s: %v", s.name, err)
		}
		ids[s.name] = sc.ID
		for p := 1; p <= s.pages; p++ {
			pg := &models.ScanPage{ScanID: sc.ID, Page: p, Status: "done", SeenIds: types.Int64Array{1, 2, 3}}
			if err := pg.Insert(ctx, env.DB, boil.Infer()); err != nil {
				t.Fatalf("insert page %d of scan %s: %v", p, s.name, err)
			}
		}
	}
	return ids
}

func insertETag(t *testing.T, url string, updated time.Time) {
	t.Helper()
	a := &models.APIEtag{URL: url, Etag: `"x"`, UpdatedAt: updated}
	if err := a.Insert(context.Background(), env.DB, boil.Infer()); err != nil {
		t.Fatalf("insert etag %s: %v", url, err)
	}
}

func insertCatchupRequest(t *testing.T, guid string, requested time.Time) {
	t.Helper()
	c := &models.CatchupRequest{GUID: guid, GithubDeliveryID: 1, Event: "issues", DeliveredAt: requested.Add(-time.Minute), RequestedAt: requested}
	if err := c.Insert(context.Background(), env.DB, boil.Infer()); err != nil {
		t.Fatalf("insert catchup request %s: %v", guid, err)
	}
}

func retentionBury(t *testing.T, id int64, at time.Time) {
	t.Helper()
	if err := process.Bury(context.Background(), env.DB, process.KindIssue, id, process.Meta{Via: process.ViaWebhook, FetchedAt: at}); err != nil {
		t.Fatalf("bury %d: %v", id, err)
	}
}

func retentionCount(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := env.DB.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestRetention: each kind of row goes only past its retention, and what
// later work needs stays: the payload of a failed delivery replay has not
// given up, the newest complete scan of a key (incremental scans start
// from it), the newest page count, the children of a recent load, the
// scans of an unfinished reconciliation, the tombstones a pending replay
// may need. A second run removes nothing more; the metric counts it all.
func TestRetention(t *testing.T) {
	d := retentionDeps(t)
	e := newEngine(d)
	ctx := context.Background()
	now := time.Now()

	for _, r := range []deliveryRow{
		{guid: "fresh", age: 4 * retentionDay, status: "processed"},
		{guid: "old-payload", age: 6 * retentionDay, status: "processed"},
		{guid: "stale-payload", age: 6 * retentionDay, status: "stale"},
		{guid: "failed-pending", age: 6 * retentionDay, status: "failed"},
		{guid: "failed-given-up", age: 6 * retentionDay, status: "failed", gaveUp: true},
		{guid: "old-row", age: 21 * retentionDay, status: "processed", noPayload: true},
		{guid: "failed-pending-ancient", age: 21 * retentionDay, status: "failed"},
		{guid: "kept-row", age: 19 * retentionDay, status: "processed", noPayload: true},
	} {
		insertDelivery(t, now, r)
	}
	ids := insertScans(t, now, []scanRowSpec{
		// k1: D is the newest complete scan, recent; the older ones go.
		{name: "A", key: "k1", status: "done", finished: 10 * retentionDay, pages: 2},
		{name: "B", key: "k1", status: "done", finished: 8 * retentionDay},
		{name: "C", key: "k1", status: "failed", finished: 7 * retentionDay},
		{name: "D", key: "k1", status: "done", finished: 2 * retentionDay, pages: 3},
		{name: "U", key: "k1u", status: "done", finished: time.Hour, pages: 2},
		// k2: E is old but the newest complete scan; the failed F after it goes.
		{name: "E", key: "k2", status: "done", finished: 10 * retentionDay, pages: 2},
		{name: "F", key: "k2", status: "failed", finished: 9 * retentionDay},
		// k3: G is the newest complete scan, H (incomplete) the newest page
		// count (by id, as spawn reads it); H0 goes.
		{name: "G", key: "k3", status: "done", finished: 12 * retentionDay},
		{name: "H0", key: "k3", status: "done", incomplete: true, pagesTotal: 2, finished: 11 * retentionDay},
		{name: "H", key: "k3", status: "done", incomplete: true, pagesTotal: 3, finished: 10 * retentionDay},
		// A recent load P: its old child Q stays though a newer scan R of
		// Q's key exists; Q2, child of an old failed load P2, goes with it.
		{name: "P", key: "k4", status: "done", finished: 2 * retentionDay},
		{name: "R", key: "k4c", status: "done", finished: 8 * retentionDay},
		{name: "Q", key: "k4c", status: "done", finished: 10 * retentionDay, parent: "P"},
		{name: "P2", key: "k6", status: "failed", finished: 10 * retentionDay},
		{name: "Q2", key: "k6c", status: "failed", finished: 10 * retentionDay, parent: "P2"},
		// S is a scan of an unfinished reconciliation.
		{name: "S", key: "k5", status: "done", finished: 10 * retentionDay},
		{name: "T", key: "k5", status: "done", finished: 9 * retentionDay},
	})
	if err := (&models.ReconcileRun{Reason: "schedule", ScanIds: types.Int64Array{ids["S"]}, StartedAt: now.Add(-10 * retentionDay)}).
		Insert(ctx, env.DB, boil.Infer()); err != nil {
		t.Fatal(err)
	}
	insertETag(t, "old", now.Add(-21*retentionDay))
	insertETag(t, "kept", now.Add(-19*retentionDay))
	// failed-pending (6 days old) may be replayed: tombstones newer than
	// it stay, though past the 5 days.
	retentionBury(t, 1, now.Add(-7*retentionDay))
	retentionBury(t, 2, now.Add(-5*retentionDay-12*time.Hour))
	retentionBury(t, 3, now.Add(-4*retentionDay))
	insertCatchupRequest(t, "old", now.Add(-8*retentionDay))
	insertCatchupRequest(t, "kept", now.Add(-6*retentionDay))
	// Removals follow the tombstones' rule.
	for i, age := range []time.Duration{7 * retentionDay, 5*retentionDay + 12*time.Hour, 4 * retentionDay} {
		if _, err := env.DB.Exec(`INSERT INTO github_user_repository_removal (user_id, repo_id, removed_at) VALUES ($1, 1, $2)`,
			i+1, now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	// Finished runs past the log retention go, but the newest of each
	// kind stays (the schedule reads it); the unfinished one above stays.
	for _, r := range []struct {
		full bool
		age  time.Duration
	}{{false, 25 * retentionDay}, {false, 22 * retentionDay}, {true, 25 * retentionDay}} {
		run := &models.ReconcileRun{FullScan: r.full, Reason: "schedule", StartedAt: now.Add(-r.age - time.Hour),
			FinishedAt: null.TimeFrom(now.Add(-r.age))}
		if err := run.Insert(ctx, env.DB, boil.Infer()); err != nil {
			t.Fatal(err)
		}
	}

	counts, err := e.applyRetention(ctx, e.retentionPolicy(now))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"delivery": 2, "delivery_payload": 3, "scan_page": 7, "scan": 7,
		"api_etag": 1, "tombstone": 1, "catchup_request": 1, "collaborator_removal": 1, "reconcile_run": 1,
	}
	for what, n := range want {
		if counts[what] != n {
			t.Errorf("removed %d %s, want %d (all: %v)", counts[what], what, n, counts)
		}
		if got := retainedCount(t, e, what); got != float64(n) {
			t.Errorf("metric %s = %v, want %d", what, got, n)
		}
	}

	checks := []struct {
		name  string
		query string
		want  int
	}{
		{"delivery rows", `SELECT count(*) FROM webhook_delivery`, 6},
		{"deliveries past the log retention", `SELECT count(*) FROM webhook_delivery WHERE delivery_id IN ('old-row', 'failed-pending-ancient')`, 0},
		{"payloads kept", `SELECT count(*) FROM webhook_delivery WHERE payload IS NOT NULL AND delivery_id IN ('fresh', 'failed-pending')`, 2},
		{"payloads dropped", `SELECT count(*) FROM webhook_delivery WHERE payload IS NOT NULL AND delivery_id IN ('old-payload', 'stale-payload', 'failed-given-up')`, 0},
		{"etags", `SELECT count(*) FROM api_etag WHERE url = 'kept'`, 1},
		{"etags total", `SELECT count(*) FROM api_etag`, 1},
		{"tombstones", `SELECT count(*) FROM github_tombstone WHERE id IN (2, 3)`, 2},
		{"tombstones total", `SELECT count(*) FROM github_tombstone`, 2},
		{"catch-up requests", `SELECT count(*) FROM catchup_request WHERE guid = 'kept'`, 1},
		{"removals", `SELECT count(*) FROM github_user_repository_removal WHERE user_id IN (2, 3)`, 2},
		{"removals total", `SELECT count(*) FROM github_user_repository_removal`, 2},
		{"reconcile runs", `SELECT count(*) FROM reconcile_run`, 3},
		{"newest runs of each kind", `SELECT count(*) FROM reconcile_run WHERE finished_at IS NOT NULL`, 2},
		{"catch-up requests total", `SELECT count(*) FROM catchup_request`, 1},
		{"recent pages", fmt.Sprintf(`SELECT count(*) FROM scan_page WHERE scan_id = %d`, ids["U"]), 2},
		{"pages total", `SELECT count(*) FROM scan_page`, 2},
		{"Q's parent", fmt.Sprintf(`SELECT count(*) FROM scan WHERE id = %d AND parent_scan_id = %d`, ids["Q"], ids["P"]), 1},
		{"Q2's parent gone", fmt.Sprintf(`SELECT count(*) FROM scan WHERE id = %d`, ids["Q2"]), 0},
	}
	for _, c := range checks {
		if got := retentionCount(t, c.query); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	kept := map[string]bool{}
	rows, err := env.DB.Query(`SELECT id FROM scan`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		for name, sid := range ids {
			if sid == id {
				kept[name] = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"D", "U", "E", "G", "H", "P", "R", "Q", "S", "T"} {
		if !kept[name] {
			t.Errorf("scan %s removed, want it kept", name)
		}
	}
	for _, name := range []string{"A", "B", "C", "F", "H0", "P2", "Q2"} {
		if kept[name] {
			t.Errorf("scan %s kept, want it removed", name)
		}
	}

	// The incremental scan after retention starts where it did before.
	var since time.Time
	if err := env.DB.QueryRow(`SELECT max(started_at) FROM scan WHERE scan_key = 'k2' AND status = 'done' AND NOT incomplete`).Scan(&since); err != nil {
		t.Fatal(err)
	}
	if want := now.Add(-10*retentionDay - time.Minute); since.Sub(want).Abs() > time.Millisecond {
		t.Errorf("k2's last complete scan started %v, want %v", since, want)
	}

	again, err := e.applyRetention(ctx, e.retentionPolicy(now))
	if err != nil {
		t.Fatal(err)
	}
	for what, n := range again {
		if n != 0 {
			t.Errorf("second run removed %d %s", n, what)
		}
	}
	if got := retainedCount(t, e, "scan"); got != 7 {
		t.Errorf("metric scan after the second run = %v, want 7", got)
	}
}

// TestRetentionBatches: with a batch of 3, every kind is removed over
// several statements, and old scans kept as the newest of their key do
// not stop the walk before the deletable ones after them.
func TestRetentionBatches(t *testing.T) {
	d := retentionDeps(t)
	e := newEngine(d)
	ctx := context.Background()
	now := time.Now()
	const n = 10
	var specs []scanRowSpec
	for i := 0; i < n; i++ {
		insertDelivery(t, now, deliveryRow{guid: fmt.Sprintf("p%d", i), age: 6 * retentionDay, status: "processed"})
		insertDelivery(t, now, deliveryRow{guid: fmt.Sprintf("r%d", i), age: 21 * retentionDay, status: "processed"})
		insertETag(t, fmt.Sprintf("u%d", i), now.Add(-21*retentionDay))
		retentionBury(t, int64(i+1), now.Add(-7*retentionDay))
		insertCatchupRequest(t, fmt.Sprintf("g%d", i), now.Add(-8*retentionDay))
		// The oldest scans are the newest complete ones of their keys...
		specs = append(specs, scanRowSpec{name: fmt.Sprintf("keep%d", i), key: fmt.Sprintf("k%d", i), status: "done",
			finished: 30*retentionDay + time.Duration(i)*time.Hour})
		// ...and the failed ones after them go.
		specs = append(specs, scanRowSpec{name: fmt.Sprintf("drop%d", i), key: fmt.Sprintf("k%d", i), status: "failed",
			finished: 10*retentionDay + time.Duration(i)*time.Hour})
	}
	specs = append(specs, scanRowSpec{name: "pages", key: "kp", status: "done", finished: 2 * retentionDay, pages: n})
	insertScans(t, now, specs)

	p := e.retentionPolicy(now)
	p.batch = 3
	counts, err := e.applyRetention(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, what := range []string{"delivery", "delivery_payload", "scan_page", "scan", "api_etag", "tombstone", "catchup_request"} {
		if counts[what] != n {
			t.Errorf("removed %d %s, want %d (all: %v)", counts[what], what, n, counts)
		}
	}
	if got := retentionCount(t, `SELECT count(*) FROM scan WHERE status = 'done'`); got != n+1 {
		t.Errorf("%d done scans left, want %d", got, n+1)
	}
	again, err := e.applyRetention(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for what, c := range again {
		if c != 0 {
			t.Errorf("second run removed %d %s", c, what)
		}
	}
}

// TestRetentionLocked: while another process runs retention (holds the
// lock), a run does nothing.
func TestRetentionLocked(t *testing.T) {
	d := retentionDeps(t)
	e := newEngine(d)
	ctx := context.Background()
	now := time.Now()
	insertETag(t, "old", now.Add(-21*retentionDay))
	conn, err := env.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext($1))`, retentionLockKey); err != nil {
		t.Fatal(err)
	}
	counts, err := e.applyRetention(ctx, e.retentionPolicy(now))
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 0 || retentionCount(t, `SELECT count(*) FROM api_etag`) != 1 {
		t.Errorf("a run beside a running one removed %v", counts)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, retentionLockKey); err != nil {
		t.Fatal(err)
	}
	if err := e.retentionJob(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := retentionCount(t, `SELECT count(*) FROM api_etag`); got != 0 {
		t.Errorf("%d etags left after the lock was released, want 0", got)
	}
}

// retainedCount reads the retention metric of what.
func retainedCount(t *testing.T, e *engine, what string) float64 {
	t.Helper()
	var m dto.Metric
	if err := e.metrics.retained.WithLabelValues(what).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
