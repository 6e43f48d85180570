package jobs

// Hand-off: the follow-ups a job queues (the next pages, the fan-in, the
// children scans) run at once in this process's free job slots instead of
// waiting for gocraft/work's fetch loop, which sleeps up to 5 s after it
// last found the queues empty (the backfill's chains then crawl: issue
// 12). Each follow-up is still queued in Redis first, so another process
// may take it and a crash loses nothing; a slot here claims it by
// removing that very queue entry (LREM), so it runs once whoever is
// first. A killed process loses the claimed entries, not the work: their
// scans stay open and the sweeper queues their jobs again.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
)

// crewBudget is how long one gocraft/work job keeps claiming follow-ups
// for its crew. Past it the rest wait in Redis for the fetch loops (awake
// by then), so the pool's Stop, which waits for the job, is not held up
// by a whole backfill.
const crewBudget = 30 * time.Second

// crewQueuePerSlot bounds the follow-ups a crew holds, per job slot.
const crewQueuePerSlot = 4

// handoff is the hand-off of one worker pool: its job slots, shared by the
// jobs gocraft/work fetched and the follow-ups claimed here, so the
// process never runs more jobs at once than its configured concurrency.
type handoff struct {
	slots chan struct{}
	// maxQueue bounds the follow-ups one crew holds in memory.
	maxQueue int
	fns      map[string]jobFunc
	// ran, a test hook, is told each claimed job before it runs; nil in
	// production.
	ran func(job *work.Job)
}

func newLocal(concurrency int, fns map[string]jobFunc) *handoff {
	n := max(concurrency, 1)
	return &handoff{slots: make(chan struct{}, n), maxQueue: crewQueuePerSlot * n, fns: fns}
}

// crew runs the follow-ups of one gocraft/work job, and of the jobs it
// claims, in the slots free meanwhile. The job returns to gocraft/work
// only once its crew is done, so Stop still waits for what it started.
type crew struct {
	e     *engine
	until time.Time
	mu    sync.Mutex
	cond  *sync.Cond
	queue []*work.Job
	// helpers are the goroutines besides the job's own running claims.
	helpers int
}

type crewKey struct{}

func crewOf(ctx context.Context) *crew {
	c, _ := ctx.Value(crewKey{}).(*crew)
	return c
}

// runFetched runs a job gocraft/work fetched, then its crew's follow-ups.
func (e *engine) runFetched(name string, fn jobFunc, job *work.Job) error {
	l := e.local
	l.slots <- struct{}{}
	defer func() { <-l.slots }()
	c := &crew{e: e, until: time.Now().Add(crewBudget)}
	c.cond = sync.NewCond(&c.mu)
	err := e.run(context.WithValue(context.Background(), crewKey{}, c), name, fn, job)
	for {
		c.work()
		c.mu.Lock()
		for c.helpers > 0 && len(c.queue) == 0 {
			c.cond.Wait()
		}
		idle := c.helpers == 0 && len(c.queue) == 0
		c.mu.Unlock()
		if idle {
			return err
		}
	}
}

// enqueue queues a job in Redis, unique by name and arguments, and offers
// it to the crew of ctx when there is one.
func (e *engine) enqueue(ctx context.Context, name string, args work.Q) error {
	job, err := e.enq.EnqueueUnique(name, args)
	if err != nil {
		return fmt.Errorf("queue %s %v: %w", name, args, err)
	}
	if c := crewOf(ctx); c != nil && job != nil && e.local != nil && e.local.fns[name] != nil {
		c.offer(job)
	}
	return nil
}

