package ghfake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

// Who is asking (the Authorization header: app JWT, installation or user
// token, or nobody) and what they may see.

// authKind says what a route accepts.
type authKind int

const (
	authToken authKind = iota // installation, user or no token
	authJWT                   // the app's JWT
)

// credentials reads the Authorization header: a JWT, a token, or nothing.
func credentials(r *http.Request) (tok string, isJWT bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, v, _ := strings.Cut(h, " ")
	v = strings.TrimSpace(v)
	switch strings.ToLower(scheme) {
	case "bearer":
		return v, strings.Count(v, ".") == 2
	case "token":
		return v, false
	case "basic":
		// go-github's BasicAuthTransport; not supported: as a bad token.
		return "basic", false
	}
	return h, false
}

// checkJWT verifies the app JWT as GitHub does: RS256 by the app key,
// iss the app id, at most 10 minutes long, not expired.
func (s *Server) checkJWT(raw string) string {
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil }); err != nil {
		return "A JSON web token could not be decoded"
	}
	iss := fmt.Sprint(claims["iss"])
	if f, ok := claims["iss"].(float64); ok {
		iss = strconv.FormatInt(int64(f), 10)
	}
	if iss != strconv.FormatInt(s.opts.AppID, 10) {
		return "A JSON web token could not be decoded"
	}
	iat, ok1 := claims["iat"].(float64)
	exp, ok2 := claims["exp"].(float64)
	if !ok1 || !ok2 {
		return "Missing 'issued at' or 'expiration time' claim ('iat' and 'exp' are required)"
	}
	now := float64(s.opts.Now().Unix())
	if exp-iat > 600 {
		return "Expiration time' claim ('exp') is too far in the future"
	}
	if exp <= now {
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	}
	if iat > now+60 {
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	}
	return ""
}

// canRead says whether the caller may see r, as GitHub decides it; a repo
// it may not see answers 404.
func (c *reqCtx) canRead(r *repo) bool {
	w := c.s.w
	switch {
	case c.tok != nil && c.tok.installationID != 0:
		in := w.installations[c.tok.installationID]
		return in != nil && in.covers(r) && (c.tok.repos == nil || c.tok.repos[r.id])
	case c.tok != nil:
		u := w.accountsByID[c.tok.userID]
		return u != nil && w.permission(u, r) != "" && w.installationFor(r) != nil
	case c.jwt:
		return false
	}
	return !r.private
}

func (c *reqCtx) user() *account {
	if c.tok == nil || c.tok.userID == 0 {
		return nil
	}
	return c.s.w.accountsByID[c.tok.userID]
}

// ---- user tokens ----

// userTokens holds the lifetimes of user tokens and the refresh tokens not
// yet used; control.mu guards it.
type userTokens struct {
	ttl, refreshTTL time.Duration
	refresh         map[string]*refreshToken
}

// refreshToken is a ghr_ token: one use, then it and the access token
// issued with it stop working, as on GitHub.
type refreshToken struct {
	userID    int64
	access    string
	expiresAt time.Time
}

// userGrant is what the token endpoint hands out for a user.
type userGrant struct {
	access, refresh             string
	expiresIn, refreshExpiresIn int64 // seconds
}

func (u *userTokens) init(o Options) {
	u.ttl, u.refreshTTL = o.UserTokenTTL, o.RefreshTokenTTL
	u.refresh = map[string]*refreshToken{}
}

func (c *control) mintUserToken(userID int64) userGrant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mintUserTokenLocked(userID)
}

func (c *control) mintUserTokenLocked(userID int64) userGrant {
	now := c.nowLocked()
	t := &token{value: "ghu_" + randomAlnum(36), userID: userID, expiresAt: now.Add(c.users.ttl)}
	c.tokens[t.value] = t
	r := "ghr_" + randomAlnum(76)
	c.users.refresh[r] = &refreshToken{userID: userID, access: t.value, expiresAt: now.Add(c.users.refreshTTL)}
	return userGrant{access: t.value, refresh: r,
		expiresIn: int64(c.users.ttl / time.Second), refreshExpiresIn: int64(c.users.refreshTTL / time.Second)}
}

// refreshUserToken redeems refresh token v for a new pair; false if v is
// unknown, used or expired.
func (c *control) refreshUserToken(v string) (userGrant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rt, ok := c.users.refresh[v]
	if !ok {
		return userGrant{}, false
	}
	delete(c.users.refresh, v)
	if !c.nowLocked().Before(rt.expiresAt) {
		return userGrant{}, false
	}
	if t := c.tokens[rt.access]; t != nil {
		t.expired = true
	}
	return c.mintUserTokenLocked(rt.userID), true
}

// revokeUserTokens ends every access and refresh token of userID.
func (c *control) revokeUserTokens(userID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tokens {
		if t.userID == userID {
			t.expired = true
		}
	}
	for v, rt := range c.users.refresh {
		if rt.userID == userID {
			delete(c.users.refresh, v)
		}
	}
}

// RevokeUserTokens ends every user access token and refresh token of
// login, as when the user revokes the app's authorization in their
// settings: the API answers 401 and the refresh grant bad_refresh_token.
func (s *Server) RevokeUserTokens(login string) {
	s.mu.RLock()
	a := s.w.accountsByLogin[strings.ToLower(login)]
	s.mu.RUnlock()
	if a != nil {
		s.ctl.revokeUserTokens(a.id)
	}
}
