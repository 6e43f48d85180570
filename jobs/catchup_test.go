package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/models"
)

const (
	routeListDeliveries = "GET /app/hook/deliveries"
	routeRedeliver      = "POST /app/hook/deliveries/{id}/attempts"
)

// catchUpEnv is ghfake sending to a small receiver that stores each GUID
// in webhook_delivery the way the webhook endpoint does (jobs tests cannot
// import handlers), and an engine running catch-up against both.
type catchUpEnv struct {
	t    *testing.T
	gh   *ghfake.Server
	deps Deps
	e    *engine
	rc   *httptest.Server
	dead string // a URL where nothing listens: webhookdb down

	// holding, when set, makes the receiver wait for release before it
	// answers (a redelivery on its way).
	holding atomic.Bool
	release chan struct{}
	relOnce sync.Once

	// failListAt, when > 0, makes ghfake answer the list request with
	// that number (counted from 1 in this engine) with a 502.
	failListAt atomic.Int64
	lists      atomic.Int64
}

func newCatchUpEnv(t *testing.T) *catchUpEnv {
	t.Helper()
	gh, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 14}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	c := &catchUpEnv{t: t, gh: gh, release: make(chan struct{})}
	t.Cleanup(c.free)
	c.deps = testDeps(t)
	// The middleware only triggers ghfake's own fault before the chosen
	// list request: the failure is ghfake's answer.
	failer := func(next http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/app/hook/deliveries") {
				if n := c.lists.Add(1); n == c.failListAt.Load() {
					gh.FailNext(1, http.StatusBadGateway)
				}
			}
			return next.RoundTrip(r)
		})
	}
	cc, err := githubapp.NewDefaultCachingClientCreator(gh.GitHubConfig(), githubapp.WithClientUserAgent("webhookdb-test"),
		githubapp.WithClientMiddleware(failer))
	if err != nil {
		t.Fatal(err)
	}
	c.deps.GitHub = cc
	c.e = newEngine(c.deps)
	c.rc = httptest.NewServer(http.HandlerFunc(c.receive))
	t.Cleanup(c.rc.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.dead = "http://" + ln.Addr().String() + "/replication"
	ln.Close()
	c.up()
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *catchUpEnv) up()   { c.gh.SetWebhookURL(c.rc.URL) }
func (c *catchUpEnv) down() { c.gh.SetWebhookURL(c.dead) }
func (c *catchUpEnv) free() { c.relOnce.Do(func() { close(c.release) }) }

