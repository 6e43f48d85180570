package handlers

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/jobs"
)

// Deliveries that fail half way (the database, the queue) and the
// follow-up work that must survive them.

// proxiedDB opens a pool on the test database through proxy.
func proxiedDB(t testing.TB, proxy *testutil.Proxy) *sql.DB {
	t.Helper()
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = proxy.Addr()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDatabaseGoesAwayMidDelivery cuts the database after the delivery's
// rows are written and before its commit: 5xx, nothing half-written; once
// the database is back the redelivery succeeds.
func TestDatabaseGoesAwayMidDelivery(t *testing.T) {
	env.Truncate(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	var cut sync.Once
	hk := &hooks{beforeCommit: func() error {
		cut.Do(proxy.Down)
		return nil
	}}
	h := newHarness(t, harnessOptions{db: proxiedDB(t, proxy), hooks: hk})
	body := fixture(t, "pull_request/opened.payload.json")

	res := h.deliver(t, "pull_request", "db-goes-away", body)
	if res.code < 500 {
		t.Fatalf("status %d (%s), want 5xx", res.code, res.body)
	}
	for table, n := range rowCounts(t, env.DB) {
		if n != 0 {
			t.Errorf("after the failed delivery %s has %d rows, want 0", table, n)
		}
	}
	proxy.Up()
	res = h.deliver(t, "pull_request", "db-goes-away", body)
	if res.code != http.StatusOK {
		t.Fatalf("redelivery: %d %s, want 200", res.code, res.body)
	}
	var ev github.PullRequestEvent
	mustUnmarshal(t, body, &ev)
	assertRow(t, env.DB, "github_pull_request", "id = $1", []any{ev.PullRequest.GetID()}, pullRequestFields(ev.PullRequest))
	if d, _ := loadDelivery(t, env.DB, "db-goes-away", body); d.Status != StatusProcessed {
		t.Fatalf("redelivery recorded %s", d.Status)
	}
}

// TestFailedDeliveryIsRecordedAndRedelivered: a failure after the effect
// rolls the effect back, records the delivery as failed, and a redelivery
// of that GUID is processed.
func TestFailedDeliveryIsRecordedAndRedelivered(t *testing.T) {
	env.Truncate(t)
	fail := true
	hk := &hooks{beforeCommit: func() error {
		if fail {
			return errors.New("simulated failure")
		}
		return nil
	}}
	h := newHarness(t, harnessOptions{hooks: hk})
	body := fixture(t, "issues/opened.payload.json")
	res := h.deliver(t, "issues", "fails-once", body)
	if res.code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", res.code)
	}
	d, ok := loadDelivery(t, env.DB, "fails-once", body)
	if !ok || d.Status != StatusFailed || !strings.Contains(d.Error.String, "simulated failure") || !d.PayloadEqual {
		t.Fatalf("recorded %+v, want failed with the error and the payload", d)
	}
	for table, n := range rowCounts(t, env.DB) {
		if table != "webhook_delivery" && n != 0 {
			t.Errorf("failed delivery left %d rows in %s", n, table)
		}
	}
	fail = false
	if res := h.deliver(t, "issues", "fails-once", body); res.code != http.StatusOK {
		t.Fatalf("redelivery %d %s", res.code, res.body)
	}
	d, _ = loadDelivery(t, env.DB, "fails-once", body)
	if d.Status != StatusProcessed || d.Error.Valid {
		t.Fatalf("redelivery recorded %+v", d)
	}
	if n := count(t, env.DB, "github_issue", ""); n != 1 {
		t.Fatalf("%d issues after the redelivery, want 1", n)
	}
}

// TestSchedulerFailureDoesNotFailDelivery: the data is stored; a job that
// could not be queued is logged, and the next scan catches up.
func TestSchedulerFailureDoesNotFailDelivery(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	h.sched.err = errors.New("redis is down")
	body := fixture(t, "installation/created.payload.json")
	id, _ := h.mustDeliver(t, "installation", body, http.StatusOK)
	if d, _ := loadDelivery(t, env.DB, id, body); d.Status != StatusProcessed {
		t.Fatalf("recorded %s", d.Status)
	}
	if len(h.sched.Scans()) != 1 {
		t.Fatalf("scan not attempted")
	}
	if n := count(t, env.DB, "github_installation", ""); n != 1 {
		t.Fatalf("installation not stored")
	}
}

// TestRealSchedulerQueuesFollowUps runs the follow-up work through the jobs
// package's real Scheduler (PostgreSQL and Redis): every request the
// handlers make is one it accepts, and deleting the installation ends its
// scans.
func TestRealSchedulerQueuesFollowUps(t *testing.T) {
	env.Truncate(t)
	sched := jobs.NewScheduler(jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: env.Namespace + ":followups"})
	h := newHarness(t, harnessOptions{scheduler: sched})
	install := fixture(t, "installation/created.payload.json")
	h.mustDeliver(t, "installation", install, http.StatusOK)
	h.mustDeliver(t, "installation_repositories", fixture(t, "installation_repositories/added.payload.json"), http.StatusOK)
	h.mustDeliver(t, "pull_request", fixture(t, "pull_request/opened.payload.json"), http.StatusOK)
	h.mustDeliver(t, "pull_request_review_comment", fixture(t, "pull_request_review_comment/created.payload.json"), http.StatusOK)

	got := column(t, env.DB, `SELECT kind || ' ' || status FROM scan`)
	want := []string{"pull_request_files queued", "pull_request_reviews queued", "repositories queued", "sync_issue queued", "sync_repository queued"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("scans %v, want %v", got, want)
	}

	h.mustDeliver(t, "installation", edit(t, install, func(m map[string]any) { m["action"] = "deleted" }), http.StatusOK)
	got = column(t, env.DB, `SELECT kind || ' ' || status FROM scan WHERE installation_id = $1`, path(t, install, "installation", "id"))
	for _, s := range got {
		if !strings.HasSuffix(s, " failed") {
			t.Fatalf("after the uninstall the installation's scans are %v, want all failed", got)
		}
	}
	if len(got) == 0 {
		t.Fatal("no scans of the installation")
	}
}

