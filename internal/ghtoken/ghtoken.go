// Package ghtoken reads a GitHub token from a request the way GitHub
// takes it, and names it for caches without keeping it: the load
// endpoints and the read API both authenticate callers this way.
package ghtoken

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// MaxLen bounds a token: GitHub's tokens, the longer stateless
// installation tokens (ghs_APPID_JWT) included, stay well under it, so a
// longer one is refused before any cache or GitHub sees it.
const MaxLen = 4096

// FromRequest reads Authorization: Bearer <token> (or token <token>).
// ok is false without such a header, or with a token past MaxLen.
func FromRequest(r *http.Request) (string, bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	tok = strings.TrimSpace(tok)
	if !found || tok == "" || len(tok) > MaxLen {
		return "", false
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return tok, true
	}
	return "", false
}

// Hash is the cache key of a token: never the token itself.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
