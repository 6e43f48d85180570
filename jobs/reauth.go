package jobs

// A refused installation token. ghinstallation renews an installation
// token when its hour is nearly over, never when GitHub refuses it (401:
// revoked, or expired early by GitHub's clock), and go-githubapp's caching
// client creator keeps handing out the client that holds it. A session's
// client therefore answers a 401 by minting a fresh token with the app's
// JWT and sending the request once more with it; a second 401 is GitHub's
// answer. The fresh token is then used by every session of the
// installation until it nears its end, so the next jobs do not pay a 401
// each.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/go-github/v60/github"
)

// renewed is a fresh installation token's transport, made after a 401.
type renewed struct {
	rt      http.RoundTripper
	expires time.Time
}

// renewedFor is the installation's renewed token while it is good for
// another minute (when ghinstallation would renew it); nil otherwise.
func (e *engine) renewedFor(inst int64) *renewed {
	v, ok := e.renewals.Load(inst)
	if !ok {
		return nil
	}
	r := v.(*renewed)
	if time.Until(r.expires) < time.Minute {
		e.renewals.CompareAndDelete(inst, r)
		return nil
	}
	return r
}

// sessionClient is the session's go-github client on the installation's
// cached HTTP client. Its own go-github value keeps go-github's memory of
// limits to the session (the installation's pause in Redis is what jobs
// share), and its transport replaces a refused token (reauth).
func (e *engine) sessionClient(cached *github.Client, inst int64) *github.Client {
	hc := cached.Client()
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &rateLimitObserver{m: e.metrics, inst: inst, next: &reauth{e: e, inst: inst, base: base}}
	c := github.NewClient(hc)
	c.BaseURL, c.UploadURL, c.UserAgent = cached.BaseURL, cached.UploadURL, cached.UserAgent
	return c
}

// reauth sends requests with the installation's token and, when GitHub
// refuses it (401), once more with a fresh one.
type reauth struct {
	e    *engine
	inst int64
	base http.RoundTripper // the cached client's, with ghinstallation's token
}

func (t *reauth) RoundTrip(req *http.Request) (*http.Response, error) {
	cur := t.base
	r := t.e.renewedFor(t.inst)
	if r != nil {
		cur = r.rt
	}
	resp, err := cur.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || (req.Body != nil && req.GetBody == nil) {
		return resp, err
	}
	fresh, rerr := t.renew(req.Context(), r)
	if rerr != nil {
		// GitHub's 401 stands, and fails the request as it did before.
		t.e.deps.Logger.Warn().Err(rerr).Int64("installation", t.inst).Msg("GitHub refused the installation token and a new one could not be made")
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("resend %s %s with a new token: %w", req.Method, req.URL.Path, err)
		}
	}
	// The fresh token's transport sets its own.
	retry.Header.Del("Authorization")
	t.e.deps.Logger.Info().Int64("installation", t.inst).Str("path", req.URL.Path).Msg("GitHub refused the installation token: sent again with a new one")
	return fresh.rt.RoundTrip(retry)
}

// renew mints a new token for the installation, unless another session
// already replaced the one that was refused (failed; nil for the cached
// client's).
func (t *reauth) renew(ctx context.Context, failed *renewed) (*renewed, error) {
	if v, ok := t.e.renewals.Load(t.inst); ok && v.(*renewed) != failed {
		return v.(*renewed), nil
	}
	app, err := t.e.deps.GitHub.NewAppClient()
	if err != nil {
		return nil, fmt.Errorf("app client: %w", err)
	}
	tok, _, err := app.Apps.CreateInstallationToken(ctx, t.inst, nil)
	if err != nil {
		return nil, fmt.Errorf("create a token of installation %d: %w", t.inst, err)
	}
	c, err := t.e.deps.GitHub.NewTokenClient(tok.GetToken())
	if err != nil {
		return nil, fmt.Errorf("client of a new token of installation %d: %w", t.inst, err)
	}
	rt := c.Client().Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	r := &renewed{rt: rt, expires: tok.GetExpiresAt().Time}
	if r.expires.IsZero() {
		r.expires = time.Now().Add(time.Hour)
	}
	t.e.renewals.Store(t.inst, r)
	return r, nil
}
