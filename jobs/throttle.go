package jobs

// Throttling: an installation's rate-limit pause and its concurrency
// leases, shared by every worker process through Redis, and the session a
// job holds while it calls GitHub.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
)

// session is one job's right to call GitHub for an installation.
type session struct {
	inst    int64
	client  *github.Client
	release func()
}

// errRescheduled says the job queued itself again for later (rate limit,
// concurrency cap) and must stop without error.
var errRescheduled = errors.New("rescheduled")

// begin resolves the scan's installation, and checks its pause and
// concurrency cap; when the job must wait it queues itself again and
// returns errRescheduled.
func (e *engine) begin(ctx context.Context, job *work.Job, sc *scanRow) (*session, error) {
	if e.deps.GitHub == nil {
		return nil, &permanentError{err: errors.New("no GitHub client creator configured (jobs.Deps.GitHub)")}
	}
	if !sc.InstallationID.Valid {
		inst, err := e.installationFor(ctx, sc.Owner, sc.Repo)
		var rl *RateLimitedError
		if errors.As(err, &rl) {
			// The app's own limit: wait for it as for an installation's.
			return nil, e.onLimit(ctx, job, sc, rl)
		}
		if err != nil {
			return nil, err
		}
		if err := setScan(ctx, e.deps.DB, sc.ID, models.M{models.ScanColumns.InstallationID: inst}); err != nil {
			return nil, fmt.Errorf("record the installation of scan %d: %w", sc.ID, err)
		}
		sc.InstallationID = sql.NullInt64{Int64: inst, Valid: true}
	}
	inst := sc.InstallationID.Int64
	if until, err := e.pausedUntil(ctx, inst); err != nil {
		return nil, err
	} else if !until.IsZero() {
		return nil, e.reschedule(ctx, job, sc, until)
	}
	release, ok, err := e.acquire(ctx, inst)
	if err == nil && !ok {
		// At the cap: wait for a slot to free, up to BusyDelay, before
		// giving the worker back and queueing the job again.
		release, ok, err = e.awaitLease(ctx, inst, time.Now().Add(e.deps.BusyDelay))
	}
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, e.reschedule(ctx, job, sc, time.Now().Add(e.deps.BusyDelay))
	}
	if job != nil {
		// A job that waits keeps its scan alive for the sweeper.
		if err := e.touch(ctx, sc.ID); err != nil {
			release()
			return nil, err
		}
	}
	cached, err := e.deps.GitHub.NewInstallationClient(inst)
	if err != nil {
		release()
		return nil, fmt.Errorf("client of installation %d: %w", inst, err)
	}
	return &session{inst: inst, client: e.sessionClient(cached, inst), release: release}, nil
}

// reschedule queues job again at t (not before one second from now).
// Without a job (an inline sync) it reports the wait as an error.
func (e *engine) reschedule(ctx context.Context, job *work.Job, sc *scanRow, t time.Time) error {
	if job == nil {
		return &RateLimitedError{InstallationID: sc.InstallationID.Int64, Until: t}
	}
	secs := max(int64(time.Until(t).Seconds()+0.999), 1)
	if _, err := e.enq.EnqueueUniqueIn(job.Name, secs, job.Args); err != nil {
		return fmt.Errorf("queue %s again in %ds: %w", job.Name, secs, err)
	}
	if err := e.touch(ctx, sc.ID); err != nil {
		return err
	}
	return errRescheduled
}

// onLimit pauses the installation after a rate-limit answer and queues the
// job again at the reset.
func (e *engine) onLimit(ctx context.Context, job *work.Job, sc *scanRow, rl *RateLimitedError) error {
	if rl.Guessed {
		rl.Until = time.Now().Add(e.deps.SecondaryMinWait)
	}
	if floor := time.Now().Add(e.deps.RateLimitFloor); rl.Until.Before(floor) && !rl.Until.After(time.Now()) {
		// Still limited after the reset GitHub announced: our clocks
		// disagree, so wait a while rather than retry at once.
		rl.Until = floor
	}
	if rl.Secondary {
		// Each secondary limit within ten minutes doubles the wait after
		// Retry-After, up to 15 minutes.
		n, err := e.strikes(ctx, rl.InstallationID)
		if err != nil {
			return err
		}
		wait := time.Until(rl.Until)
		for i := int64(1); i < n && wait < 15*time.Minute; i++ {
			wait *= 2
		}
		rl.Until = time.Now().Add(min(wait, 15*time.Minute))
	}
	e.deps.Logger.Info().Int64("installation", rl.InstallationID).Time("until", rl.Until).Bool("secondary", rl.Secondary).
		Int64("scan", sc.ID).Msg("rate limit spent: the installation's jobs wait")
	if err := e.pause(ctx, rl.InstallationID, rl.Until); err != nil {
		return err
	}
	if job == nil {
		return rl
	}
	return e.reschedule(ctx, job, sc, rl.Until)
}

// strikes counts the installation's secondary limits of the last ten
// minutes, this one included.
func (e *engine) strikes(ctx context.Context, inst int64) (int64, error) {
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("redis: %w", err)
	}
	defer conn.Close()
	key := fmt.Sprintf("%s:webhookdb:secondary:%d", e.deps.Namespace, inst)
	n, err := redis.Int64(redis.DoContext(conn, ctx, "INCR", key))
	if err != nil {
		return 0, fmt.Errorf("count secondary limits of installation %d: %w", inst, err)
	}
	if _, err := redis.DoContext(conn, ctx, "EXPIRE", key, 600); err != nil {
		return 0, fmt.Errorf("count secondary limits of installation %d: %w", inst, err)
	}
	return n, nil
}

