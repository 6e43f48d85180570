package readapi

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/webhookdb/webhookdb/models"
)

// scope is what a read is about, and so what GitHub must confirm the
// caller's token reaches before it is served.
type scope int

const (
	// repoScope: a repository and what it holds. Served under
	// /repos/{owner}/{repo}/... and, since GitHub's Link headers point
	// there, under /repositories/{id}/... as well.
	repoScope scope = iota
	// tokenScope: public objects any token may read (users).
	tokenScope
	// installationScope: what an installation token reaches.
	installationScope
	// userScope: what a user token reaches.
	userScope
)

// endpoint is one GET route of the read API.
type endpoint struct {
	// path is GitHub's, after Prefix: "/repos/{owner}/{repo}/pulls".
	path  string
	scope scope
	// params are the query parameters it takes; a paged list takes page
	// and per_page besides. Any other answers 422.
	params []string
	paged  bool
	serve  func(c *call) (*result, error)
}

// call is one read on its way to an answer.
type call struct {
	ctx context.Context
	r   *http.Request
	api *API
	q   url.Values
	// repo is the repository of a repoScope read, which GitHub confirmed
	// the caller sees.
	repo *models.GithubRepository
	// reached lists what GitHub says the token reaches (installation and
	// user scopes).
	reached []int64
	page    page
}

// result is what an endpoint serves: the value written as JSON, the
// newest replication time of the rows in it, and for a paged list the
// number of items in all its pages.
type result struct {
	body         any
	replicatedAt time.Time
	total        int
}

// mount registers ep's path (and, for repository reads, its
// /repositories/{id} twin).
func (a *API) mount(ep endpoint) {
	a.mux.Handle("GET "+Prefix+ep.path, a.handler(ep, false))
	if ep.scope == repoScope {
		twin := strings.Replace(ep.path, "/repos/{owner}/{repo}", "/repositories/{id}", 1)
		a.mux.Handle("GET "+Prefix+twin, a.handler(ep, true))
	}
}

func (a *API) handler(ep endpoint, byID bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{ctx: r.Context(), r: r, api: a, q: r.URL.Query()}
		if err := a.answer(w, c, ep, byID); err != nil {
			var ae *apiError
			switch {
			case errors.As(err, &ae):
			case errors.Is(err, context.Canceled):
				return // the client went away
			default:
				a.deps.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("read API failed")
				ae = &apiError{status: http.StatusInternalServerError, message: "webhookdb could not read the replica; try again"}
			}
			writeAPIError(w, ae)
		}
	})
}

// answer authenticates, counts, checks the parameters, serves and writes.
func (a *API) answer(w http.ResponseWriter, c *call, ep endpoint, byID bool) error {
	token, ok := bearerToken(c.r)
	if !ok {
		return &apiError{status: http.StatusUnauthorized, message: "Requires authentication"}
	}
	if err := checkParams(c.q, ep); err != nil {
		return err
	}
	// A path segment no database text can hold names nothing we have.
	if p := c.r.URL.Path; !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		return notFound()
	}
	if ep.paged {
		p, err := parsePage(c.q)
		if err != nil {
			return err
		}
		c.page = p
	}
	th := tokenHash(token)
	_, known := a.reach.answers.Get(th + "|token")
	if !known {
		// A token not yet confirmed costs a GitHub call: bounded per
		// address, so garbage cannot make us hammer GitHub.
		win, err := a.limiter.countUnconfirmed(c.ctx, clientAddr(c.r))
		if err != nil {
			return err
		}
		if win.spent() {
			w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(win.reset).Seconds())+1))
			return &apiError{status: http.StatusTooManyRequests, message: "too many new tokens from this address; try again in a minute"}
		}
	}
	if err := a.authorize(c, token, ep, byID); err != nil {
		return err
	}
	// Confirmed once, the token is known; later reads skip the address
	// counter.
	if !known {
		a.reach.answers.Put(th+"|token", reachAnswer{})
	}
	win, err := a.limiter.count(c.ctx, th)
	if err != nil {
		return err
	}
	setRateHeaders(w.Header(), win)
	if win.spent() {
		w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(win.reset).Seconds())+1))
		return &apiError{status: http.StatusForbidden, message: fmt.Sprintf(
			"API rate limit exceeded for this token: webhookdb serves %d reads per hour to each token (its own limit, not GitHub's)", win.limit)}
	}
	res, err := ep.serve(c)
	if err != nil {
		return err
	}
	body, err := json.Marshal(res.body)
	if err != nil {
		return fmt.Errorf("encode %s: %w", ep.path, err)
	}
	if ep.paged {
		if link := a.link(c, res.total); link != "" {
			w.Header().Set("Link", link)
		}
	}
	writeJSON(w, c.r, body, res.replicatedAt)
	return nil
}

// authorize asks GitHub (through the cache) whether the token reaches
// what ep reads, and loads the repository of a repository read.
func (a *API) authorize(c *call, token string, ep endpoint, byID bool) error {
	var ans reachAnswer
	var err error
	switch ep.scope {
	case repoScope:
		var id int64
		owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
		if byID {
			id, err = strconv.ParseInt(c.r.PathValue("id"), 10, 64)
			if err != nil || id <= 0 {
				return notFound()
			}
		}
		ans, err = a.reach.repository(c.ctx, token, owner, name, id)
	case tokenScope:
		ans, err = a.reach.token(c.ctx, token)
	case installationScope:
		ans, err = a.reach.installationRepositories(c.ctx, token)
	case userScope:
		ans, err = a.reach.userInstallations(c.ctx, token)
	}
	if err != nil {
		return reachFailure(err)
	}
	switch ans.refused {
	case 0:
	case http.StatusUnauthorized:
		return &apiError{status: http.StatusUnauthorized, message: "Bad credentials"}
	case http.StatusForbidden:
		return &apiError{status: http.StatusForbidden, message: "Resource not accessible by integration"}
	default:
		return notFound()
	}
	c.reached = ans.ids
	if ep.scope != repoScope {
		return nil
	}
	repo, err := models.FindGithubRepository(c.ctx, a.db, ans.repoID)
	if errors.Is(err, sql.ErrNoRows) {
		return &apiError{status: http.StatusNotFound, message: "webhookdb has not replicated this repository: install the app on its account, or load it with POST /load/repos/{owner}/{repo}"}
	}
	if err != nil {
		return fmt.Errorf("read repository %d: %w", ans.repoID, err)
	}
	c.repo = repo
	return nil
}

// reachFailure turns GitHub failing to confirm into its answer.
func reachFailure(err error) error {
	var lim *errGitHubLimited
	if errors.As(err, &lim) {
		return &apiError{status: http.StatusServiceUnavailable, message: lim.Error()}
	}
	var gh *errGitHub
	if errors.As(err, &gh) {
		return &apiError{status: http.StatusBadGateway, message: "GitHub could not confirm what these credentials may read; try again"}
	}
	return err
}

// clientAddr is the caller's IP address, for the unconfirmed-token bound.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// checkParams refuses a query parameter ep does not take, and a value no
// database text can hold (invalid UTF-8, NUL), which GitHub refuses too.
func checkParams(q url.Values, ep endpoint) error {
	for name, values := range q {
		for _, v := range values {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				return invalid("", name, strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), ""))
			}
		}
		if ep.paged && (name == "page" || name == "per_page") {
			continue
		}
		known := false
		for _, p := range ep.params {
			known = known || p == name
		}
		if !known {
			return unsupported(name, fmt.Sprintf("the query parameter %s on %s", quote(name), ep.path))
		}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
