package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/internal/ghtoken"
	"github.com/webhookdb/webhookdb/internal/ttlcache"
	"github.com/webhookdb/webhookdb/jobs"
)

// Authentication outcomes the endpoints answer with their own status.
var (
	// errNoCredentials: no Authorization header and no session (401).
	errNoCredentials = errors.New("no credentials: send Authorization: Bearer <token> or log in")
	// errBadCredentials: GitHub does not accept the token (401).
	errBadCredentials = errors.New("GitHub does not accept these credentials (bad or expired token)")
	// errForbidden: valid credentials without access to the target (403).
	errForbidden = errors.New("these credentials do not give access to it")
	// errNotVisible: GitHub shows the caller no such repository (404). A
	// private repository the caller cannot see and one that does not
	// exist answer alike, as on GitHub, so that nobody learns which
	// private repositories have the app installed.
	errNotVisible = errors.New("not visible to these credentials")
)

// githubError is a GitHub failure while checking credentials: unreachable
// or 5xx. It answers 502; a rate limit is never one (rateLimited).
type githubError struct{ err error }

func (e *githubError) Error() string {
	return "GitHub could not confirm the credentials: " + e.err.Error()
}
func (e *githubError) Unwrap() error { return e.err }

// rateLimited is a rate limit GitHub answered (403 or 429) while we asked
// it about the caller's token or the app's installations. It answers 503
// with Retry-After.
type rateLimited struct {
	until time.Time
	of    string // whose budget, for the message; default the caller's
	cause error  // GitHub's answer, for errors.As; not in the message
}

func (e *rateLimited) Error() string {
	of := e.of
	if of == "" {
		of = "these credentials"
	}
	return "GitHub's rate limit of " + of + " is spent until " + e.until.UTC().Format(time.RFC3339)
}

func (e *rateLimited) Unwrap() error { return e.cause }

// target is what a request wants to load: an installation's repositories
// (repo empty) or one repository, always with the installation covering it.
type target struct {
	installationID int64
	owner, repo    string
}

func (t target) fullName() string { return t.owner + "/" + t.repo }

func (t target) key() string {
	if t.repo == "" {
		return "installation:" + strconv.FormatInt(t.installationID, 10)
	}
	return "repo:" + strings.ToLower(t.fullName())
}

// authorizer asks GitHub whether a token reaches a target, and remembers
// the answers that said yes for a while, keyed by a hash of the token; it
// also remembers, for as long, the tokens GitHub refused (401).
type authorizer struct {
	apiURL  *url.URL
	client  *http.Client
	cache   *ttlcache.Cache[string]
	refused *ttlcache.Cache[string]
	// installationRepos lists the repository ids of an installation as
	// the app's own installation token sees them: what an installation
	// token must list, all and only, to prove it is of that installation.
	installationRepos func(ctx context.Context, installationID int64) (map[int64]bool, error)
}

// wasRefused says whether GitHub refused the token within the cache's
// time to live: then nobody asks GitHub again.
func (a *authorizer) wasRefused(token string) bool {
	if a.refused == nil {
		return false
	}
	_, ok := a.refused.Get(tokenHash(token))
	return ok
}

// remember records a refusal of the token and returns err unchanged. A
// token GitHub refused never works again, so remembering it is safe.
func (a *authorizer) remember(token string, err error) error {
	if a.refused != nil && errors.Is(err, errBadCredentials) {
		a.refused.Put(tokenHash(token), "")
	}
	return err
}

// authorize says who the token's holder is ("installation:<id>" or a
// login) when GitHub confirms it reaches t. Its errors are
// errBadCredentials, errForbidden, *rateLimited and *githubError.
func (a *authorizer) authorize(ctx context.Context, token string, t target, rh *rateLimitHeaders) (string, error) {
	cacheKey := tokenHash(token) + "|" + t.key()
	if who, ok := a.cache.Get(cacheKey); ok {
		return who, nil
	}
	if a.wasRefused(token) {
		return "", errBadCredentials
	}
	client := a.tokenClient(token)
	who, err := a.asInstallation(ctx, client, t, rh)
	if errors.Is(err, errNotInstallationToken) {
		who, err = a.asUser(ctx, client, t, rh)
	}
	if err != nil {
		return "", a.remember(token, err)
	}
	a.cache.Put(cacheKey, who)
	return who, nil
}

// confirmed says whether the token was confirmed for t within the
// cache's time to live, without asking GitHub.
func (a *authorizer) confirmed(token string, t target) bool {
	_, ok := a.cache.Get(tokenHash(token) + "|" + t.key())
	return ok
}

// visible asks GitHub, with the caller's token, for owner/repo. Its
// errors are errNotVisible when GitHub shows the caller no such
// repository, errBadCredentials, *rateLimited and *githubError. It costs
// the caller's budget, not the app's.
func (a *authorizer) visible(ctx context.Context, token, owner, repo string, rh *rateLimitHeaders) error {
	if a.wasRefused(token) {
		return errBadCredentials
	}
	_, resp, err := a.tokenClient(token).Repositories.Get(ctx, owner, repo)
	rh.recordResponse(resp)
	if err == nil {
		return nil
	}
	switch classify(err) {
	case http.StatusUnauthorized:
		return a.remember(token, errBadCredentials)
	case http.StatusForbidden, http.StatusNotFound, http.StatusGone, http.StatusUnavailableForLegalReasons:
		// A 403 that is no rate limit (an organization's SAML or IP
		// rules) hides the repository as well.
		return errNotVisible
	}
	return githubFailure("read the repository "+owner+"/"+repo, err)
}

