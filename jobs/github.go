package jobs

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
)

// ErrNotFound says GitHub has no such object (404 or 410).
var ErrNotFound = errors.New("not found on GitHub")

// ErrNoInstallation says no installation of the app covers the repository.
var ErrNoInstallation = errors.New("no installation of the app covers this repository")

// RateLimitedError says the installation's primary (or secondary) rate
// limit is spent until Until. Queued work waits by itself; inline callers
// answer 503 with the seconds left.
type RateLimitedError struct {
	InstallationID int64
	Until          time.Time
	Secondary      bool
}

func (e *RateLimitedError) Error() string {
	kind := "primary"
	if e.Secondary {
		kind = "secondary"
	}
	return fmt.Sprintf("GitHub %s rate limit of installation %d spent until %s", kind, e.InstallationID, e.Until.UTC().Format(time.RFC3339))
}

// permanentError is a GitHub answer that retrying will not change (a 4xx
// other than 404/410 and the rate limits): the page fails for good at once.
type permanentError struct {
	status int
	err    error
}

func (e *permanentError) Error() string {
	return fmt.Sprintf("GitHub answered %d: %v", e.status, e.err)
}
func (e *permanentError) Unwrap() error { return e.err }

// fetched is one GitHub answer: a 200 decoded into the caller's value, or
// a 304 that left it untouched.
type fetched struct {
	notModified bool
	etag        string
	nextPage    int
	lastPage    int
	// requested is false when go-github refused locally (a limit it already
	// knew was spent), so nothing was sent.
	requested bool
}

// get fetches path (relative to the API base) into v, sending etag as
// If-None-Match when given. Its error is classified: ErrNotFound,
// *RateLimitedError, *permanentError, or anything else (transient: 5xx,
// network) which the caller retries.
func get(ctx context.Context, client *github.Client, installationID int64, path, etag string, v any) (fetched, error) {
	var f fetched
	req, err := client.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return f, &permanentError{status: 0, err: fmt.Errorf("build request for %s: %w", path, err)}
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := client.Do(ctx, req, v)
	f.requested = true
	if resp != nil {
		f.nextPage, f.lastPage = resp.NextPage, resp.LastPage
		if resp.Response != nil {
			f.etag = resp.Header.Get("ETag")
		}
	}
	if err == nil {
		return f, nil
	}
	var rle *github.RateLimitError
	if errors.As(err, &rle) {
		// go-github answers a limit it already knows about without sending.
		f.requested = rle.Response != nil && rle.Response.Header.Get("X-RateLimit-Limit") != ""
		until := rle.Rate.Reset.Time
		if until.IsZero() {
			until = time.Now().Add(time.Minute)
		}
		return f, &RateLimitedError{InstallationID: installationID, Until: until}
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		wait := time.Minute
		if abuse.RetryAfter != nil {
			wait = *abuse.RetryAfter
		}
		return f, &RateLimitedError{InstallationID: installationID, Until: time.Now().Add(wait), Secondary: true}
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		switch code := er.Response.StatusCode; {
		case code == http.StatusNotModified:
			f.notModified = true
			if f.etag == "" {
				f.etag = etag
			}
			return f, nil
		case code == http.StatusNotFound || code == http.StatusGone:
			return f, fmt.Errorf("GET %s: %w", path, ErrNotFound)
		case code == http.StatusTooManyRequests || code == http.StatusForbidden:
			// go-github v60 only recognises 403 limits; GitHub also answers 429.
			if until, ok := limitFromHeaders(er.Response.Header); ok {
				return f, &RateLimitedError{InstallationID: installationID, Until: until, Secondary: er.Response.Header.Get("X-RateLimit-Remaining") != "0"}
			}
			if code == http.StatusTooManyRequests {
				return f, &RateLimitedError{InstallationID: installationID, Until: time.Now().Add(time.Minute), Secondary: true}
			}
			return f, &permanentError{status: code, err: err}
		case code >= 400 && code < 500:
			return f, &permanentError{status: code, err: err}
		}
	}
	return f, fmt.Errorf("GET %s: %w", path, err)
}

// limitFromHeaders reads when a 403/429 limit ends: Retry-After first, then
// a spent primary budget's reset time.
func limitFromHeaders(h http.Header) (time.Time, bool) {
	if ra := h.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil {
			return time.Now().Add(time.Duration(secs) * time.Second), true
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return time.Unix(reset, 0), true
		}
	}
	return time.Time{}, false
}

// installationFor finds the installation that covers owner/repo.
func (e *engine) installationFor(ctx context.Context, owner, repo string) (int64, error) {
	return InstallationFor(ctx, e.deps.DB, e.deps.GitHub, owner, repo)
}

// InstallationFor finds the installation of this app that covers
// owner/repo: the stored mapping first, then GitHub's
// GET /repos/{o}/{r}/installation with the app's own token. It returns an
// error wrapping ErrNoInstallation when no installation covers it.
func InstallationFor(ctx context.Context, db *sql.DB, apps githubapp.ClientCreator, owner, repo string) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, `
		SELECT ir.installation_id
		FROM github_repository r
		JOIN github_installation_repository ir ON ir.repo_id = r.id
		JOIN github_installation i ON i.id = ir.installation_id AND i.deleted_at IS NULL
		WHERE lower(r.full_name) = lower($1)
		ORDER BY ir.created_at DESC LIMIT 1`, owner+"/"+repo).Scan(&id)
	switch {
	case err == nil:
		return id, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("look up the installation of %s/%s: %w", owner, repo, err)
	}
	if apps == nil {
		return 0, fmt.Errorf("%s/%s is not stored and no GitHub client is configured to ask: %w", owner, repo, ErrNoInstallation)
	}
	app, err := apps.NewAppClient()
	if err != nil {
		return 0, fmt.Errorf("app client: %w", err)
	}
	inst, _, err := app.Apps.FindRepositoryInstallation(ctx, owner, repo)
	if err != nil {
		var er *github.ErrorResponse
		if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
			return 0, fmt.Errorf("%s/%s: %w", owner, repo, ErrNoInstallation)
		}
		return 0, fmt.Errorf("ask GitHub for the installation of %s/%s: %w", owner, repo, err)
	}
	return inst.GetID(), nil
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
			if _, err := c.Do("ZREM", e.leaseKey(inst), token); err != nil {
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
		}
	}
}
