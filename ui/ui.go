// Package ui holds webhookdb's web pages: for now the GitHub OAuth login
// (GET /api/github/auth), the session it opens, a minimal home page
// saying who is logged in, and the log-out (POST /logout). Sessions are scs/v2 sessions stored in the
// PostgreSQL table sessions; they keep the user's expiring GitHub token
// with its refresh token, sealed, and renew it before it expires.
package ui

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/v2"
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
	keyToken     = "token" // the user access token, sealed
	keyCSRFNonce = "csrf_nonce"
	// The rest of the user token: refresh token (sealed), expiries (unix
	// ms) and the access token's lifetime (s).
	keyRefresh       = "refresh_token"
	keyExpiry        = "token_expiry"
	keyLifetime      = "token_lifetime"
	keyRefreshExpiry = "refresh_token_expiry"
)

// Deps is what the UI needs, built once by the app.
type Deps struct {
	// DB holds the sessions table, read and written by scs's
	// postgresstore; the UI reads nothing else yet.
	DB *sql.DB
	// GitHubConfig gives the OAuth client and GitHub's URLs.
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
	// SessionLifetime is how long a login lasts at most; default 7 days.
	// A login also ends with its refresh token (GitHub's last about 6
	// months) or when GitHub refuses to renew its user token.
	SessionLifetime time.Duration
	// Now is the clock user token expiry is judged by; default time.Now
	// (tests pass ghfake's).
	Now func() time.Time
	// CleanupInterval is how often expired sessions are deleted; 0 means
	// the default of 5 minutes, negative means never (tests).
	CleanupInterval time.Duration
	// GitHub makes the app client (the App JWT: the app's slug for the
	// installation link, redeliveries); nil when the app is not
	// configured.
	GitHub githubapp.ClientCreator
	// AppSlug is the app's name in GitHub URLs; empty: asked of GitHub
	// (GET /app) when first needed.
	AppSlug string
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
	oauth  *oauth2.Config // renews user tokens
	refr   refresher
	states *StateStore
	// tmpl are the parsed pages (layout.go).
	tmpl templates
	// access caches what users can reach (access.go); slug the app's
	// slug asked of GitHub (home.go).
	access reachCache
	slug   slugCache

	closeOnce sync.Once
}

// New builds the UI, filling in the defaults of deps.
func New(deps Deps) (*UI, error) {
	if deps.DB == nil {
		return nil, errors.New("ui: no database")
	}
	key := []byte(deps.SessionKey)
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("ui: random session key: %w", err)
		}
		deps.Logger.Warn().Msg("no session key configured: CSRF tokens will not survive a restart")
	}
	if deps.HTTPClient == nil {
		deps.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if deps.SessionLifetime == 0 {
		deps.SessionLifetime = 7 * 24 * time.Hour
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	cleanup := deps.CleanupInterval
	switch {
	case cleanup == 0:
		cleanup = 5 * time.Minute
	case cleanup < 0:
		cleanup = 0
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	u := &UI{key: key, deps: deps, client: deps.HTTPClient, tmpl: tmpl}
	u.store = postgresstore.NewWithCleanupInterval(deps.DB, cleanup)
	sm := scs.New()
	sm.Store = u.store
	sm.Lifetime = deps.SessionLifetime
	sm.Cookie.Name = "webhookdb_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = strings.HasPrefix(deps.PublicURL, "https://")
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		deps.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("session store")
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
	}
	u.Sessions = sm
	u.states = NewStateStore(key, sm.Cookie.Secure)

	cfg := ghoauth2.GetConfig(deps.GitHubConfig, nil)
	params := []ghoauth2.Param{
		ghoauth2.ForceTLS(false),
		ghoauth2.WithStore(u.states),
		ghoauth2.OnLogin(u.onLogin),
		ghoauth2.OnError(u.onError),
	}
	if deps.PublicURL != "" {
		params = append(params, ghoauth2.WithRedirectURL(strings.TrimRight(deps.PublicURL, "/")+AuthRoute))
	}
	u.auth = ghoauth2.NewHandler(cfg, params...)
	u.oauth = cfg
	if deps.GitHubConfig.OAuth.ClientID == "" {
		// GitHub answers an authorize request without client_id with a 404
		// page: say what is missing instead.
		deps.Logger.Warn().Msg("github.oauth.client_id is not configured: the UI login is off")
		u.auth = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "login with GitHub is not configured on this server (github.oauth.client_id and github.oauth.client_secret)", http.StatusServiceUnavailable)
		})
	}
	return u, nil
}

func (u *UI) now() time.Time { return u.deps.Now() }

// Close stops the background cleanup of expired sessions.
func (u *UI) Close() {
	u.closeOnce.Do(u.store.StopCleanup)
}

// Register mounts the UI routes on mux, inside the session middleware.
// Only a login writes a session: the anonymous pages and the login's
// first leg leave it unmodified, so scs stores nothing for them.
func (u *UI) Register(mux *http.ServeMux) {
	mux.Handle("GET "+AuthRoute, u.Sessions.LoadAndSave(withStateWriter(u.withClient(u.auth))))
	mux.Handle("GET "+StaticPrefix, staticHandler())
	mux.Handle("GET /{$}", u.Sessions.LoadAndSave(http.HandlerFunc(u.home)))
	mux.Handle("POST "+LogoutRoute, u.Sessions.LoadAndSave(http.HandlerFunc(u.logout)))
	mux.Handle("GET /repos/{owner}/{repo}", u.Sessions.LoadAndSave(http.HandlerFunc(u.repo)))
	mux.Handle("GET /deliveries", u.Sessions.LoadAndSave(http.HandlerFunc(u.deliveries)))
	mux.Handle("POST /deliveries/{guid}/redeliver", u.Sessions.LoadAndSave(http.HandlerFunc(u.redeliver)))
}
