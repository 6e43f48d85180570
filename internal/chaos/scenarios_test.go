//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/internal/testutil"
)

// scenario is one fault and how long it may take.
type scenario struct {
	name string
	run  func(ctx context.Context, t *testing.T, r *run)
}

func (scenario) budget(sz size) time.Duration {
	if sz.short {
		return 9 * time.Minute
	}
	return 15 * time.Minute
}

func scenarios() []scenario {
	return []scenario{
		{"webhookdb-down", webhookdbDown},
		{"postgres-restart", postgresRestart},
		{"redis-restart", redisRestart},
		{"worker-sigkill", workerKilled},
		{"github-faults", githubFaults},
		{"scale-out", scaleOut},
	}
}

// webhookdbDown: serve is stopped (SIGTERM) while GitHub sends; those
// deliveries fail (connection refused) and GitHub records them failed.
// Started again, catch-up (at start-up and every catchup_interval) lists
// GitHub's log and asks for them to be redelivered.
func webhookdbDown(ctx context.Context, t *testing.T, r *run) {
	st := r.sharedStack(ctx, t, "serve", "")
	p := st.start(ctx, t, "serve", "")
	r.gh.SetWebhookURL("http://" + p.addr + "/replication")
	r.backfill(ctx, t, p.addr)
	st.waitBackfilled(ctx, t, 5*time.Minute)
	quarter := r.sz.steps / 4
	r.flood(ctx, t, 0, quarter)
	st.stop(ctx, t, p)
	before := failedDeliveries(r)
	r.flood(ctx, t, quarter, 2*quarter)
	r.note("while serve was down GitHub failed %d deliveries", failedDeliveries(r)-before)
	st.start(ctx, t, "serve", p.addr)
	r.flood(ctx, t, 3*quarter, r.sz.steps-3*quarter)
}

