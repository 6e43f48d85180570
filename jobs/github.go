package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
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
	// Guessed says GitHub named no wait: Until is the least GitHub asks
	// for (a minute), which the jobs replace with Deps.SecondaryMinWait.
	Guessed bool
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
	// lastModified is the answer's Last-Modified when it can stand in for
	// the ETag (stableLastModified); zero otherwise.
	lastModified time.Time
	nextPage     int
	lastPage     int
	// requested is false when go-github refused locally (a limit it already
	// knew was spent), so nothing was sent.
	requested bool
}

// get fetches path (relative to the API base) into v, sending etag as
// If-None-Match and since as If-Modified-Since when given. Its error is classified: ErrNotFound,
// *RateLimitedError, *permanentError, or anything else (transient: 5xx,
// network) which the caller retries.
func get(ctx context.Context, client *github.Client, installationID int64, path, etag string, v any, since ...time.Time) (fetched, error) {
	var f fetched
	req, err := client.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return f, &permanentError{status: 0, err: fmt.Errorf("build request for %s: %w", path, err)}
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if len(since) > 0 && !since[0].IsZero() {
		req.Header.Set("If-Modified-Since", since[0].UTC().Format(http.TimeFormat))
	}
	resp, err := client.Do(ctx, req, v)
	f.requested = true
	if resp != nil {
		f.nextPage, f.lastPage = resp.NextPage, resp.LastPage
		if resp.Response != nil {
			f.etag = resp.Header.Get("ETag")
			f.lastModified = stableLastModified(resp.Header)
		}
	}
	if err == nil {
		return f, nil
	}
	// 403 and 429 limits alike (ratelimit.go); go-github answers a limit
	// it already knows about without sending.
	if rl, sent, ok := rateLimitOf(installationID, err, time.Now()); ok {
		f.requested = sent
		return f, rl
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
		case code >= 400 && code < 500:
			return f, &permanentError{status: code, err: err}
		}
	}
	return f, fmt.Errorf("GET %s: %w", path, err)
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
		if rl, ok := RateLimitFromError(0, err); ok {
			// The app's own budget (installation 0): callers wait as for
			// an installation's.
			return 0, fmt.Errorf("ask GitHub for the installation of %s/%s: %w", owner, repo, rl)
		}
		return 0, fmt.Errorf("ask GitHub for the installation of %s/%s: %w", owner, repo, err)
	}
	return inst.GetID(), nil
}
