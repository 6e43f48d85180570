package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"

	"github.com/webhookdb/webhookdb/ghfake"
)

// handoffEngine is an engine with a hand-off of n slots and no worker
// pool: only the hand-off can run the follow-ups of a job run by hand.
func handoffEngine(d Deps, n int, fns map[string]jobFunc) (*engine, *[]string) {
	e := newEngine(d)
	if fns == nil {
		fns = e.handlers()
	}
	e.local = newLocal(n, fns)
	var mu sync.Mutex
	var ran []string
	e.local.ran = func(job *work.Job) {
		mu.Lock()
		ran = append(ran, job.Name)
		mu.Unlock()
	}
	return e, &ran
}

// fetchQueued takes the only queued job of name out of Redis, as
// gocraft/work's fetch would.
func fetchQueued(t *testing.T, ns, name string) *work.Job {
	t.Helper()
	conn := env.Redis.Get()
	defer conn.Close()
	raw, err := redis.Bytes(conn.Do("RPOP", ns+":jobs:"+name))
	if err != nil {
		t.Fatalf("no %s queued: %v", name, err)
	}
	var job work.Job
	if err := json.Unmarshal(raw, &job); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Do("DEL", uniqueKey(ns, &job)); err != nil {
		t.Fatal(err)
	}
	return &job
}

// A whole backfill runs from its first job alone: every follow-up (pages,
// fan-ins, children scans) is claimed from Redis and run in the free slots.
// No worker pool runs, so a follow-up the hand-off missed stays queued and
// its scan open.
func TestHandoffRunsFollowUpsInFreeSlots(t *testing.T) {
	sz := loadSize{repos: 2, pulls: 6, issues: 8, maxFiles: 3, comments: 1, labels: 3, milestones: 1, reviews: 1}
	h := newHarness(t, ghfake.Options{Seed: seedFor(sz), RateLimit: 100000}, nil)
	e, ran := handoffEngine(h.deps, 4, nil)
	// Room for every follow-up: the whole backfill runs in this crew.
	e.local.maxQueue = 1 << 20
	h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, RequestedBy: "test"})
	name := SpawnJob(CollectionRepositories)
	job := fetchQueued(t, h.deps.Namespace, name)
	if err := e.runFetched(name, e.spawnJob, job); err != nil {
		t.Fatal(err)
	}
	h.assertAllDone()
	h.assertMatchesWorld()
	if len(*ran) == 0 {
		t.Fatal("no follow-up was claimed")
	}
	conn := env.Redis.Get()
	defer conn.Close()
	keys, err := redis.Strings(conn.Do("KEYS", h.deps.Namespace+":jobs:*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if n, _ := redis.Int(conn.Do("LLEN", k)); n != 0 {
			t.Errorf("%s still holds %d jobs", k, n)
		}
	}
	// Claimed jobs drop their unique keys, as a fetch does, so the same
	// job can be queued again later (a retry, the sweeper).
	if uk, _ := redis.Strings(conn.Do("KEYS", h.deps.Namespace+":unique:*")); len(uk) != 0 {
		t.Errorf("unique keys left: %v", uk)
	}
}

// A job another worker fetched first is not run again by the hand-off.
func TestHandoffSkipsJobsTakenElsewhere(t *testing.T) {
	d := testDeps(t)
	calls := 0
	fns := map[string]jobFunc{"x": func(context.Context, *work.Job) error { calls++; return nil }}
	e, ran := handoffEngine(d, 2, fns)
	taken, err := e.enq.EnqueueUnique("x", work.Q{"scan_id": 1})
	if err != nil || taken == nil {
		t.Fatalf("enqueue: %v %v", taken, err)
	}
	fetchQueued(t, d.Namespace, "x") // another worker has it
	ours, err := e.enq.EnqueueUnique("x", work.Q{"scan_id": 2})
	if err != nil || ours == nil {
		t.Fatalf("enqueue: %v %v", ours, err)
	}
	c := &crew{e: e}
	c.cond = sync.NewCond(&c.mu)
	e.runClaimed(c, taken)
	if calls != 0 || len(*ran) != 0 {
		t.Fatalf("a job fetched elsewhere ran %d times here", calls)
	}
	e.runClaimed(c, ours)
	e.runClaimed(c, ours)
	if calls != 1 {
		t.Fatalf("a queued job claimed twice ran %d times, want 1", calls)
	}
	if n := queueLen(t, d.Namespace, "x"); n != 0 {
		t.Errorf("%d jobs left queued after the claim", n)
	}
}

