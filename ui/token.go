package ui

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// GitHub App user tokens expire (8 hours) and come with a one-use refresh
// token (about 6 months). The session keeps the access token, its expiry
// and the refresh token, and renews the pair shortly before the access
// token expires; when GitHub refuses the refresh the login has ended.

// refreshMargin is how long before its expiry a token is renewed, so that
// a request does not set out with a token that dies on the way. Tokens
// living less than twice as long are renewed at half their life.
const refreshMargin = time.Minute

// recentRefreshes is how long a refresh's result is kept for requests of
// the same session that still hold the refresh token it used up.
const recentRefreshes = 2 * time.Minute

// errLoginEnded says the session's GitHub login can give no working token
// any more (GitHub refused the refresh, or the refresh token expired); the
// session is destroyed and the user must log in again.
var errLoginEnded = errors.New("the GitHub login has ended: log in again")

// grant is a user token pair as the session keeps it. Times are unix
// milliseconds; zero means GitHub gave no expiry.
type grant struct {
	access, refresh string
	expiry          int64 // of access
	lifetime        int64 // of access, in seconds as GitHub said
	refreshExpiry   int64 // of refresh
}

// grantFrom reads GitHub's token answer at now.
func grantFrom(t *oauth2.Token, now time.Time) grant {
	g := grant{access: t.AccessToken, refresh: t.RefreshToken}
	if g.lifetime = seconds(t, "expires_in"); g.lifetime > 0 {
		g.expiry = now.Add(time.Duration(g.lifetime) * time.Second).UnixMilli()
	} else if !t.Expiry.IsZero() {
		g.expiry = t.Expiry.UnixMilli()
	}
	if s := seconds(t, "refresh_token_expires_in"); s > 0 && g.refresh != "" {
		g.refreshExpiry = now.Add(time.Duration(s) * time.Second).UnixMilli()
	}
	return g
}

