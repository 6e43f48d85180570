// Package ui holds webhookdb's web pages: for now the GitHub OAuth login
// (GET /api/github/auth), the session it opens, and a minimal home page
// saying who is logged in. Sessions are scs/v2 sessions stored in the
// PostgreSQL table sessions.
package ui

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/v2"
	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	ghoauth2 "github.com/palantir/go-githubapp/oauth2"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"
)

// AuthRoute is the OAuth login route (go-githubapp's default).
const AuthRoute = ghoauth2.DefaultRoute

// Session keys.
const (
	keyLogin     = "login"
	keyUserID    = "user_id"
	keyToken     = "token"
	keyCSRFNonce = "csrf_nonce"
	keyState     = "oauth_state"
)

// CSRFHeader and CSRFField carry the CSRF token of a session request.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// Deps is what the UI needs, built once by the app.
type Deps struct {
	DB           *sql.DB
	GitHubConfig githubapp.Config
	// PublicURL is where browsers reach webhookdb; the OAuth callback and
	// the cookie's Secure flag derive from it.
	PublicURL string
	// SessionKey keys the CSRF tokens; at least 32 bytes. When empty a
	// random key is used, so CSRF tokens do not survive a restart.
	SessionKey string
	Logger     zerolog.Logger
	// HTTPClient calls GitHub during login; default a client with a 30s
	// timeout.
	HTTPClient *http.Client
	// SessionLifetime is how long a login lasts; default 7 days.
	SessionLifetime time.Duration
	// CleanupInterval is how often expired sessions are deleted; 0 means
	// the default of 5 minutes, negative means never (tests).
	CleanupInterval time.Duration
}

// UI serves the login and the pages. Build it with New; Close it to stop
// the session store's cleanup.
type UI struct {
	// Sessions is the session manager; wrap every route that reads the
	// session (the load endpoints too) with Sessions.LoadAndSave.
	Sessions *scs.SessionManager

	key    []byte
	store  *postgresstore.PostgresStore
	deps   Deps
	client *http.Client
	auth   http.Handler

	closeOnce sync.Once
}

// New builds the UI.
func New(o Deps) (*UI, error) {
	if o.DB == nil {
		return nil, errors.New("ui: no database")
	}
	key := []byte(o.SessionKey)
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("ui: random session key: %w", err)
		}
		o.Logger.Warn().Msg("no session key configured: CSRF tokens will not survive a restart")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.SessionLifetime == 0 {
		o.SessionLifetime = 7 * 24 * time.Hour
	}
	cleanup := o.CleanupInterval
	switch {
	case cleanup == 0:
		cleanup = 5 * time.Minute
	case cleanup < 0:
		cleanup = 0
	}
	u := &UI{key: key, deps: o, client: o.HTTPClient}
	u.store = postgresstore.NewWithCleanupInterval(o.DB, cleanup)
	sm := scs.New()
	sm.Store = u.store
	sm.Lifetime = o.SessionLifetime
	sm.Cookie.Name = "webhookdb_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = strings.HasPrefix(o.PublicURL, "https://")
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		o.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("session store")
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
	}
	u.Sessions = sm

	cfg := ghoauth2.GetConfig(o.GitHubConfig, nil)
	params := []ghoauth2.Param{
		ghoauth2.ForceTLS(false),
		ghoauth2.WithStore(&StateStore{Sessions: sm}),
		ghoauth2.OnLogin(u.onLogin),
		ghoauth2.OnError(u.onError),
	}
	if o.PublicURL != "" {
		params = append(params, ghoauth2.WithRedirectURL(strings.TrimRight(o.PublicURL, "/")+AuthRoute))
	}
	u.auth = ghoauth2.NewHandler(cfg, params...)
	if o.GitHubConfig.OAuth.ClientID == "" {
		// GitHub answers an authorize request without client_id with a 404
		// page: say what is missing instead.
		o.Logger.Warn().Msg("github.oauth.client_id is not configured: the UI login is off")
		u.auth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "login with GitHub is not configured on this server (github.oauth.client_id and github.oauth.client_secret)", http.StatusServiceUnavailable)
		})
	}
	return u, nil
}

// Close stops the background cleanup of expired sessions.
func (u *UI) Close() {
	u.closeOnce.Do(u.store.StopCleanup)
}

// Register mounts the UI routes on mux, inside the session middleware.
func (u *UI) Register(mux *http.ServeMux) {
	mux.Handle("GET "+AuthRoute, u.Sessions.LoadAndSave(u.withClient(u.auth)))
	mux.Handle("GET /{$}", u.Sessions.LoadAndSave(http.HandlerFunc(u.home)))
}

// withClient makes the OAuth token exchange use our HTTP client.
func (u *UI) withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), oauth2.HTTPClient, u.client)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (u *UI) onLogin(w http.ResponseWriter, r *http.Request, login *ghoauth2.Login) {
	ctx := r.Context()
	client, err := u.userClient(login.Client)
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
	sealed, err := u.seal(login.Token.AccessToken)
	if err != nil {
		u.onError(w, r, err)
		return
	}
	u.Sessions.Put(ctx, keyToken, sealed)
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
		http.Error(w, "login failed: GitHub said "+string(le), http.StatusBadRequest)
	default:
		http.Error(w, "login failed: could not complete the login with GitHub", http.StatusBadGateway)
	}
}

