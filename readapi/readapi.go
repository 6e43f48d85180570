// Package readapi serves GitHub's REST reads under /api/v3/ from the
// replica, so that go-github, Octokit or `gh api` pointed at webhookdb read
// what the organization's GitHub holds without spending GitHub's rate
// limit. Every answer is read through the generated models; GitHub is only
// asked whether the caller's token may see what it asks for (cached
// briefly, refusals too).
package readapi

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/ttlcache"
)

// Prefix is where the read API lives, as on GitHub Enterprise Server, so
// that GITHUB_API_URL-style settings work.
const Prefix = "/api/v3"

// Deps is what the read API needs; app fills it from the configuration.
type Deps struct {
	DB *sql.DB
	// Redis holds the read rate limit's counters, shared by every web
	// process; Namespace prefixes their keys.
	Redis     *redis.Pool
	Namespace string
	// V3APIURL is GitHub's REST API, asked whether a token reaches what
	// it reads.
	V3APIURL string
	// PublicURL is this server as its clients reach it: the Link headers
	// point there.
	PublicURL string
	// RateLimit is the reads per hour each token may make; default 15000.
	RateLimit int
	// ReachTTL is how long GitHub's answer about a token and a target is
	// kept; default one minute. CacheSize bounds those answers (10000).
	ReachTTL  time.Duration
	CacheSize int
	// HTTPClient asks GitHub; default a 15 s timeout.
	HTTPClient *http.Client
	Logger     zerolog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// API is the read API's handler.
type API struct {
	deps    Deps
	db      *sql.DB
	reach   *reach
	limiter *limiter
	// linkBase is PublicURL + Prefix, the start of every Link.
	linkBase string
	mux      *http.ServeMux
}

// New builds the read API, filling in the defaults of deps.
func New(deps Deps) (*API, error) {
	if deps.DB == nil || deps.Redis == nil {
		return nil, errors.New("readapi: database and Redis are required")
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if deps.RateLimit <= 0 {
		deps.RateLimit = 15000
	}
	if deps.ReachTTL == 0 {
		deps.ReachTTL = time.Minute
	}
	if deps.CacheSize <= 0 {
		deps.CacheSize = 10000
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	gh, err := url.Parse(strings.TrimRight(deps.V3APIURL, "/") + "/")
	if err != nil || gh.Host == "" {
		return nil, fmt.Errorf("readapi: GitHub API URL %q is not a URL", deps.V3APIURL)
	}
	pub, err := url.Parse(deps.PublicURL)
	if err != nil || pub.Host == "" {
		return nil, fmt.Errorf("readapi: public URL %q is not a URL", deps.PublicURL)
	}
	a := &API{
		deps:     deps,
		db:       deps.DB,
		linkBase: strings.TrimRight(deps.PublicURL, "/") + Prefix,
		reach: &reach{
			apiURL:  gh,
			client:  deps.HTTPClient,
			answers: ttlcache.New[reachAnswer](deps.ReachTTL, deps.CacheSize, deps.Now),
		},
		limiter: &limiter{pool: deps.Redis, prefix: deps.Namespace + ":readapi:", perHour: deps.RateLimit, now: deps.Now},
	}
	a.mux = http.NewServeMux()
	for _, ep := range a.endpoints() {
		a.mount(ep)
	}
	return a, nil
}

// Register mounts the read API on mux under Prefix.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle(Prefix+"/", a)
}

// ServeHTTP answers one read. A path we do not serve, and any method but
// GET and HEAD, answers 404 saying so: webhookdb never makes up an answer.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.deps.Logger.Error().Interface("panic", v).Str("path", r.URL.Path).Msg("read API panicked")
			writeError(w, http.StatusInternalServerError, "webhookdb could not answer this read")
		}
	}()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusNotFound, "webhookdb's read API serves GET requests only: send "+r.Method+" to GitHub itself")
		return
	}
	// Handler finds the pattern only; ServeHTTP sets the path values.
	if _, pattern := a.mux.Handler(r); pattern == "" {
		writeError(w, http.StatusNotFound, "webhookdb does not serve "+r.URL.Path+": it serves GitHub's reads of what it replicates (see docs/read-api.md)")
		return
	}
	a.mux.ServeHTTP(w, r)
}