// postgresRestart: a private PostgreSQL cluster is restarted with
// `pg_ctl restart -m fast` twice during a flood of webhooks. Deliveries
// answered 5xx meanwhile are recovered by catch-up or local replay.
// Without root (initdb refuses it and needs the postgres user) the
// connections are cut with a TCP proxy instead, and the line says so.
func postgresRestart(ctx context.Context, t *testing.T, r *run) {
	var restart func(ctx context.Context) error
	var st *stack
	if pg := startPG(ctx, t); pg != nil {
		dbURL, err := pg.createDB(ctx, "chaos")
		if err != nil {
			t.Fatal(err)
		}
		st = newStack(ctx, t, r.bin, r.gh, "serve", dbURL, testutil.RedisURL())
		r.stacks = append(r.stacks, st)
		restart = pg.restart
	} else {
		st = r.sharedStack(ctx, t, "serve", "")
		u, err := url.Parse(st.dbURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := testutil.NewProxy(t, u.Host)
		u.Host = proxy.Addr()
		st.dbURL = u.String()
		r.note("not root: PostgreSQL was not restarted; its connections were cut by a TCP proxy instead")
		restart = func(ctx context.Context) error {
			proxy.Down()
			defer proxy.Up()
			// Down while the flood sends 25 deliveries, as a restart is.
			n := len(r.gh.Deliveries())
			return waitUntil(ctx, time.Minute, "25 deliveries while the database is cut off", func() (bool, error) {
				return len(r.gh.Deliveries()) >= n+25, nil
			})
		}
	}
	p := st.start(ctx, t, "serve", "")
	r.gh.SetWebhookURL("http://" + p.addr + "/replication")
	r.backfill(ctx, t, p.addr)
	st.waitBackfilled(ctx, t, 5*time.Minute)
	before := failedDeliveries(r)
	restarts := func(ctx context.Context) error {
		if err := restart(ctx); err != nil {
			return fmt.Errorf("restart PostgreSQL: %w", err)
		}
		return nil
	}
	r.flood(ctx, t, 0, r.sz.steps, fault{at: r.sz.steps / 3, fn: restarts}, fault{at: 2 * r.sz.steps / 3, fn: restarts})
	r.note("GitHub failed %d deliveries during the restarts", failedDeliveries(r)-before)
}

// redisRestart: a private redis-server without persistence is killed and
// started again, empty, once during the backfill (scans with pages
// pending) and once during the flood. The queued jobs are gone; the scans'
// outbox in PostgreSQL and the sweeper bring them back.
func redisRestart(ctx context.Context, t *testing.T, r *run) {
	rs := startRedis(ctx, t)
	st := r.sharedStack(ctx, t, "serve", rs.url())
	r.gh.SetLatency(100*time.Millisecond, 100*time.Millisecond) // pages long enough to be caught mid-way
	p := st.start(ctx, t, "serve", "")
	r.gh.SetWebhookURL("http://" + p.addr + "/replication")
	r.backfill(ctx, t, p.addr)
	waitPagesPending(ctx, t, st)
	if err := rs.restartEmpty(ctx); err != nil {
		t.Fatal(err)
	}
	r.note("Redis restarted empty mid-backfill")
	r.gh.SetLatency(0, 0)
	st.waitBackfilled(ctx, t, 6*time.Minute)
	r.flood(ctx, t, 0, r.sz.steps, fault{at: r.sz.steps / 2, fn: rs.restartEmpty})
}

// workerKilled: web and worker; during a backfill from a slow GitHub the
// worker is killed with SIGKILL while a scan has pages pending, and a new
// worker started. The killed jobs' leases expire and the sweeper finds the
// stuck scans (about 2 minutes).
func workerKilled(ctx context.Context, t *testing.T, r *run) {
	st := r.sharedStack(ctx, t, "split", "")
	web := st.start(ctx, t, "web", "")
	worker := st.start(ctx, t, "worker", "")
	r.gh.SetWebhookURL("http://" + web.addr + "/replication")
	r.gh.SetLatency(300*time.Millisecond, 200*time.Millisecond)
	r.backfill(ctx, t, web.addr)
	waitPagesPending(ctx, t, st)
	worker.kill()
	r.note("worker killed with SIGKILL mid-page")
	st.start(ctx, t, "worker", "")
	r.flood(ctx, t, 0, r.sz.steps/2)
	r.gh.SetLatency(0, 0)
	st.waitBackfilled(ctx, t, 8*time.Minute)
	r.flood(ctx, t, r.sz.steps/2, r.sz.steps-r.sz.steps/2)
}

// githubFaults: GitHub answers a fifth of the API requests with 500 or
// 502, and some requests hang until the client gives up, during the
// backfill and the flood.
func githubFaults(ctx context.Context, t *testing.T, r *run) {
	st := r.sharedStack(ctx, t, "serve", "")
	p := st.start(ctx, t, "serve", "")
	r.gh.SetWebhookURL("http://" + p.addr + "/replication")
	r.gh.SetFailureRate(0.2)
	r.gh.HangNext(4)
	r.backfill(ctx, t, p.addr)
	st.waitBackfilled(ctx, t, 8*time.Minute)
	hang := func(context.Context) error { r.gh.HangNext(4); return nil }
	r.flood(ctx, t, 0, r.sz.steps, fault{at: r.sz.steps / 2, fn: hang})
	r.gh.SetFailureRate(0)
	st2 := r.gh.Stats()
	r.note("GitHub answered %d API requests with errors of %d", st2.Total.Errors, st2.Total.Requests)
}

// scaleOut: the same events of the same world reach (a) one serve and (b)
// two web processes (round-robin) with two workers on one database and
// Redis, through a fan-out receiver in the harness; the two databases
// must be equal, table by table, and each equal to the world.
func scaleOut(ctx context.Context, t *testing.T, r *run) {
	a := r.sharedStack(ctx, t, "serve", "")
	b := r.sharedStack(ctx, t, "scaled", "")
	pa := a.start(ctx, t, "serve", "")
	w1 := b.start(ctx, t, "web", "")
	w2 := b.start(ctx, t, "web", "")
	b.start(ctx, t, "worker", "")
	b.start(ctx, t, "worker", "")
	f := startFanout(t, [][]string{{pa.addr}, {w1.addr, w2.addr}})
	r.gh.SetWebhookURL(f.url())
	r.backfill(ctx, t, pa.addr)
	r.backfill(ctx, t, w2.addr)
	a.waitBackfilled(ctx, t, 5*time.Minute)
	b.waitBackfilled(ctx, t, 5*time.Minute)
	r.flood(ctx, t, 0, r.sz.steps)
	r.finished = func(ctx context.Context, t *testing.T) {
		da, err := dump(ctx, a.db)
		if err != nil {
			t.Fatal(err)
		}
		db, err := dump(ctx, b.db)
		if err != nil {
			t.Fatal(err)
		}
		n, notes := compareDumps(da, db)
		rows := 0
		for _, v := range da {
			rows += len(v)
		}
		r.note("the two databases: %d github_* tables, %d rows, %d differing", len(da), rows, n)
		for _, s := range notes {
			r.note("%s", s)
		}
		r.extraLost += n
	}
}

// waitPagesPending waits until a scan is running with pages still to do.
func waitPagesPending(ctx context.Context, t *testing.T, st *stack) {
	t.Helper()
	err := waitUntil(ctx, 2*time.Minute, st.name+": a scan with pages pending", func() (bool, error) {
		var n int
		err := st.db.QueryRowContext(ctx, `SELECT count(*) FROM scan WHERE status IN ('queued', 'running') AND started_at IS NOT NULL AND kind <> 'repositories'`).Scan(&n)
		return err == nil && n > 0, nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, st.logs())
	}
}

// failedDeliveries counts the deliveries GitHub's log records as failed.
func failedDeliveries(r *run) int {
	n := 0
	for _, d := range r.gh.Deliveries() {
		if !d.OK() {
			n++
		}
	}
	return n
}
