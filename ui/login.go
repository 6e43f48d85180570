package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
	ghoauth2 "github.com/palantir/go-githubapp/oauth2"
	"golang.org/x/oauth2"
)

// withClient makes the OAuth token exchange use our HTTP client.
func (u *UI) withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), oauth2.HTTPClient, u.client)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (u *UI) onLogin(w http.ResponseWriter, r *http.Request, login *ghoauth2.Login) {
	ctx := r.Context()
	// Not login.Client: it would renew a token that expires soon behind
	// our back, using up the refresh token the session is about to keep.
	static := &http.Client{Timeout: u.client.Timeout, Transport: &oauth2.Transport{
		Source: oauth2.StaticTokenSource(login.Token), Base: u.client.Transport}}
	client, err := u.userClient(static)
	if err != nil {
		u.onError(w, r, err)
		return
	}
	user, _, err := client.Users.Get(ctx, "")
	if err != nil {
		u.onError(w, r, fmt.Errorf("read the logged-in user from GitHub: %w", err))
		return
	}
	// A new session token on login, so a token planted before it is useless.
	if err := u.Sessions.RenewToken(ctx); err != nil {
		u.onError(w, r, fmt.Errorf("renew session token: %w", err))
		return
	}
	nonce, err := randomHex(32)
	if err != nil {
		u.onError(w, r, err)
		return
	}
	u.Sessions.Put(ctx, keyLogin, user.GetLogin())
	u.Sessions.Put(ctx, keyUserID, user.GetID())
	g := grantFrom(login.Token, u.now())
	if err := u.putGrant(ctx, g); err != nil {
		u.onError(w, r, err)
		return
	}
	u.limitSession(ctx, g)
	u.Sessions.Put(ctx, keyCSRFNonce, nonce)
	u.deps.Logger.Info().Str("login", user.GetLogin()).Int64("user_id", user.GetID()).Msg("user logged in")
	http.Redirect(w, r, "/", http.StatusFound)
}

func (u *UI) userClient(hc *http.Client) (*github.Client, error) {
	c := github.NewClient(hc)
	base, err := url.Parse(strings.TrimRight(u.deps.GitHubConfig.V3APIURL, "/") + "/")
	if err != nil {
		return nil, fmt.Errorf("github.v3_api_url %q: %w", u.deps.GitHubConfig.V3APIURL, err)
	}
	c.BaseURL = base
	return c, nil
}

func (u *UI) onError(w http.ResponseWriter, r *http.Request, err error) {
	u.deps.Logger.Warn().Err(err).Msg("login failed")
	var le ghoauth2.LoginError
	switch {
	case errors.Is(err, ghoauth2.ErrInvalidState):
		http.Error(w, "login failed: invalid or expired state, try again", http.StatusBadRequest)
	case errors.As(err, &le):
		// The login is over without a state check: its state goes too.
		u.states.clear(w)
		http.Error(w, "login failed: GitHub said "+string(le), http.StatusBadRequest)
	default:
		http.Error(w, "login failed: could not complete the login with GitHub", http.StatusBadGateway)
	}
}