var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>webhookdb</title></head>
<body>
<h1>webhookdb</h1>
{{if .Login}}<p>Logged in as <strong>{{.Login}}</strong>.</p>
<meta name="csrf-token" content="{{.CSRF}}">
{{else if .AuthRoute}}<p>Not logged in. <a href="{{.AuthRoute}}">Log in with GitHub</a>.</p>
{{else}}<p>Not logged in. Login with GitHub is not configured on this server.</p>
{{end}}</body></html>
`))

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	data := struct{ Login, CSRF, AuthRoute string }{}
	if u.deps.GitHubConfig.OAuth.ClientID != "" {
		data.AuthRoute = AuthRoute
	}
	if login, _, ok := u.User(r); ok {
		data.Login = login
		data.CSRF = u.CSRFToken(r)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := homePage.Execute(w, data); err != nil {
		u.deps.Logger.Warn().Err(err).Msg("render home page")
	}
}

// User is the logged-in user of r's session: login and GitHub user access
// token. r must have passed through Sessions.LoadAndSave.
func (u *UI) User(r *http.Request) (login, token string, ok bool) {
	ctx := r.Context()
	if !u.hasSession(ctx) {
		return "", "", false
	}
	login = u.Sessions.GetString(ctx, keyLogin)
	token, ok = u.open(u.Sessions.GetString(ctx, keyToken))
	return login, token, ok && login != "" && token != ""
}

// hasSession says whether the session middleware ran for ctx; scs panics
// on a context it did not load.
func (u *UI) hasSession(ctx context.Context) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	u.Sessions.Status(ctx)
	return true
}

// CSRFToken is the CSRF token of r's session ("" without a login). Pages
// put it in forms (csrf_token) or scripts send it as X-CSRF-Token.
func (u *UI) CSRFToken(r *http.Request) string {
	if !u.hasSession(r.Context()) {
		return ""
	}
	nonce := u.Sessions.GetString(r.Context(), keyCSRFNonce)
	if nonce == "" {
		return ""
	}
	return u.csrfFor(nonce)
}

func (u *UI) csrfFor(nonce string) string {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte("csrf:" + nonce))
	return hex.EncodeToString(m.Sum(nil))
}

// CheckCSRF says whether r carries its session's CSRF token in the
// X-CSRF-Token header or the csrf_token form field.
func (u *UI) CheckCSRF(r *http.Request) bool {
	want := u.CSRFToken(r)
	if want == "" {
		return false
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		ct := r.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
			got = r.PostFormValue(CSRFField)
		}
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// SessionUser is what the load endpoints ask of a request's session: the
// logged-in user's login and access token, and whether the request carries
// the session's CSRF token. ok is false without a logged-in session.
func (u *UI) SessionUser(r *http.Request) (login, token string, csrfOK, ok bool) {
	login, token, ok = u.User(r)
	if !ok {
		return "", "", false, false
	}
	return login, token, u.CheckCSRF(r), true
}

// StateStore keeps the OAuth state in the scs/v2 session, since
// go-githubapp's SessionStateStore only fits scs v1. A state is random,
// used once, and compared in constant time.
type StateStore struct {
	Sessions *scs.SessionManager
}

// GenerateState makes a new random state and remembers it in the session.
func (s *StateStore) GenerateState(w http.ResponseWriter, r *http.Request) (string, error) {
	state, err := randomHex(32)
	if err != nil {
		return "", err
	}
	s.Sessions.Put(r.Context(), keyState, state)
	return state, nil
}

// VerifyState checks state against the session's, which it forgets.
func (s *StateStore) VerifyState(r *http.Request, state string) (bool, error) {
	want := s.Sessions.PopString(r.Context(), keyState)
	if want == "" || state == "" {
		return false, nil
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(state)) == 1, nil
}

// seal encrypts the user's GitHub token for the session row, so the
// sessions table alone does not give it away.
func (u *UI) seal(plain string) (string, error) {
	aead, err := u.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("random nonce: %w", err)
	}
	return hex.EncodeToString(aead.Seal(nonce, nonce, []byte(plain), []byte(keyToken))), nil
}

// open decrypts what seal made; ok is false for anything else (a session
// from before a change of the session key).
func (u *UI) open(sealed string) (string, bool) {
	raw, err := hex.DecodeString(sealed)
	if err != nil || sealed == "" {
		return "", false
	}
	aead, err := u.aead()
	if err != nil || len(raw) < aead.NonceSize() {
		return "", false
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(keyToken))
	if err != nil {
		return "", false
	}
	return string(plain), true
}

func (u *UI) aead() (cipher.AEAD, error) {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte("session token encryption"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("session token cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}