// offer adds a queued job to the crew, and starts a helper when a slot is
// free; the crew's own goroutine takes it otherwise.
func (c *crew) offer(job *work.Job) {
	if time.Now().After(c.until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The job is in Redis already: past a few per slot, the fetch loops
	// take the rest, so a big backfill's follow-ups (thousands of child
	// scans) are not all held in memory here.
	if len(c.queue) >= c.e.local.maxQueue {
		return
	}
	c.queue = append(c.queue, job)
	c.cond.Broadcast()
	select {
	case c.e.local.slots <- struct{}{}:
		c.helpers++
		go func() {
			defer func() {
				<-c.e.local.slots
				c.mu.Lock()
				c.helpers--
				c.cond.Broadcast()
				c.mu.Unlock()
			}()
			c.work()
		}()
	default:
	}
}

// work runs the crew's queued jobs until none is left.
func (c *crew) work() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		job := c.queue[0]
		c.queue = c.queue[1:]
		c.mu.Unlock()
		c.e.runClaimed(c, job)
	}
}

// claimScript takes a queued job out of its queue and drops its unique
// key, as gocraft/work's fetch does; 0 when another worker took it first.
var claimScript = redis.NewScript(2, `
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0`)

// runClaimed claims a queued job and runs it with gocraft/work's outcome:
// a failure goes to the retry queue (or the dead one after MaxFails).
func (e *engine) runClaimed(c *crew, job *work.Job) {
	ctx := context.Background()
	raw, err := json.Marshal(job)
	if err != nil {
		e.deps.Logger.Warn().Err(err).Str("job", job.Name).Msg("hand-off: encode job; gocraft/work runs it")
		return
	}
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		e.deps.Logger.Warn().Err(err).Str("job", job.Name).Msg("hand-off: redis; gocraft/work runs the job")
		return
	}
	got, err := redis.Int(claimScript.DoContext(ctx, conn, e.queueKey(job.Name), uniqueKey(e.deps.Namespace, job), raw))
	conn.Close()
	if err != nil || got == 0 {
		if err != nil {
			e.deps.Logger.Warn().Err(err).Str("job", job.Name).Msg("hand-off: claim; gocraft/work runs the job")
		}
		return
	}
	if e.local.ran != nil {
		e.local.ran(job)
	}
	// Its own follow-ups join the same crew.
	runErr := e.run(context.WithValue(ctx, crewKey{}, c), job.Name, e.local.fns[job.Name], job)
	if runErr == nil {
		return
	}
	if err := e.failClaimed(ctx, job, runErr); err != nil {
		// The scan stays open: the sweeper queues the job again.
		e.deps.Logger.Error().Err(err).Str("job", job.Name).Interface("args", job.Args).Msg("hand-off: record a failed job")
	}
}

// failClaimed records a failed claimed job as gocraft/work's worker
// would: retried after the backoff while tries remain, then dead.
func (e *engine) failClaimed(ctx context.Context, job *work.Job, cause error) error {
	job.Fails++
	job.LastErr = cause.Error()
	job.FailedAt = time.Now().Unix()
	raw, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode failed job %s: %w", job.Name, err)
	}
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer conn.Close()
	key, at := nsPrefix(e.deps.Namespace)+"retry", time.Now().Unix()+e.backoff(job)
	if job.Fails >= int64(e.deps.MaxFails) {
		key, at = nsPrefix(e.deps.Namespace)+"dead", time.Now().Unix()
	}
	if _, err := redis.DoContext(conn, ctx, "ZADD", key, at, raw); err != nil {
		return fmt.Errorf("requeue failed job %s: %w", job.Name, err)
	}
	return nil
}

// queueKey is gocraft/work's queue of a job name.
func (e *engine) queueKey(name string) string { return nsPrefix(e.deps.Namespace) + "jobs:" + name }

// nsPrefix is gocraft/work's key prefix of a namespace.
func nsPrefix(ns string) string {
	if ns != "" && !strings.HasSuffix(ns, ":") {
		return ns + ":"
	}
	return ns
}

// uniqueKey is gocraft/work's uniqueness key of a job (its name and
// arguments, the JSON encoder's trailing newline included).
func uniqueKey(ns string, job *work.Job) string {
	var buf bytes.Buffer
	buf.WriteString(nsPrefix(ns) + "unique:" + job.Name + ":")
	if job.Args != nil {
		_ = json.NewEncoder(&buf).Encode(job.Args)
	}
	return buf.String()
}
