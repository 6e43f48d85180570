package readapi

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
	"golang.org/x/sync/singleflight"

	"github.com/webhookdb/webhookdb/internal/ghtoken"
	"github.com/webhookdb/webhookdb/internal/ttlcache"
)

// reach asks GitHub, with the caller's own token, whether it may see what
// it reads: the repository itself (GET /repos/{owner}/{repo}), the token
// at all (GET /rate_limit, which costs nothing), the repositories of an
// installation token (GET /installation/repositories) or the
// installations of a user token (GET /user/installations). GitHub's
// answers, refusals included, are kept for the cache's time to live, so a
// client reading page after page asks GitHub once a minute at most, and a
// token GitHub refused costs no second call.
type reach struct {
	apiURL  *url.URL
	client  *http.Client
	answers *ttlcache.Cache[reachAnswer]
	// asking joins the readers of one token and target that arrive
	// together into one GitHub call.
	asking singleflight.Group
}

// reachAnswer is what GitHub said. refused is the status to answer when
// GitHub did not let the token through (401 bad token, 404 not visible);
// 0 when it did.
type reachAnswer struct {
	refused int
	repoID  int64   // the repository GitHub showed
	ids     []int64 // the repositories or installations GitHub listed
}

// refusals are kept shorter than confirmations: a token that gains access
// on GitHub should not wait long for us.
const refusalTTL = 20 * time.Second

// errGitHub is GitHub failing to answer (unreachable, 5xx): 502.
type errGitHub struct{ err error }

func (e *errGitHub) Error() string {
	return "GitHub could not confirm the credentials: " + e.err.Error()
}
func (e *errGitHub) Unwrap() error { return e.err }

// errGitHubLimited is the caller's GitHub rate limit, spent, so GitHub
// would not say what the token reaches: 503 until it resets.
type errGitHubLimited struct{ until time.Time }

func (e *errGitHubLimited) Error() string {
	return "GitHub's rate limit of these credentials is spent until " + e.until.UTC().Format(time.RFC3339) +
		", so webhookdb cannot confirm what they may read (confirmations last a minute; ask again then)"
}

// repository asks whether the token sees owner/repo (or, with id > 0, the
// repository of that id) and returns GitHub's id of it.
func (r *reach) repository(ctx context.Context, token, owner, repo string, id int64) (reachAnswer, error) {
	key := "repo:" + strings.ToLower(owner+"/"+repo)
	if id > 0 {
		key = "repoid:" + strconv.FormatInt(id, 10)
	}
	return r.cached(ctx, token, key, func(ctx context.Context, c *github.Client) (reachAnswer, error) {
		var got *github.Repository
		var err error
		if id > 0 {
			got, _, err = c.Repositories.GetByID(ctx, id)
		} else {
			got, _, err = c.Repositories.Get(ctx, owner, repo)
		}
		if err != nil {
			return reachAnswer{}, err
		}
		return reachAnswer{repoID: got.GetID()}, nil
	})
}

// token asks whether GitHub accepts the token at all.
func (r *reach) token(ctx context.Context, token string) (reachAnswer, error) {
	return r.cached(ctx, token, "token", func(ctx context.Context, c *github.Client) (reachAnswer, error) {
		_, _, err := c.RateLimit.Get(ctx)
		return reachAnswer{}, err
	})
}

// installationRepositories lists the repository ids an installation
// token reaches. Any other token answers 403 on GitHub, as here.
func (r *reach) installationRepositories(ctx context.Context, token string) (reachAnswer, error) {
	return r.cached(ctx, token, "installation", func(ctx context.Context, c *github.Client) (reachAnswer, error) {
		var ids []int64
		opt := &github.ListOptions{PerPage: 100}
		for {
			list, resp, err := c.Apps.ListRepos(ctx, opt)
			if err != nil {
				return reachAnswer{}, err
			}
			for _, repo := range list.Repositories {
				ids = append(ids, repo.GetID())
			}
			if resp.NextPage == 0 {
				return reachAnswer{ids: ids}, nil
			}
			opt.Page = resp.NextPage
		}
	})
}

// userInstallations lists the installation ids a user token reaches.
func (r *reach) userInstallations(ctx context.Context, token string) (reachAnswer, error) {
	return r.cached(ctx, token, "user", func(ctx context.Context, c *github.Client) (reachAnswer, error) {
		var ids []int64
		opt := &github.ListOptions{PerPage: 100}
		for {
			list, resp, err := c.Apps.ListUserInstallations(ctx, opt)
			if err != nil {
				return reachAnswer{}, err
			}
			for _, in := range list {
				ids = append(ids, in.GetID())
			}
			if resp.NextPage == 0 {
				return reachAnswer{ids: ids}, nil
			}
			opt.Page = resp.NextPage
		}
	})
}

// cached answers from the cache or asks GitHub with ask, keeping what it
// says: confirmations for the cache's time, refusals for refusalTTL. A
// token GitHub refused outright (401) is refused for every target.
func (r *reach) cached(ctx context.Context, token, key string, ask func(context.Context, *github.Client) (reachAnswer, error)) (reachAnswer, error) {
	th := tokenHash(token)
	if a, ok := r.answers.Get(th + "|bad"); ok {
		return a, nil
	}
	if a, ok := r.answers.Get(th + "|" + key); ok {
		return a, nil
	}
	v, err, _ := r.asking.Do(th+"|"+key, func() (any, error) {
		// Detached from this caller: the others waiting on the same
		// answer must not fail because the first one hung up.
		a, err := r.ask(context.WithoutCancel(ctx), token, th, key, ask)
		return a, err
	})
	a, _ := v.(reachAnswer)
	return a, err
}

func (r *reach) ask(ctx context.Context, token, th, key string, ask func(context.Context, *github.Client) (reachAnswer, error)) (reachAnswer, error) {
	c := github.NewClient(r.client).WithAuthToken(token)
	c.BaseURL = r.apiURL
	a, err := ask(ctx, c)
	if err == nil {
		r.answers.Put(th+"|"+key, a)
		return a, nil
	}
	if until, limited := rateLimitedUntil(err); limited {
		return reachAnswer{}, &errGitHubLimited{until: until}
	}
	switch status := statusOf(err); status {
	case http.StatusUnauthorized:
		a := reachAnswer{refused: http.StatusUnauthorized}
		r.answers.PutFor(th+"|bad", a, refusalTTL)
		return a, nil
	case http.StatusForbidden, http.StatusNotFound, http.StatusGone, http.StatusMovedPermanently, http.StatusUnavailableForLegalReasons:
		// A 403 that is no rate limit (SAML, IP allow lists, a user token
		// on an installation route) hides it as GitHub would.
		a := reachAnswer{refused: http.StatusNotFound}
		if status == http.StatusForbidden && (key == "installation" || key == "user") {
			a.refused = http.StatusForbidden
		}
		r.answers.PutFor(th+"|"+key, a, refusalTTL)
		return a, nil
	}
	return reachAnswer{}, &errGitHub{err: fmt.Errorf("ask GitHub (%s): %w", key, err)}
}

// rateLimitedUntil says whether err is GitHub's rate limit, and until when.
func rateLimitedUntil(err error) (time.Time, bool) {
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return rl.Rate.Reset.Time, true
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) {
		return time.Now().Add(ab.GetRetryAfter()), true
	}
	if statusOf(err) == http.StatusTooManyRequests {
		return time.Now().Add(time.Minute), true
	}
	return time.Time{}, false
}

func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

func tokenHash(token string) string { return ghtoken.Hash(token) }

func bearerToken(r *http.Request) (string, bool) { return ghtoken.FromRequest(r) }