// check says whether GitHub accepts the token at all, as an installation
// or a user token, for answers that do not depend on what it reaches (an
// installation that does not exist). Errors as authorize's.
func (a *authorizer) check(ctx context.Context, token string, rh *rateLimitHeaders) error {
	if a.wasRefused(token) {
		return errBadCredentials
	}
	return a.remember(token, a.checkGitHub(ctx, token, rh))
}

func (a *authorizer) checkGitHub(ctx context.Context, token string, rh *rateLimitHeaders) error {
	c := a.tokenClient(token)
	_, resp, err := c.Apps.ListRepos(ctx, &github.ListOptions{PerPage: 1})
	rh.recordResponse(resp)
	if err == nil {
		return nil
	}
	switch classify(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
	default:
		return githubFailure("list the repositories of the token's installation", err)
	}
	_, resp, err = c.Users.Get(ctx, "")
	rh.recordResponse(resp)
	if err != nil {
		if code := classify(err); code == http.StatusUnauthorized || code == http.StatusForbidden {
			return errBadCredentials
		}
		return githubFailure("read the token's user", err)
	}
	return nil
}

// errNotInstallationToken: GitHub refused the installation endpoint for
// this token, which may still be a user token.
var errNotInstallationToken = errors.New("not an installation token")

func (a *authorizer) tokenClient(token string) *github.Client {
	c := github.NewClient(a.client).WithAuthToken(token)
	c.BaseURL = a.apiURL
	return c
}

// asInstallation treats the token as an installation token: GitHub lists
// the repositories of its installation.
func (a *authorizer) asInstallation(ctx context.Context, c *github.Client, t target, rh *rateLimitHeaders) (string, error) {
	page := &github.ListOptions{PerPage: 100}
	for {
		list, resp, err := c.Apps.ListRepos(ctx, page)
		rh.recordResponse(resp)
		if err != nil {
			switch classify(err) {
			case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
				// A 401 may be a token that is not of this kind; the user
				// check that follows tells a bad token from another kind.
				return "", errNotInstallationToken
			}
			return "", githubFailure("list the repositories of the token's installation", err)
		}
		if t.repo == "" {
			return a.proveInstallation(ctx, c, t.installationID, list, resp, rh)
		}
		repos := list.Repositories
		for _, r := range repos {
			if strings.EqualFold(r.GetFullName(), t.fullName()) {
				// A repository is covered by one installation of an app.
				return installationPrincipal(t.installationID), nil
			}
		}
		if resp.NextPage == 0 {
			return "", errForbidden
		}
		page.Page = resp.NextPage
	}
}

// asUser treats the token as a user access token: the user must reach the
// target through an installation of this app.
func (a *authorizer) asUser(ctx context.Context, c *github.Client, t target, rh *rateLimitHeaders) (string, error) {
	user, resp, err := c.Users.Get(ctx, "")
	rh.recordResponse(resp)
	if err != nil {
		if code := classify(err); code == http.StatusUnauthorized || code == http.StatusForbidden {
			return "", errBadCredentials
		}
		return "", githubFailure("read the token's user", err)
	}
	login := user.GetLogin()
	found := false
	page := &github.ListOptions{PerPage: 100}
	for !found {
		insts, resp, err := c.Apps.ListUserInstallations(ctx, page)
		rh.recordResponse(resp)
		if err != nil {
			if classify(err) == http.StatusForbidden || classify(err) == http.StatusNotFound {
				return "", errForbidden
			}
			return "", githubFailure("list the installations of "+login, err)
		}
		for _, in := range insts {
			if in.GetID() == t.installationID {
				found = true
				break
			}
		}
		if resp.NextPage == 0 {
			break
		}
		page.Page = resp.NextPage
	}
	if !found {
		return "", errForbidden
	}
	if t.repo == "" {
		return login, nil
	}
	page = &github.ListOptions{PerPage: 100}
	for {
		list, resp, err := c.Apps.ListUserRepos(ctx, t.installationID, page)
		rh.recordResponse(resp)
		if err != nil {
			if classify(err) == http.StatusForbidden || classify(err) == http.StatusNotFound {
				return "", errForbidden
			}
			return "", githubFailure(fmt.Sprintf("list the repositories %s reaches through installation %d", login, t.installationID), err)
		}
		for _, r := range list.Repositories {
			if strings.EqualFold(r.GetFullName(), t.fullName()) {
				return login, nil
			}
		}
		if resp.NextPage == 0 {
			return "", errForbidden
		}
		page.Page = resp.NextPage
	}
}

func installationPrincipal(id int64) string { return "installation:" + strconv.FormatInt(id, 10) }

// classify returns the HTTP status of a GitHub error answer, 0 for a rate
// limit (403 or 429 alike, as jobs reads them) or a failure without an
// answer.
func classify(err error) int {
	if _, ok := jobs.RateLimitFromError(0, err); ok {
		return 0
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// githubFailure turns a failed credential check into *rateLimited or
// *githubError.
func githubFailure(doing string, err error) error {
	if rl, ok := jobs.RateLimitFromError(0, err); ok {
		return &rateLimited{until: rl.Until}
	}
	return &githubError{err: fmt.Errorf("%s: %w", doing, err)}
}

func tokenHash(token string) string { return ghtoken.Hash(token) }

func bearerToken(r *http.Request) (string, bool) { return ghtoken.FromRequest(r) }