// seconds reads a lifetime of GitHub's token answer: a number in JSON, a
// string in a form.
func seconds(t *oauth2.Token, key string) int64 {
	switch v := t.Extra(key).(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	if key == "expires_in" {
		return t.ExpiresIn
	}
	return 0
}

// due says whether g's access token should be renewed at now.
func (g grant) due(now time.Time) bool {
	if g.expiry == 0 || g.refresh == "" {
		return false
	}
	margin := refreshMargin
	if half := time.Duration(g.lifetime) * time.Second / 2; g.lifetime > 0 && half < margin {
		margin = half
	}
	return now.Add(margin).UnixMilli() >= g.expiry
}

// putGrant stores g in the session, the tokens sealed.
func (u *UI) putGrant(ctx context.Context, g grant) error {
	access, err := u.seal(g.access)
	if err != nil {
		return err
	}
	refresh := ""
	if g.refresh != "" {
		if refresh, err = u.seal(g.refresh); err != nil {
			return err
		}
	}
	u.Sessions.Put(ctx, keyToken, access)
	u.Sessions.Put(ctx, keyRefresh, refresh)
	u.Sessions.Put(ctx, keyExpiry, g.expiry)
	u.Sessions.Put(ctx, keyLifetime, g.lifetime)
	u.Sessions.Put(ctx, keyRefreshExpiry, g.refreshExpiry)
	return nil
}

// getGrant reads the session's pair; ok is false without an access token
// it can open.
func (u *UI) getGrant(ctx context.Context) (g grant, ok bool) {
	if g.access, ok = u.open(u.Sessions.GetString(ctx, keyToken)); !ok || g.access == "" {
		return grant{}, false
	}
	// A session without a refresh token (GitHub gave none) keeps its token.
	g.refresh, _ = u.open(u.Sessions.GetString(ctx, keyRefresh))
	g.expiry = u.Sessions.GetInt64(ctx, keyExpiry)
	g.lifetime = u.Sessions.GetInt64(ctx, keyLifetime)
	g.refreshExpiry = u.Sessions.GetInt64(ctx, keyRefreshExpiry)
	return g, true
}

// userToken is the logged-in user's login and an access token good for a
// while, renewed first if it is about to expire. ok is false without a
// login; errLoginEnded when the login could not be renewed and the session
// was ended.
func (u *UI) userToken(r *http.Request) (login, token string, ok bool, err error) {
	ctx := r.Context()
	if !u.hasSession(ctx) {
		return "", "", false, nil
	}
	login = u.Sessions.GetString(ctx, keyLogin)
	g, ok := u.getGrant(ctx)
	if !ok || login == "" {
		return "", "", false, nil
	}
	now := u.now()
	if !g.due(now) {
		return login, g.access, true, nil
	}
	if g.refreshExpiry != 0 && now.UnixMilli() >= g.refreshExpiry {
		return "", "", false, u.endLogin(ctx, login, errors.New("the refresh token has expired"))
	}
	fresh, err := u.refresh(ctx, g.refresh)
	switch {
	case err == nil:
		if err := u.putGrant(ctx, fresh); err != nil {
			return "", "", false, err
		}
		u.deps.Logger.Debug().Str("login", login).Msg("user token refreshed")
		return login, fresh.access, true, nil
	case refused(err):
		return "", "", false, u.endLogin(ctx, login, err)
	}
	// GitHub could not be asked: the session keeps its pair for the next
	// request to try again, and GitHub judges the old token meanwhile.
	u.deps.Logger.Warn().Err(err).Str("login", login).Msg("refresh the user token")
	return login, g.access, true, nil
}

// endLogin destroys the session whose login could not be renewed.
func (u *UI) endLogin(ctx context.Context, login string, why error) error {
	u.deps.Logger.Info().Err(why).Str("login", login).Msg("login ended: the user token could not be renewed")
	if err := u.Sessions.Destroy(ctx); err != nil {
		return fmt.Errorf("end the session of %s: %w", login, err)
	}
	return errLoginEnded
}

// refused says whether GitHub's token endpoint answered the refresh with
// a refusal (bad_refresh_token, bad client credentials, a 4xx), which
// trying again will not change.
func refused(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	if re.ErrorCode != "" {
		return true
	}
	return re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500
}

// refresher renews user tokens with the refresh grant. A refresh token
// works once, so two requests of one session renewing together would log
// the user out: refreshes are serialized, and a request holding a refresh
// token already used here gets the pair its use gave.
type refresher struct {
	mu     sync.Mutex
	recent map[[32]byte]recentGrant
}

type recentGrant struct {
	g  grant
	at time.Time
}

// refresh renews the pair of refresh token rt.
func (u *UI) refresh(ctx context.Context, rt string) (grant, error) {
	u.refr.mu.Lock()
	defer u.refr.mu.Unlock()
	now := u.now()
	for k, v := range u.refr.recent {
		if now.Sub(v.at) > recentRefreshes {
			delete(u.refr.recent, k)
		}
	}
	key := sha256.Sum256([]byte(rt))
	if v, ok := u.refr.recent[key]; ok {
		return v.g, nil
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, u.client)
	// No access token: the token source asks for a new pair at once.
	t, err := u.oauth.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		return grant{}, fmt.Errorf("refresh the user token: %w", err)
	}
	g := grantFrom(t, u.now())
	if u.refr.recent == nil {
		u.refr.recent = map[[32]byte]recentGrant{}
	}
	u.refr.recent[key] = recentGrant{g: g, at: now}
	return g, nil
}

// limitSession ends the session no later than g's refresh token, which
// can renew the access token no longer.
func (u *UI) limitSession(ctx context.Context, g grant) {
	if g.refreshExpiry == 0 {
		return
	}
	// The session store keeps real time; the refresh token's remaining
	// lifetime carries over from the UI's clock.
	end := time.Now().Add(time.UnixMilli(g.refreshExpiry).Sub(u.now()))
	if end.Before(u.Sessions.Deadline(ctx)) {
		u.Sessions.SetDeadline(ctx, end)
	}
}