// receive stores a delivery like the webhook's claim: the GUID, and the
// catch-up request marked recovered.
func (c *catchUpEnv) receive(w http.ResponseWriter, r *http.Request) {
	body, err := github.ValidatePayload(r, []byte(c.gh.WebhookSecret()))
	if err != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if c.holding.Load() {
		select {
		case <-c.release:
		case <-r.Context().Done():
		}
		http.Error(w, "held, then failed", http.StatusServiceUnavailable)
		return
	}
	_, err = c.deps.DB.ExecContext(r.Context(), `
WITH asked AS (UPDATE catchup_request SET recovered_at = COALESCE(recovered_at, now()) WHERE guid = $1 RETURNING 1)
INSERT INTO webhook_delivery (delivery_id, event, status, payload, processed_at, recovered_by)
VALUES ($1, $2, 'processed', $3::jsonb, now(), CASE WHEN EXISTS (SELECT 1 FROM asked) THEN 'catchup' END)
ON CONFLICT (delivery_id) DO NOTHING`, github.DeliveryID(r), github.WebHookType(r), string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// send records one issues delivery in ghfake's log (sent to wherever the
// webhook URL points now).
func (c *catchUpEnv) send(inst, repo int64, title string) *ghfake.Delivery {
	c.t.Helper()
	payload := fmt.Sprintf(`{"action":"opened","installation":{"id":%d},"repository":{"id":%d},"issue":{"title":%q}}`, inst, repo, title)
	return c.gh.SendEvent(context.Background(), "issues", []byte(payload))
}

// run runs catch-up once at now and waits for the redeliveries it asked.
func (c *catchUpEnv) run(now time.Time) error {
	c.t.Helper()
	err := c.e.catchUp(context.Background(), now)
	wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if !c.holding.Load() {
		if werr := c.gh.WaitRedeliveries(wctx); werr != nil {
			c.t.Fatal(werr)
		}
	}
	return err
}

func (c *catchUpEnv) mustRun(now time.Time) {
	c.t.Helper()
	if err := c.run(now); err != nil {
		c.t.Fatalf("catch-up: %v", err)
	}
}

func (c *catchUpEnv) routeCount(route string) int { return c.gh.Stats().ByRoute[route].Requests }

// stored is whether webhook_delivery holds the GUID.
func (c *catchUpEnv) stored(guid string) bool {
	c.t.Helper()
	ok, err := models.WebhookDeliveryExists(context.Background(), c.deps.DB, guid)
	if err != nil {
		c.t.Fatal(err)
	}
	return ok
}

func (c *catchUpEnv) request(guid string) *models.CatchupRequest {
	c.t.Helper()
	r, err := models.FindCatchupRequest(context.Background(), c.deps.DB, guid)
	if err != nil {
		return nil
	}
	return r
}

func (c *catchUpEnv) cursor() *models.CatchupCursor {
	c.t.Helper()
	cur, err := models.FindCatchupCursor(context.Background(), c.deps.DB, 1)
	if err != nil {
		return nil
	}
	return cur
}

// catchUpCounter reads a counter.
func catchUpCounter(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func (c *catchUpEnv) runs(outcome string) float64 {
	return catchUpCounter(c.t, c.e.metrics.catchupRuns.WithLabelValues(outcome))
}

// TestCatchUpRecoversMissedDeliveries: deliveries sent while webhookdb was
// down, including one of an installation and repository never seen, are
// each asked for once and stored; what was stored at its first arrival is
// never asked for; the next run asks nothing and counts the recoveries.
func TestCatchUpRecoversMissedDeliveries(t *testing.T) {
	c := newCatchUpEnv(t)
	inst := c.gh.World().Installations()[0].GetID()
	repo := c.gh.World().Repositories("org-0")[0].GetID()
	kept := c.send(inst, repo, "arrived")
	if !kept.OK() || !c.stored(kept.GUID) {
		t.Fatalf("first delivery %+v not stored", kept)
	}
	c.down()
	var missed []*ghfake.Delivery
	for i := range 3 {
		missed = append(missed, c.send(inst, repo, fmt.Sprintf("missed %d", i)))
	}
	missed = append(missed, c.send(987654, 123456, "unknown installation"))
	for _, d := range missed {
		if d.OK() {
			t.Fatalf("delivery %s reached the receiver while down", d.GUID)
		}
	}
	c.up()

	c.mustRun(time.Now())
	if n := c.routeCount(routeRedeliver); n != len(missed) {
		t.Errorf("%d redeliveries asked, want %d", n, len(missed))
	}
	for _, d := range missed {
		if !c.stored(d.GUID) {
			t.Errorf("missed delivery %s (installation %d) not recovered", d.GUID, d.InstallationID)
		}
		r := c.request(d.GUID)
		if r == nil || r.Attempts != 1 || !r.RecoveredAt.Valid || r.GithubDeliveryID != d.ID || !r.DeliveredAt.Equal(d.DeliveredAt) ||
			r.Event != "issues" || r.InstallationID.Int64 != d.InstallationID || r.RepoID.Int64 != d.RepositoryID {
			t.Errorf("request for %s: %+v, want one recovered ask of delivery %d delivered at %v", d.GUID, r, d.ID, d.DeliveredAt)
		}
	}
	if r := c.request(kept.GUID); r != nil {
		t.Errorf("a delivery stored at its first arrival was asked for: %+v", r)
	}
	if got := catchUpCounter(t, c.e.metrics.catchupAsked); got != float64(len(missed)) {
		t.Errorf("asked metric %v, want %d", got, len(missed))
	}
	if got := catchUpCounter(t, c.e.metrics.catchupListed); got != float64(1+len(missed)) {
		t.Errorf("listed metric %v, want %d", got, 1+len(missed))
	}

	c.mustRun(time.Now())
	if n := c.routeCount(routeRedeliver); n != len(missed) {
		t.Errorf("%d redeliveries after the second run, want still %d", n, len(missed))
	}
	if got := catchUpCounter(t, c.e.metrics.catchupRecovered); got != float64(len(missed)) {
		t.Errorf("recovered metric %v after two runs, want %d", got, len(missed))
	}
	if got := c.runs("ok"); got != 2 {
		t.Errorf("%v ok runs, want 2", got)
	}
}

// TestCatchUpAsksOnlyWhatIsMissing: by what webhook_delivery holds of a
// GUID GitHub lists as failed, catch-up asks for it or leaves it (to local
// replay, or because it is stored).
func TestCatchUpAsksOnlyWhatIsMissing(t *testing.T) {
	tests := []struct {
		name   string
		status string // "" stores nothing
		body   bool   // stored with its payload
		asked  bool
	}{
		{"not stored", "", false, true},
		{"processed", "processed", true, false},
		{"stale", "stale", true, false},
		{"ignored without payload", "ignored", false, false},
		{"failed with its payload (replay's)", "failed", true, false},
		{"failed without payload", "failed", false, true},
	}
	c := newCatchUpEnv(t)
	c.down()
	guids := map[string]string{}
	for _, tc := range tests {
		d := c.send(1, 2, tc.name)
		guids[tc.name] = d.GUID
		if tc.status == "" {
			continue
		}
		payload := any(nil)
		if tc.body {
			payload = string(d.Payload)
		}
		if _, err := c.deps.DB.Exec(`INSERT INTO webhook_delivery (delivery_id, event, status, payload) VALUES ($1, 'issues', $2, $3::jsonb)`,
			d.GUID, tc.status, payload); err != nil {
			t.Fatal(err)
		}
	}
	c.mustRun(time.Now())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if asked := c.request(guids[tc.name]) != nil; asked != tc.asked {
				t.Errorf("asked %v, want %v", asked, tc.asked)
			}
		})
	}
}