// A claimed job that fails is retried as gocraft/work would: in the retry
// queue with its failure counted, and dead once its tries are spent.
func TestHandoffFailedJobIsRetried(t *testing.T) {
	d := testDeps(t)
	d.MaxFails = 2
	fns := map[string]jobFunc{"x": func(context.Context, *work.Job) error { return errors.New("boom") }}
	e, _ := handoffEngine(d, 1, fns)
	c := &crew{e: e}
	c.cond = sync.NewCond(&c.mu)
	conn := env.Redis.Get()
	defer conn.Close()
	for try, set := range []string{"retry", "dead"} {
		job, err := e.enq.EnqueueUnique("x", work.Q{"scan_id": 1})
		if err != nil || job == nil {
			t.Fatalf("enqueue: %v %v", job, err)
		}
		job.Fails = int64(try) // as the retry queue hands it back
		if try > 0 {
			// The retried job is the queued one with its count.
			if _, err := conn.Do("DEL", d.Namespace+":jobs:x"); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(job)
			if _, err := conn.Do("LPUSH", d.Namespace+":jobs:x", raw); err != nil {
				t.Fatal(err)
			}
		}
		e.runClaimed(c, job)
		raws, err := redis.ByteSlices(conn.Do("ZRANGE", d.Namespace+":"+set, 0, -1))
		if err != nil || len(raws) != 1 {
			t.Fatalf("%s set holds %d jobs (%v), want 1", set, len(raws), err)
		}
		var got work.Job
		if err := json.Unmarshal(raws[0], &got); err != nil {
			t.Fatal(err)
		}
		if got.Fails != int64(try+1) || got.LastErr == "" {
			t.Errorf("%s job: fails %d, err %q; want %d and the error", set, got.Fails, got.LastErr, try+1)
		}
		if _, err := conn.Do("DEL", d.Namespace+":retry"); err != nil {
			t.Fatal(err)
		}
	}
}

// A scan of one page ends in the job that wrote its page: no fan-in job is
// queued, and the scan is done once the spawn returns.
func TestOnePageScanEndsInItsSpawn(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 8, ReposPerAccount: 1, PullsPerRepo: 1, IssuesPerRepo: 1, LabelsPerRepo: 2}}, nil)
	repo := h.gh.World().InstallationRepositories(h.inst)[0]
	e := newEngine(h.deps)
	id := h.scan(ScanRequest{Kind: CollectionLabels, InstallationID: h.inst, Owner: repo.GetOwner().GetLogin(), Repo: repo.GetName(), RequestedBy: "test"})
	if err := e.spawnJob(ctx, &work.Job{Name: SpawnJob(CollectionLabels), Args: map[string]any{"scan_id": id}}); err != nil {
		t.Fatal(err)
	}
	st, err := h.sched.Status(ctx, id)
	if err != nil || st.Status != "done" || st.Items != 2 {
		t.Fatalf("scan status %+v, %v; want done with 2 items", st, err)
	}
	if n := queueLen(t, h.deps.Namespace, ScannedJob(CollectionLabels)); n != 0 {
		t.Errorf("%d fan-in jobs queued for a scan that ended", n)
	}
}

// A job at its installation's cap takes the slot another job gives back,
// whichever process that is, instead of waiting a fixed delay.
func TestLeaseWaitWakesOnRelease(t *testing.T) {
	ctx := context.Background()
	d := testDeps(t)
	d.InstallationConcurrency = 1
	holder, waiter := newEngine(d), newEngine(d) // two processes
	const inst = 43
	release, ok, err := holder.acquire(ctx, inst)
	if err != nil || !ok {
		t.Fatalf("first lease: %v %v", ok, err)
	}
	got := make(chan bool, 1)
	go func() {
		rel, ok, err := waiter.awaitLease(ctx, inst, time.Now().Add(time.Minute))
		if err != nil {
			t.Error(err)
		}
		if ok {
			rel()
		}
		got <- ok
	}()
	release()
	if !<-got {
		t.Fatal("the waiting job did not get the released slot")
	}
	// Nobody holds a lease now, and a signal nobody waited for does not
	// make room beyond the cap.
	first, ok, err := waiter.acquire(ctx, inst)
	if err != nil || !ok {
		t.Fatalf("lease after release: %v %v", ok, err)
	}
	defer first()
	if _, ok, err := waiter.awaitLease(ctx, inst, time.Now().Add(50*time.Millisecond)); err != nil || ok {
		t.Fatalf("a second lease over a cap of 1: %v %v", ok, err)
	}
}

// TestHandoffHoldsFewFollowUps: a crew holds at most a few follow-ups per
// slot in memory; the others stay queued in Redis, where the worker pool
// takes them, and the backfill still completes whole.
func TestHandoffHoldsFewFollowUps(t *testing.T) {
	sz := loadSize{repos: 2, pulls: 6, issues: 8, maxFiles: 3, comments: 1, labels: 3, milestones: 1, reviews: 1}
	h := newHarness(t, ghfake.Options{Seed: seedFor(sz), RateLimit: 100000}, nil)
	e, ran := handoffEngine(h.deps, 1, nil)
	e.local.maxQueue = 1
	h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, RequestedBy: "test"})
	name := SpawnJob(CollectionRepositories)
	job := fetchQueued(t, h.deps.Namespace, name)
	if err := e.runFetched(name, e.spawnJob, job); err != nil {
		t.Fatal(err)
	}
	conn := env.Redis.Get()
	keys, err := redis.Strings(conn.Do("KEYS", h.deps.Namespace+":jobs:*"))
	left := 0
	for _, k := range keys {
		n, _ := redis.Int(conn.Do("LLEN", k))
		left += n
	}
	conn.Close()
	if err != nil || left == 0 {
		t.Fatalf("no follow-up left in Redis (%v): the crew held them all (%d ran here)", err, len(*ran))
	}
	h.start(4)
	h.waitIdle(time.Minute)
	h.assertAllDone()
	h.assertMatchesWorld()
}
