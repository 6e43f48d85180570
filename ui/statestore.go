package ui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StateCookie carries the OAuth state between the login's two legs.
const StateCookie = "webhookdb_oauth_state"

// stateTTL is how long a login may take at GitHub before its state expires.
const stateTTL = 10 * time.Minute

// StateStore keeps the OAuth state of go-githubapp's login in a short-lived
// cookie signed with a key derived from the session key, not in the
// session: an anonymous visitor starting a login writes nothing to the
// database. The cookie binds the state to the browser that started the
// login; it is random, expires, and is used once.
type StateStore struct {
	key    []byte
	secure bool
	ttl    time.Duration
	now    func() time.Time
}

// NewStateStore makes a StateStore signing with a key derived from
// sessionKey; secure sets the cookie's Secure flag (an https public URL).
func NewStateStore(sessionKey []byte, secure bool) *StateStore {
	// A label of its own, so the state MAC is never a CSRF token.
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte("oauth state cookie"))
	return &StateStore{key: m.Sum(nil), secure: secure, ttl: stateTTL, now: time.Now}
}

// GenerateState makes a new random state and sets it in the state cookie.
func (s *StateStore) GenerateState(w http.ResponseWriter, r *http.Request) (string, error) {
	state, err := randomHex(32)
	if err != nil {
		return "", err
	}
	expiry := s.now().Add(s.ttl)
	http.SetCookie(w, s.cookie(s.value(state, expiry.Unix()), int(s.ttl/time.Second)))
	return state, nil
}

// VerifyState checks state against the request's state cookie, which it
// deletes: a state is good for one callback. The cookie must be signed by
// us and unexpired. go-githubapp's interface gives no ResponseWriter, so
// the deletion goes through the one withStateWriter put in the context.
func (s *StateStore) VerifyState(r *http.Request, state string) (bool, error) {
	if w, ok := r.Context().Value(stateWriterKey{}).(http.ResponseWriter); ok {
		s.clear(w)
	}
	c, err := r.Cookie(StateCookie)
	if err != nil || state == "" {
		return false, nil
	}
	want, expiry, ok := s.parse(c.Value)
	if !ok || s.now().Unix() >= expiry {
		return false, nil
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(state)) == 1, nil
}

// clear deletes the state cookie.
func (s *StateStore) clear(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie("", -1))
}

func (s *StateStore) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: StateCookie, Value: value, Path: AuthRoute, MaxAge: maxAge,
		// Lax: GitHub's redirect back is a top-level GET, which carries it.
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}
}

// value is the cookie value: state.expiry.mac, expiry in unix seconds.
func (s *StateStore) value(state string, expiry int64) string {
	payload := state + "." + strconv.FormatInt(expiry, 10)
	return payload + "." + s.mac(payload)
}

func (s *StateStore) mac(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

// parse reads a cookie value made by value; ok is false unless our key
// signed it.
func (s *StateStore) parse(v string) (state string, expiry int64, ok bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return "", 0, false
	}
	payload, mac := v[:i], v[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.mac(payload))) {
		return "", 0, false
	}
	state, exp, found := strings.Cut(payload, ".")
	if !found {
		return "", 0, false
	}
	expiry, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return state, expiry, true
}

type stateWriterKey struct{}

// withStateWriter gives VerifyState the response writer, to delete the
// state cookie on the callback.
func withStateWriter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), stateWriterKey{}, w)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