// TestCatchUpAskedIsNotAskedAgainOnItsWay: a redelivery on its way (sent,
// not yet answered) is not asked for again by the next run; after the
// patience it is; a redelivery GitHub lists as failed after the ask is
// asked again at once; never more than catchUpMaxAsks times in all.
func TestCatchUpAskedIsNotAskedAgainOnItsWay(t *testing.T) {
	c := newCatchUpEnv(t)
	c.down()
	d := c.send(1, 2, "missed")
	c.up()
	// The receiver holds the redeliveries, then answers them 503.
	c.holding.Store(true)
	start := time.Now()
	c.mustRun(start)
	c.mustRun(start.Add(time.Minute))
	if n := c.routeCount(routeRedeliver); n != 1 {
		t.Fatalf("%d redeliveries asked while the first was on its way, want 1", n)
	}
	// GitHub's clock moves with ours, so its times compare with the ask's.
	c.gh.Advance(catchUpPatience + time.Minute)
	c.mustRun(start.Add(catchUpPatience + time.Minute))
	if n := c.routeCount(routeRedeliver); n != 2 {
		t.Fatalf("%d redeliveries asked after the patience, want 2", n)
	}
	c.down()
	c.holding.Store(false)
	c.free()
	wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.gh.WaitRedeliveries(wctx); err != nil {
		t.Fatal(err)
	}
	c.mustRun(start.Add(catchUpPatience + 2*time.Minute))
	if n := c.routeCount(routeRedeliver); n != catchUpMaxAsks {
		t.Fatalf("%d redeliveries after a failed one was listed, want %d", n, catchUpMaxAsks)
	}
	c.mustRun(start.Add(3 * catchUpPatience))
	if n := c.routeCount(routeRedeliver); n != catchUpMaxAsks {
		t.Errorf("%d redeliveries, want at most %d", n, catchUpMaxAsks)
	}
	if r := c.request(d.GUID); r == nil || r.Attempts != catchUpMaxAsks || r.RecoveredAt.Valid || c.stored(d.GUID) {
		t.Errorf("request %+v, want %d attempts, not recovered", r, catchUpMaxAsks)
	}
}

