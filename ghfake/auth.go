package ghfake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

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
