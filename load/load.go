// Package load serves the load endpoints: HTTP paths that mirror GitHub's
// API under /load/ and ask for a backfill of what they name, queued as a
// scan (202) or, for single objects with ?inline=true, run at once (200).
// Callers authenticate with a GitHub installation or user access token
// that GitHub confirms reaches the repository, or with a logged-in UI
// session and its CSRF token; an installation-wide load needs proof of the
// whole installation. GET /status/{scan_id} takes the same credentials. The work always runs with the installation's
// own token, never the caller's.
package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/ttlcache"
	"github.com/webhookdb/webhookdb/jobs"
)

// Scheduler queues scans and reads their progress; *jobs.Scheduler is one.
type Scheduler interface {
	Scan(ctx context.Context, req jobs.ScanRequest) (scanID int64, joined bool, err error)
	TreeStatus(ctx context.Context, scanID int64) (jobs.ScanStatus, error)
}

// InlineSyncer fetches one object from GitHub with the installation's token
// and stores it before returning; *jobs.Syncer is one. Build its client
// creator with githubapp.WithClientMiddleware(RecordRateLimit) so that
// GitHub's rate-limit headers reach the caller. Its errors are
// jobs.ErrNotFound when GitHub has no such object, jobs.ErrNoInstallation,
// and *jobs.RateLimitedError when the installation's budget is spent.
type InlineSyncer interface {
	Sync(ctx context.Context, req jobs.ScanRequest) (scanID int64, err error)
}

// SessionChecker reads a request's UI session (ui.UI is one): the
// logged-in user's login and GitHub access token, and whether the request
// carries the session's CSRF token. ok is false without a logged-in
// session.
type SessionChecker interface {
	SessionUser(r *http.Request) (login, token string, csrfOK, ok bool)
}

// Deps is what the endpoints need, built once by the app.
type Deps struct {
	DB        *sql.DB
	Scheduler Scheduler
	// Inline runs ?inline=true loads; without it they answer 501.
	Inline InlineSyncer
	// Sessions, when set, lets a logged-in UI session load.
	Sessions SessionChecker
	// V3APIURL is GitHub's REST API root (githubapp.Config.V3APIURL).
	V3APIURL string
	// GitHub makes the app (JWT) client that finds which installation covers
	// a repository GitHub has not told us about yet.
	GitHub githubapp.ClientCreator
	Logger zerolog.Logger
	// HTTPClient calls GitHub to confirm tokens; default 15s timeout.
	HTTPClient *http.Client
	// CacheTTL is how long a confirmed token stays confirmed, and a token
	// GitHub refused stays refused; default one minute. CacheSize bounds
	// the entries of each; default 10000.
	CacheTTL  time.Duration
	CacheSize int
	// Now is the clock of the cache; default time.Now.
	Now func() time.Time
}

// Handler serves the load endpoints and GET /status/{scan_id}.
type Handler struct {
	deps Deps
	auth *authorizer
}

// New builds the endpoints, filling in the defaults of deps.
func New(deps Deps) (*Handler, error) {
	if deps.DB == nil || deps.Scheduler == nil {
		return nil, errors.New("load: database and scheduler are required")
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if deps.CacheTTL == 0 {
		deps.CacheTTL = time.Minute
	}
	if deps.CacheSize <= 0 {
		deps.CacheSize = 10000
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	api, err := url.Parse(strings.TrimRight(deps.V3APIURL, "/") + "/")
	if err != nil || api.Host == "" {
		return nil, fmt.Errorf("load: GitHub API URL %q is not a URL", deps.V3APIURL)
	}
	h := &Handler{deps: deps}
	h.auth = &authorizer{
		apiURL:            api,
		client:            deps.HTTPClient,
		cache:             ttlcache.New[string](deps.CacheTTL, deps.CacheSize, deps.Now),
		refused:           ttlcache.New[string](deps.CacheTTL, deps.CacheSize, deps.Now),
		installationRepos: h.installationRepoIDs,
	}
	return h, nil
}

// Register mounts the routes on mux, each wrapped by wrap (the session
// middleware) when it is not nil. Other methods answer 405 with Allow,
// from http.ServeMux.
func (h *Handler) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	if wrap == nil {
		wrap = func(h http.Handler) http.Handler { return h }
	}
	for _, ep := range endpoints {
		mux.Handle("POST "+ep.pattern, wrap(h.loadHandler(ep)))
	}
	// The status takes the same credentials, a UI session among them.
	mux.Handle("GET /status/{scan_id}", wrap(http.HandlerFunc(h.status)))
}
