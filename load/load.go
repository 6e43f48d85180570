// Package load serves the load endpoints: HTTP paths that mirror GitHub's
// API under /load/ and ask for a backfill of what they name, queued as a
// scan (202) or, for single objects with ?inline=true, run at once (200).
// Callers authenticate with a GitHub installation or user access token
// that GitHub confirms reaches the repository, or with a logged-in UI
// session and its CSRF token. The work always runs with the installation's
// own token, never the caller's.
package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/httpjson"
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
	// CacheTTL is how long a confirmed token stays confirmed; default one
	// minute. CacheSize bounds the entries; default 10000.
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

// New builds the endpoints.
func New(o Deps) (*Handler, error) {
	if o.DB == nil || o.Scheduler == nil {
		return nil, errors.New("load: database and scheduler are required")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = time.Minute
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	api, err := url.Parse(strings.TrimRight(o.V3APIURL, "/") + "/")
	if err != nil || api.Host == "" {
		return nil, fmt.Errorf("load: GitHub API URL %q is not a URL", o.V3APIURL)
	}
	h := &Handler{deps: o}
	h.auth = &authorizer{
		apiURL:                  api,
		client:                  o.HTTPClient,
		cache:                   newConfirmations(o.CacheTTL, o.CacheSize, o.Now),
		resolveRepoInstallation: h.repoInstallation,
	}
	return h, nil
}

// endpoint is one load route.
type endpoint struct {
	pattern string
	// kind is the scan kind (a jobs collection or sync job name).
	kind string
	// query lists the query parameters the endpoint accepts.
	query []string
	// installation: the route names an installation, not a repository.
	installation bool
	number       bool // {number} in the path
	name         bool // {name} in the path (labels)
	// children is forced on (an installation loads everything).
	children bool
}

// endpoints are the load routes, as the design's route table lists them;
// the table is never modified.
//
// ?full=true, wherever a collection is listed (itself or as children),
// forces a complete listing: after a first complete scan, pulls, issues and
// comments are read incrementally and nothing is removed, so without it a
// delete whose webhook was lost would stay in the replica for ever.
var endpoints = []endpoint{
	{pattern: "/load/installations/{id}", kind: jobs.CollectionRepositories, query: []string{"full"}, installation: true, children: true},
	{pattern: "/load/repos/{owner}/{repo}", kind: jobs.JobSyncRepository, query: []string{"inline", "children", "full"}},
	{pattern: "/load/repos/{owner}/{repo}/pulls", kind: jobs.CollectionPullRequests, query: []string{"state", "children", "full"}},
	{pattern: "/load/repos/{owner}/{repo}/pulls/{number}", kind: jobs.JobSyncPullRequest, query: []string{"inline", "children", "full"}, number: true},
	{pattern: "/load/repos/{owner}/{repo}/pulls/{number}/files", kind: jobs.CollectionPullRequestFiles, query: []string{"full"}, number: true},
	{pattern: "/load/repos/{owner}/{repo}/issues", kind: jobs.CollectionIssues, query: []string{"state", "full"}},
	{pattern: "/load/repos/{owner}/{repo}/issues/{number}", kind: jobs.JobSyncIssue, query: []string{"inline"}, number: true},
	{pattern: "/load/repos/{owner}/{repo}/issues/comments", kind: jobs.CollectionIssueComments, query: []string{"full"}},
	{pattern: "/load/repos/{owner}/{repo}/labels", kind: jobs.CollectionLabels, query: []string{"full"}},
	{pattern: "/load/repos/{owner}/{repo}/labels/{name}", kind: jobs.JobSyncLabel, query: []string{"inline"}, name: true},
	{pattern: "/load/repos/{owner}/{repo}/milestones", kind: jobs.CollectionMilestones, query: []string{"full"}},
	{pattern: "/load/repos/{owner}/{repo}/milestones/{number}", kind: jobs.JobSyncMilestone, query: []string{"inline"}, number: true},
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
	mux.Handle("GET /status/{scan_id}", http.HandlerFunc(h.status))
}

// request is one parsed load request.
type request struct {
	scan   jobs.ScanRequest
	inline bool
}

// parse reads and checks the path and query of r for ep.
func parse(ep endpoint, r *http.Request) (request, error) {
	var out request
	out.scan.Kind = ep.kind
	out.scan.Children = ep.children
	if ep.installation {
		id, err := parseID("installation id", r.PathValue("id"))
		if err != nil {
			return out, err
		}
		out.scan.InstallationID = id
	} else {
		owner, repo := r.PathValue("owner"), r.PathValue("repo")
		if err := checkOwner(owner); err != nil {
			return out, err
		}
		if err := checkRepo(repo); err != nil {
			return out, err
		}
		out.scan.Owner, out.scan.Repo = owner, repo
	}
	if ep.number {
		n, err := parseNumber("number", r.PathValue("number"))
		if err != nil {
			return out, err
		}
		out.scan.Number = n
	}
	if ep.name {
		name := r.PathValue("name")
		if err := checkLabelName(name); err != nil {
			return out, err
		}
		out.scan.Name = name
	}
	q, err := parseQuery(r.URL.RawQuery, ep.query)
	if err != nil {
		return out, err
	}
	out.scan.State = q.state
	if q.children {
		out.scan.Children = true
	}
	out.scan.Full = q.full
	out.inline = q.inline
	return out, nil
}

func (h *Handler) loadHandler(ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		log := h.deps.Logger.With().Str("route", ep.pattern).Str("path", r.URL.Path).Logger()
		req, err := parse(ep, r)
		if err != nil {
			log.Info().Err(err).Msg("load refused: bad input")
			httpjson.Message(w, http.StatusBadRequest, err.Error())
			return
		}
		var rate rateHeaders
		who, status, err := h.authenticate(ctx, r, &req.scan, &rate)
		rate.copyTo(w.Header())
		if err != nil {
			log.Info().Err(err).Int("status", status).Str("requested_by", who).Msg("load refused")
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="webhookdb"`)
			}
			var rl *rateLimited
			if errors.As(err, &rl) {
				setRetryAfter(w, rl.until, h.deps.Now())
			}
			msg := err.Error()
			if status == http.StatusBadGateway {
				// The details (database, GitHub) are in the log.
				log.Error().Err(err).Msg("load: credentials or installation could not be checked")
				msg = "could not check the credentials and the installation with GitHub; try again"
			}
			httpjson.Message(w, status, msg)
			return
		}
		req.scan.RequestedBy = who
		log = log.With().Str("requested_by", who).Str("kind", req.scan.Kind).Int64("installation", req.scan.InstallationID).Logger()

		if req.inline {
			h.inline(ctx, w, req.scan, log)
			return
		}
		id, joined, err := h.deps.Scheduler.Scan(ctx, req.scan)
		if err != nil && id == 0 {
			log.Error().Err(err).Msg("load failed: cannot queue the scan")
			httpjson.Message(w, http.StatusInternalServerError, "could not queue the scan")
			return
		}
		if err != nil {
			// The scan row exists; its first job is queued again by the
			// scheduler's sweeper.
			log.Warn().Err(err).Int64("scan_id", id).Msg("scan recorded, first job not queued yet")
		}
		log.Info().Int64("scan_id", id).Bool("joined", joined).Msg("load queued")
		w.Header().Set("Location", "/status/"+strconv.FormatInt(id, 10))
		httpjson.Write(w, http.StatusAccepted, map[string]any{"message": "queued", "scan_id": id})
	})
}

func (h *Handler) inline(ctx context.Context, w http.ResponseWriter, req jobs.ScanRequest, log zerolog.Logger) {
	if h.deps.Inline == nil {
		httpjson.Message(w, http.StatusNotImplemented, "inline loads are not available on this server")
		return
	}
	ctx, rec := withRateRecorder(ctx)
	id, err := h.deps.Inline.Sync(ctx, req)
	rec.copyTo(w.Header())
	log = log.With().Int64("scan_id", id).Logger()
	var rle *jobs.RateLimitedError
	switch {
	case err == nil:
		log.Info().Msg("load done inline")
		httpjson.Write(w, http.StatusOK, map[string]any{"message": "success", "scan_id": id})
	case errors.Is(err, jobs.ErrNotFound):
		log.Info().Err(err).Msg("load inline: not found on GitHub")
		httpjson.Message(w, http.StatusNotFound, describe(req)+" was not found on GitHub")
	case errors.As(err, &rle):
		secs := setRetryAfter(w, rle.Until, h.deps.Now())
		if !rle.Secondary && w.Header().Get("X-RateLimit-Remaining") == "" {
			// go-github refused locally, knowing the limit: say what it knew.
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(rle.Until.Unix(), 10))
		}
		log.Warn().Err(err).Int("retry_after", secs).Msg("load inline: rate limit spent")
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]any{
			"message":     fmt.Sprintf("GitHub's rate limit of the installation is spent; retry in %d seconds (the load is queued to run then)", secs),
			"retry_after": secs,
			"scan_id":     id,
		})
	case errors.Is(err, jobs.ErrNoInstallation):
		httpjson.Message(w, http.StatusNotFound, notInstalled(req.Owner, req.Repo))
	default:
		log.Error().Err(err).Msg("load inline failed")
		httpjson.Message(w, http.StatusBadGateway, "could not load "+describe(req)+" from GitHub")
	}
}

// setRetryAfter sets Retry-After to the whole seconds until t (at least 1)
// and returns them.
func setRetryAfter(w http.ResponseWriter, t, now time.Time) int {
	secs := int(math.Ceil(t.Sub(now).Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return secs
}

func describe(req jobs.ScanRequest) string {
	repo := req.Owner + "/" + req.Repo
	switch req.Kind {
	case jobs.JobSyncPullRequest:
		return fmt.Sprintf("pull request %s#%d", repo, req.Number)
	case jobs.JobSyncIssue:
		return fmt.Sprintf("issue %s#%d", repo, req.Number)
	case jobs.JobSyncMilestone:
		return fmt.Sprintf("milestone %d of %s", req.Number, repo)
	case jobs.JobSyncLabel:
		return fmt.Sprintf("label %q of %s", req.Name, repo)
	}
	return repo
}

func notInstalled(owner, repo string) string {
	return fmt.Sprintf("the webhookdb app is not installed on %s/%s", owner, repo)
}

// authenticate finds the caller and checks that it may load what req
// names. It fills req.InstallationID and returns who asked, or the status
// to answer with and why.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, req *jobs.ScanRequest, rate *rateHeaders) (who string, status int, err error) {
	token, isBearer := bearerToken(r)
	session := ""
	if !isBearer && h.deps.Sessions != nil {
		login, tok, csrfOK, ok := h.deps.Sessions.SessionUser(r)
		if ok {
			if !csrfOK {
				return login, http.StatusForbidden, errors.New("the session's CSRF token is missing or wrong: send it as X-CSRF-Token")
			}
			token, session = tok, login
		}
	}
	if token == "" {
		return "", http.StatusUnauthorized, errNoCredentials
	}

	t := target{installationID: req.InstallationID, owner: req.Owner, repo: req.Repo}
	var missing error
	if req.InstallationID != 0 {
		ok, err := h.installationExists(ctx, req.InstallationID)
		if err != nil {
			return session, http.StatusBadGateway, err
		}
		if !ok {
			missing = fmt.Errorf("installation %d of the webhookdb app does not exist", req.InstallationID)
		}
	} else {
		id, err := h.repoInstallation(ctx, req.Owner, req.Repo)
		switch {
		case errors.Is(err, jobs.ErrNoInstallation):
			missing = errors.New(notInstalled(req.Owner, req.Repo))
		case err != nil:
			return session, http.StatusBadGateway, err
		}
		t.installationID = id
		req.InstallationID = id
	}
	if missing != nil {
		// Bad credentials are told as such before anything about the
		// app's installations.
		if err := h.auth.check(ctx, token, rate); err != nil {
			return session, authStatus(err), err
		}
		return session, http.StatusNotFound, missing
	}

	who, err = h.auth.authorize(ctx, token, t, rate)
	if err == nil {
		return who, 0, nil
	}
	if errors.Is(err, errForbidden) {
		if t.repo == "" {
			err = fmt.Errorf("%w: installation %d", err, t.installationID)
		} else {
			err = fmt.Errorf("%w: %s", err, t.fullName())
		}
	}
	if session != "" && errors.Is(err, errBadCredentials) {
		err = fmt.Errorf("%w: the login of %s has expired, log in again at /api/github/auth", err, session)
	}
	return session, authStatus(err), err
}

// authStatus is the answer to an authentication failure.
func authStatus(err error) int {
	var rl *rateLimited
	switch {
	case errors.Is(err, errBadCredentials):
		return http.StatusUnauthorized
	case errors.Is(err, errForbidden):
		return http.StatusForbidden
	case errors.As(err, &rl):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// repoInstallation finds the installation covering owner/repo: the stored
// mapping first, then GitHub with the app's JWT. jobs.ErrNoInstallation
// when none does.
func (h *Handler) repoInstallation(ctx context.Context, owner, repo string) (int64, error) {
	return jobs.InstallationFor(ctx, h.deps.DB, h.deps.GitHub, owner, repo)
}

// installationExists says whether the app has installation id: stored
// first, then GitHub with the app's JWT.
func (h *Handler) installationExists(ctx context.Context, id int64) (bool, error) {
	var deleted sql.NullTime
	err := h.deps.DB.QueryRowContext(ctx, `SELECT deleted_at FROM github_installation WHERE id = $1`, id).Scan(&deleted)
	switch {
	case err == nil:
		return !deleted.Valid, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("look up installation %d: %w", id, err)
	}
	if h.deps.GitHub == nil {
		return false, nil
	}
	app, err := h.deps.GitHub.NewAppClient()
	if err != nil {
		return false, fmt.Errorf("app client: %w", err)
	}
	_, _, err = app.Apps.GetInstallation(ctx, id)
	if err != nil {
		if classify(err) == http.StatusNotFound {
			return false, nil
		}
		return false, fmt.Errorf("ask GitHub for installation %d: %w", id, err)
	}
	return true, nil
}

// statusBody is what GET /status/{scan_id} answers: the design's fields,
// for the scan and every scan it started (children), added up.
// PagesFailed and Incomplete tell a load that lost pages for good: it ends
// "done", but rows may be missing.
type statusBody struct {
	ScanID      int64      `json:"scan_id"`
	Kind        string     `json:"kind"`
	Status      string     `json:"status"`
	PagesTotal  *int       `json:"pages_total"`
	PagesDone   int        `json:"pages_done"`
	PagesFailed int        `json:"pages_failed"`
	Incomplete  bool       `json:"incomplete"`
	Items       int        `json:"items"`
	Requests    int        `json:"requests"`
	NotModified int        `json:"not_modified"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	Error       *string    `json:"error"`
	// Scans counts the scan and its descendants.
	Scans int `json:"scans"`
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := parseID("scan id", r.PathValue("scan_id"))
	if err != nil {
		httpjson.Message(w, http.StatusBadRequest, err.Error())
		return
	}
	st, err := h.deps.Scheduler.TreeStatus(ctx, id)
	if errors.Is(err, jobs.ErrNoScan) {
		httpjson.Message(w, http.StatusNotFound, fmt.Sprintf("there is no scan %d", id))
		return
	}
	if err != nil {
		h.deps.Logger.Error().Err(err).Int64("scan_id", id).Msg("read scan status")
		httpjson.Message(w, http.StatusInternalServerError, "could not read the scan")
		return
	}
	body := statusBody{
		ScanID: st.ID, Kind: st.Kind, Status: st.Status, PagesTotal: st.PagesTotal,
		PagesDone: st.PagesDone, PagesFailed: st.PagesFailed, Incomplete: st.Incomplete,
		Items: st.Items, Requests: st.Requests, NotModified: st.NotModified,
		StartedAt: st.StartedAt, FinishedAt: st.FinishedAt, Error: st.Error, Scans: st.Scans,
	}
	httpjson.Write(w, http.StatusOK, body)
}