// The installation's shared state lives in Redis so that every worker
// process sees it: a pause until a rate limit resets, and a set of leases
// that caps how many of its jobs call GitHub at once.

func (e *engine) pauseKey(inst int64) string {
	return fmt.Sprintf("%s:webhookdb:paused:%d", e.deps.Namespace, inst)
}

func (e *engine) leaseKey(inst int64) string {
	return fmt.Sprintf("%s:webhookdb:leases:%d", e.deps.Namespace, inst)
}

// pausedUntil says until when the installation waits for a rate limit.
func (e *engine) pausedUntil(ctx context.Context, inst int64) (time.Time, error) {
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("redis: %w", err)
	}
	defer conn.Close()
	v, err := redis.Int64(redis.DoContext(conn, ctx, "GET", e.pauseKey(inst)))
	if errors.Is(err, redis.ErrNil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read pause of installation %d: %w", inst, err)
	}
	t := time.Unix(v, 0)
	if !t.After(time.Now()) {
		return time.Time{}, nil
	}
	return t, nil
}

// pause makes the installation's jobs wait until t. A later pause wins.
func (e *engine) pause(ctx context.Context, inst int64, t time.Time) error {
	ttl := int64(time.Until(t).Seconds()) + 1
	if ttl < 1 {
		return nil
	}
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer conn.Close()
	_, err = pauseScript.DoContext(ctx, conn, e.pauseKey(inst), t.Unix(), ttl)
	if err != nil {
		return fmt.Errorf("pause installation %d: %w", inst, err)
	}
	return nil
}

var pauseScript = redis.NewScript(1, `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1`)

// acquireScript takes one of the installation's leases if fewer than the
// cap are held; leases expire by themselves so a killed worker's are freed.
var acquireScript = redis.NewScript(1, `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0`)

// releaseScript gives a lease back and tells one job waiting for a slot
// of the installation (in any process) that one is free: a list of at
// most cap signals, popped by awaitLease.
var releaseScript = redis.NewScript(2, `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('LPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1`)

func (e *engine) freedKey(inst int64) string {
	return fmt.Sprintf("%s:webhookdb:freed:%d", e.deps.Namespace, inst)
}

// awaitLease waits until a lease of the installation is released, then
// tries to take one, until deadline. A signal may be stale (nobody waited
// when it was given) or taken by another process first: then it waits
// again.
func (e *engine) awaitLease(ctx context.Context, inst int64, deadline time.Time) (release func(), ok bool, err error) {
	for {
		left := time.Until(deadline)
		if left < time.Millisecond {
			return nil, false, nil
		}
		conn, err := e.deps.Redis.GetContext(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("redis: %w", err)
		}
		_, err = redis.DoContext(conn, ctx, "BLPOP", e.freedKey(inst), fmt.Sprintf("%.3f", left.Seconds()))
		conn.Close()
		if err != nil && !errors.Is(err, redis.ErrNil) {
			return nil, false, fmt.Errorf("wait for a lease of installation %d: %w", inst, err)
		}
		if release, ok, err = e.acquire(ctx, inst); err != nil || ok {
			return release, ok, err
		}
	}
}

// acquire takes a lease on one of the installation's concurrency slots.
// ok=false means the installation is at its cap.
func (e *engine) acquire(ctx context.Context, inst int64) (release func(), ok bool, err error) {
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("redis: %w", err)
	}
	defer conn.Close()
	var b [8]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	now := time.Now()
	ttl := e.deps.LeaseTTL
	got, err := redis.Int(acquireScript.DoContext(ctx, conn, e.leaseKey(inst),
		now.UnixMilli(), e.deps.InstallationConcurrency, now.Add(ttl).UnixMilli(), token, ttl.Milliseconds()))
	if err != nil {
		return nil, false, fmt.Errorf("take a lease of installation %d: %w", inst, err)
	}
	if got == 0 {
		return nil, false, nil
	}
	// The lease expires by itself so that a killed worker's slots come
	// back; a job that runs longer than the TTL (a slow GitHub) renews it
	// until it releases, so the cap holds however long a call takes.
	stop := make(chan struct{})
	go e.renewLease(inst, token, stop)
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(stop)
			// Released on a fresh context: the job's may be over.
			c, err := e.deps.Redis.GetContext(context.Background())
			if err != nil {
				e.deps.Logger.Warn().Err(err).Int64("installation", inst).Msg("release lease: redis")
				return
			}
			defer c.Close()
			if _, err := releaseScript.Do(c, e.leaseKey(inst), e.freedKey(inst), token,
				e.deps.InstallationConcurrency, e.deps.LeaseTTL.Milliseconds()); err != nil {
				e.deps.Logger.Warn().Err(err).Int64("installation", inst).Msg("release lease")
			}
		})
	}
	return release, true, nil
}

// renewLease pushes the lease's expiry forward every third of its TTL
// until stop is closed.
func (e *engine) renewLease(inst int64, token string, stop <-chan struct{}) {
	ttl := e.deps.LeaseTTL
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		c, err := e.deps.Redis.GetContext(context.Background())
		if err != nil {
			e.deps.Logger.Warn().Err(err).Int64("installation", inst).Msg("renew lease: redis")
			continue
		}
		expiry := time.Now().Add(ttl)
		_, err = c.Do("ZADD", e.leaseKey(inst), "XX", expiry.UnixMilli(), token)
		if err == nil {
			_, err = c.Do("PEXPIRE", e.leaseKey(inst), ttl.Milliseconds())
		}
		c.Close()
		if err != nil {
			e.deps.Logger.Warn().Err(err).Int64("installation", inst).Msg("renew lease")
			continue
		}
		if e.leaseRenewed != nil {
			e.leaseRenewed(inst, expiry)
		}
	}
}