// TestCatchUpFailedPageKeepsCursor: a list page GitHub answers with an
// error fails the run and leaves the cursor; what the pages before it
// showed is asked for once; the next run reads the range again and asks
// for the rest.
func TestCatchUpFailedPageKeepsCursor(t *testing.T) {
	tests := []struct {
		name   string
		failAt int64 // the failing list request of the failing run
		asked  int   // asked by the failing run
	}{
		{"first page", 1, 0},
		{"second page", 2, catchUpPerPage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCatchUpEnv(t)
			c.mustRun(time.Now()) // an empty log: the cursor is now
			before := c.cursor()
			if before == nil {
				t.Fatal("no cursor after a complete run")
			}
			c.down()
			var missed []*ghfake.Delivery
			for i := range catchUpPerPage + 50 {
				missed = append(missed, c.send(1, 2, fmt.Sprint(i)))
			}
			c.up()
			c.failListAt.Store(c.lists.Load() + tc.failAt)
			err := c.run(time.Now())
			if err == nil || !strings.Contains(err.Error(), "502") {
				t.Fatalf("run with a failing page: %v, want GitHub's 502", err)
			}
			if after := c.cursor(); after == nil || after.DeliveryID != before.DeliveryID || !after.RanAt.Equal(before.RanAt) {
				t.Errorf("cursor moved by a failed run: %+v, was %+v", after, before)
			}
			if n := c.routeCount(routeRedeliver); n != tc.asked {
				t.Errorf("the failed run asked %d, want %d", n, tc.asked)
			}
			if got := c.runs("error"); got != 1 {
				t.Errorf("%v error runs, want 1", got)
			}
			c.mustRun(time.Now())
			if n := c.routeCount(routeRedeliver); n != len(missed) {
				t.Errorf("%d asked in all, want each of %d once", n, len(missed))
			}
			for _, d := range missed {
				if !c.stored(d.GUID) {
					t.Fatalf("delivery %s not recovered", d.GUID)
				}
			}
			if after := c.cursor(); after == nil || after.DeliveryID < missed[len(missed)-1].ID {
				t.Errorf("cursor %+v after the complete run, want at least delivery %d", after, missed[len(missed)-1].ID)
			}
		})
	}
}

