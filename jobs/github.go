package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/process"
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
	id, ok, err := process.RepositoryInstallation(ctx, db, owner, repo)
	if err != nil {
		return 0, err
	}
	if ok {
		return id, nil
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