// TestFollowUpSurvivesQueueOutage: the follow-up scan is committed with the
// delivery, so when Redis is unreachable at that moment the delivery still
// succeeds and the sweeper starts the scan once Redis answers again.
func TestFollowUpSurvivesQueueOutage(t *testing.T) {
	env.Truncate(t)
	ns := env.Namespace + ":outage"
	down := &redis.Pool{Dial: func() (redis.Conn, error) {
		return redis.Dial("tcp", "127.0.0.1:1") // nothing listens there
	}}
	defer down.Close()
	h := newHarness(t, harnessOptions{scheduler: jobs.NewScheduler(jobs.Deps{DB: env.DB, Redis: down, Namespace: ns})})
	h.mustDeliver(t, "installation", fixture(t, "installation/created.payload.json"), http.StatusOK)

	got := column(t, env.DB, `SELECT kind || ' ' || status FROM scan`)
	if strings.Join(got, ",") != "repositories queued" {
		t.Fatalf("scans %v, want the backfill recorded as queued", got)
	}
	conn := env.Redis.Get()
	defer conn.Close()
	if n, err := redis.Int(conn.Do("EXISTS", ns+":jobs:"+jobs.SpawnJob(jobs.CollectionRepositories))); err != nil || n != 0 {
		t.Fatalf("a job was queued through an unreachable Redis (%d, %v)", n, err)
	}

	// Redis is back: the sweeper finds the scan nobody started and queues it.
	up := jobs.NewScheduler(jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: ns, StuckAfter: time.Millisecond})
	if _, err := up.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := redis.Int(conn.Do("LLEN", ns+":jobs:"+jobs.SpawnJob(jobs.CollectionRepositories)))
	if err != nil || n != 1 {
		t.Fatalf("after the sweep %d spawn jobs queued (%v), want 1", n, err)
	}
}