// TestCatchUpOneRunAtATime: while one run holds the lock (its list request
// hanging at GitHub), a run from another engine (another process) skips.
func TestCatchUpOneRunAtATime(t *testing.T) {
	c := newCatchUpEnv(t)
	other := newEngine(c.deps)
	c.gh.HangNext(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.e.catchUp(ctx, time.Now()) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if err := c.gh.WaitHung(wctx, 1); err != nil {
		cancel()
		t.Fatal(err)
	}
	listsBefore := c.routeCount(routeListDeliveries)
	if err := other.catchUp(context.Background(), time.Now()); err != nil {
		t.Errorf("the second run: %v, want nil (skipped)", err)
	}
	if got := catchUpCounter(t, other.metrics.catchupRuns.WithLabelValues("skipped")); got != 1 {
		t.Errorf("%v skipped runs, want 1", got)
	}
	if n := c.routeCount(routeListDeliveries); n != listsBefore {
		t.Errorf("the skipped run listed deliveries (%d list requests, was %d)", n, listsBefore)
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("the cancelled run returned nil")
	}
	// Its lock is released: the next run runs.
	if err := other.catchUp(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := catchUpCounter(t, other.metrics.catchupRuns.WithLabelValues("ok")); got != 1 {
		t.Errorf("%v ok runs after the lock was released, want 1", got)
	}
}

// TestCatchUpListsOnlySinceCursor: a run lists back to the previous
// complete run's newest delivery (minus the overlap), not the whole log.
func TestCatchUpListsOnlySinceCursor(t *testing.T) {
	c := newCatchUpEnv(t)
	for i := range 2*catchUpPerPage + 50 {
		c.send(1, 2, fmt.Sprint(i))
	}
	c.gh.Advance(5 * time.Minute)
	last := c.send(1, 2, "newest")
	c.mustRun(time.Now())
	if n := c.routeCount(routeListDeliveries); n != 3 {
		t.Fatalf("first run made %d list requests, want 3 (the whole log)", n)
	}
	if cur := c.cursor(); cur == nil || cur.DeliveryID != last.ID || !cur.DeliveredAt.Equal(last.DeliveredAt) {
		t.Fatalf("cursor %+v, want delivery %d at %v", cur, last.ID, last.DeliveredAt)
	}
	c.gh.Advance(5 * time.Minute)
	c.send(1, 2, "after")
	c.gh.ResetStats()
	c.mustRun(time.Now())
	if n := c.routeCount(routeListDeliveries); n != 1 {
		t.Errorf("second run made %d list requests, want 1", n)
	}
	if n := c.routeCount(routeRedeliver); n != 0 {
		t.Errorf("%d redeliveries asked for stored deliveries", n)
	}
}

// TestCatchUpOutageQueuesReconcile: a run after no complete run for longer
// than GitHub keeps deliveries queues a reconciliation (reason outage); a
// recent cursor or the very first run does not.
func TestCatchUpOutageQueuesReconcile(t *testing.T) {
	tests := []struct {
		name   string
		ranAgo time.Duration // 0: no cursor
		queued bool
	}{
		{"no cursor yet", 0, false},
		{"ran an hour ago", time.Hour, false},
		{"ran four days ago", 4 * 24 * time.Hour, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCatchUpEnv(t)
			now := time.Now()
			if tc.ranAgo > 0 {
				at := now.Add(-tc.ranAgo)
				if _, err := c.deps.DB.Exec(`INSERT INTO catchup_cursor (id, delivered_at, delivery_id, ran_at) VALUES (1, $1, 7, $1)`, at); err != nil {
					t.Fatal(err)
				}
			}
			c.mustRun(now)
			n := queueLen(t, c.deps.Namespace, JobReconcile)
			if (n == 1) != tc.queued || n > 1 {
				t.Fatalf("%d reconcile jobs queued, want queued=%v", n, tc.queued)
			}
			if tc.queued {
				conn := env.Redis.Get()
				defer conn.Close()
				raw, err := conn.Do("LINDEX", c.deps.Namespace+":jobs:"+JobReconcile, 0)
				if err != nil {
					t.Fatal(err)
				}
				var job struct {
					Args map[string]any `json:"args"`
				}
				if b, ok := raw.([]byte); !ok || json.Unmarshal(b, &job) != nil || job.Args["reason"] != "outage" {
					t.Errorf("queued job %s, want args reason=outage", raw)
				}
			}
			if cur := c.cursor(); cur == nil || cur.RanAt.Before(now.Add(-time.Second)) {
				t.Errorf("cursor %+v not moved by the complete run", cur)
			}
		})
	}
}

// TestCatchUpExpiredRequestNotRetried: a request past its patience whose
// log entry GitHub no longer has (404) is recorded as gone, the run does
// not fail, and it is not asked again.
func TestCatchUpExpiredRequestNotRetried(t *testing.T) {
	c := newCatchUpEnv(t)
	now := time.Now()
	if _, err := c.deps.DB.Exec(`INSERT INTO catchup_request (guid, github_delivery_id, event, delivered_at, requested_at)
VALUES ('lost-guid', 424242, 'issues', $1, $2)`, now.Add(-time.Hour), now.Add(-catchUpPatience-time.Minute)); err != nil {
		t.Fatal(err)
	}
	c.mustRun(now)
	if n := c.routeCount(routeRedeliver); n != 1 {
		t.Fatalf("%d redeliveries asked for the request past its patience, want 1", n)
	}
	r := c.request("lost-guid")
	if r == nil || r.Attempts != 2 || !strings.HasPrefix(r.Error.String, catchUpGone) {
		t.Fatalf("request %+v, want 2 attempts and a gone error", r)
	}
	c.mustRun(now.Add(2 * catchUpPatience))
	if n := c.routeCount(routeRedeliver); n != 1 {
		t.Errorf("%d redeliveries, want the gone request not asked again", n)
	}
}
