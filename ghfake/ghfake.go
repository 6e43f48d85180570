package ghfake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"gopkg.in/yaml.v3"
)

// Options configure a Server. The zero value is a usable, unseeded server
// with a fresh app key.
type Options struct {
	// AppID is the GitHub App id (integration id); default 1.
	AppID int64
	// AppSlug is the app's slug; default "webhookdb".
	AppSlug string
	// PrivateKeyPEM is the app's RSA key, PKCS#1 PEM; generated if empty.
	PrivateKeyPEM string
	// WebhookSecret signs deliveries; generated if empty.
	WebhookSecret string
	// WebhookURL receives deliveries; none are sent while empty.
	WebhookURL string
	// OAuthClientID and OAuthClientSecret identify the app in the OAuth
	// web flow; generated if empty.
	OAuthClientID     string
	OAuthClientSecret string
	// OAuthUser is the login that /login/oauth/authorize approves as;
	// default the first seeded user.
	OAuthUser string
	// TokenTTL is how long installation tokens live; default 1 hour.
	TokenTTL time.Duration
	// UserTokenTTL is how long user access tokens (OAuth flow, refresh
	// grant, UserToken) live; default 8 hours, GitHub's.
	UserTokenTTL time.Duration
	// RefreshTokenTTL is how long a user token's refresh token lives;
	// default 15897600 seconds (about 6 months), GitHub's.
	RefreshTokenTTL time.Duration
	// RateLimit is the primary budget per hour of each installation, user
	// or the app; default 5000.
	RateLimit int
	// RateLimitWindow is how long a primary rate-limit window lasts from
	// its first request; default 1 hour (GitHub's). Tests shorten it to see
	// resets without waiting.
	RateLimitWindow time.Duration
	// TooManyRequestsShare is the share of rate-limit answers, primary and
	// secondary, sent as 429 instead of 403 (GitHub sends both); default
	// 0.5, negative for always 403, 1 for always 429. Deterministic: with
	// 0.5 the answers alternate 403, 429, 403...
	TooManyRequestsShare float64
	// SecondaryRetryAfterShare is the share of secondary-limit answers
	// that carry Retry-After (GitHub's sometimes do not); default 0.5,
	// negative for never, 1 for always. Deterministic as above, the first
	// answer without.
	SecondaryRetryAfterShare float64
	// Now is the clock; default time.Now. Advance moves it further.
	Now func() time.Time
	// PageCacheBytes bounds the rendered pull and issue list pages kept
	// so that re-scans do not render them again; default 256 MiB,
	// negative for none.
	PageCacheBytes int
	// Seed, if set, seeds the world at New.
	Seed *SeedOptions
	// HTTPClient sends webhook deliveries; default http.DefaultClient's
	// settings (WebhookTimeout bounds each delivery).
	HTTPClient *http.Client
	// WebhookTimeout is how long a delivery waits for the receiver's
	// answer before it is recorded as "timed out"; default 10s, GitHub's.
	WebhookTimeout time.Duration
	// DeliveryRetention is how long, by the server's clock, the delivery
	// log keeps a delivery (listed, fetched, redelivered); default 3 days,
	// GitHub's. Negative keeps every delivery.
	DeliveryRetention time.Duration
	// OnDelivery, if set, is called after every delivery attempt (for the
	// demo's log); it must not call back into the Server's mutations.
	OnDelivery func(*Delivery)
}

// SeedOptions size the seeded world. Everything is derived from Seed, so
// the same options always give the same world (ids, names, timestamps).
// Zero counts take the defaults in brackets; use a negative count for none.
type SeedOptions struct {
	Seed int64
	// Accounts is the number of organizations [1], named org-0, org-1...
	Accounts int
	// Users is the number of user accounts [5], named user-0, user-1...;
	// every user is a member of every organization.
	Users int
	// ReposPerAccount repositories per organization [2], named repo-0...
	ReposPerAccount int
	// PullsPerRepo pull requests per repository [3].
	PullsPerRepo int
	// IssuesPerRepo issues (not pull requests) per repository [3].
	IssuesPerRepo int
	// FilesPerPull changed files per pull request [3]; derived on demand.
	// Ignored when MaxFilesPerPull is set.
	FilesPerPull int
	// MaxFilesPerPull, when > 0, gives each pull request its own number
	// of files in [1, MaxFilesPerPull], skewed like real repositories
	// (most pulls touch a few files, a tail touches many), and gives the
	// first pull request of every repository exactly MaxFilesPerPull. The
	// counts come from Seed, repository and number alone, so the rest of
	// the world is the same as with FilesPerPull.
	MaxFilesPerPull int
	// CommentsPerIssue issue comments per issue and per pull request [1].
	CommentsPerIssue int
	// LabelsPerRepo labels per repository [3].
	LabelsPerRepo int
	// MilestonesPerRepo milestones per repository [1].
	MilestonesPerRepo int
	// ReviewsPerPull reviews per pull request [1].
	ReviewsPerPull int
	// ReviewCommentsPerPull review comments per pull request [1].
	ReviewCommentsPerPull int
	// NoInstall leaves the app uninstalled; by default every seeded
	// organization installs it on all repositories.
	NoInstall bool
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	opts    Options
	key     *rsa.PrivateKey
	keyPEM  string
	handler http.Handler

	srvMu    sync.Mutex
	listener net.Listener
	httpSrv  *http.Server
	base     string // e.g. http://127.0.0.1:1234, set at Start or Listen
	closed   chan struct{}

	mu sync.RWMutex // guards the world
	w  *world

	cacheMu sync.Mutex
	lists   map[listKey]listCache
	pages   pageCache
	sorted  map[sortedKey]sortedEntry

	ctl control // faults, rate limits, tokens, stats, deliveries; own locks

	redeliveries redeliveryQueue // redeliveries asked for, not yet sent
}

// New makes a server; it does not listen yet (see Start, Listen, Handler).
func New(opts Options) (*Server, error) {
	if opts.AppID == 0 {
		opts.AppID = 1
	}
	if opts.AppSlug == "" {
		opts.AppSlug = "webhookdb"
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.UserTokenTTL == 0 {
		opts.UserTokenTTL = 8 * time.Hour
	}
	if opts.RefreshTokenTTL == 0 {
		opts.RefreshTokenTTL = 15897600 * time.Second
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 5000
	}
	if opts.PageCacheBytes == 0 {
		opts.PageCacheBytes = 256 << 20
	}
	if opts.RateLimitWindow == 0 {
		opts.RateLimitWindow = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = randomHex(20)
	}
	if opts.OAuthClientID == "" {
		opts.OAuthClientID = "Iv1." + randomHex(8)
	}
	if opts.OAuthClientSecret == "" {
		opts.OAuthClientSecret = randomHex(20)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.WebhookTimeout == 0 {
		opts.WebhookTimeout = defaultWebhookTimeout
	}
	if opts.DeliveryRetention == 0 {
		opts.DeliveryRetention = defaultDeliveryRetention
	}
	s := &Server{opts: opts, closed: make(chan struct{}), lists: map[listKey]listCache{}, pages: pageCache{entries: map[pageKey]resp{}}, sorted: map[sortedKey]sortedEntry{}}
	if opts.PrivateKeyPEM == "" {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate app key: %w", err)
		}
		s.key = k
		s.keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	} else {
		k, err := parseRSAKey(opts.PrivateKeyPEM)
		if err != nil {
			return nil, err
		}
		s.key = k
		s.keyPEM = opts.PrivateKeyPEM
	}
	s.ctl.init(opts)
	s.w = newWorld(opts.AppID)
	s.w.appSlug = opts.AppSlug
	s.base = "http://127.0.0.1"
	if opts.Seed != nil {
		if err := s.Seed(*opts.Seed); err != nil {
			return nil, err
		}
	}
	s.handler = s.routes()
	return s, nil
}

func parseRSAKey(p string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, errors.New("app private key: not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("app private key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("app private key: not RSA")
	}
	return rk, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Start listens on a free port of 127.0.0.1 and serves in the background,
// like httptest.Server.
func (s *Server) Start() error {
	return s.Listen("127.0.0.1:0")
}

// Listen listens on addr (HOST:PORT) and serves in the background.
func (s *Server) Listen(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	s.listener = l
	s.httpSrv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.setBase("http://" + l.Addr().String())
	go func() { _ = s.httpSrv.Serve(l) }()
	return nil
}

// SetBaseURL sets the web root used in URLs of the JSON it serves, for a
// server mounted with Handler behind another listener.
func (s *Server) SetBaseURL(u string) { s.setBase(strings.TrimRight(u, "/")) }

func (s *Server) setBase(u string) {
	s.mu.Lock()
	s.base = u
	s.w.base = u
	s.mu.Unlock()
}

// Close stops serving, releases hung requests and closes connections.
func (s *Server) Close() {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
	}
}

// Handler serves the whole simulator (API under /api/v3/, web at the root,
// control under /_fake/).
func (s *Server) Handler() http.Handler { return s.handler }

// URL is the web root, e.g. http://127.0.0.1:PORT.
func (s *Server) URL() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.base
}

// APIURL is URL()+"/api/v3/".
func (s *Server) APIURL() string { return s.URL() + "/api/v3/" }

// GraphQLURL is URL()+"/api/graphql" (not served; for configuration).
func (s *Server) GraphQLURL() string { return s.URL() + "/api/graphql" }

// AppID is the app's id (integration id).
func (s *Server) AppID() int64 { return s.opts.AppID }

// PrivateKeyPEM is the app's private key, PKCS#1 PEM.
func (s *Server) PrivateKeyPEM() string { return s.keyPEM }

// WebhookSecret is the secret deliveries are signed with.
func (s *Server) WebhookSecret() string { return s.opts.WebhookSecret }

// OAuthClientID is the app's OAuth client id.
func (s *Server) OAuthClientID() string { return s.opts.OAuthClientID }

// OAuthClientSecret is the app's OAuth client secret.
func (s *Server) OAuthClientSecret() string { return s.opts.OAuthClientSecret }

// GitHubConfig is go-githubapp's configuration pointing at this server.
func (s *Server) GitHubConfig() githubapp.Config {
	var c githubapp.Config
	c.WebURL = s.URL()
	c.V3APIURL = s.APIURL()
	c.V4APIURL = s.GraphQLURL()
	c.App.IntegrationID = s.opts.AppID
	c.App.WebhookSecret = s.opts.WebhookSecret
	c.App.PrivateKey = s.keyPEM
	c.OAuth.ClientID = s.opts.OAuthClientID
	c.OAuth.ClientSecret = s.opts.OAuthClientSecret
	return c
}

// ConfigFile is what WriteConfig writes: a webhookdb config.yml.
type ConfigFile struct {
	GitHub      githubapp.Config `yaml:"github"`
	Addr        string           `yaml:"addr,omitempty"`
	PublicURL   string           `yaml:"public_url,omitempty"`
	SessionKey  string           `yaml:"session_key,omitempty"`
	DatabaseURL string           `yaml:"database_url,omitempty"`
	RedisURL    string           `yaml:"redis_url,omitempty"`
}

// WriteConfigOptions add the non-GitHub settings to WriteConfigFull.
type WriteConfigOptions struct {
	Addr        string // webhookdb's listen address
	PublicURL   string // default http://Addr
	SessionKey  string // default a random 64-hex-digit key
	DatabaseURL string // written only if given
	RedisURL    string // written only if given
}

// WriteConfig writes path as a complete webhookdb config.yml pointing at
// this server, with webhookdb listening on webhookdbAddr (may be empty).
func (s *Server) WriteConfig(path string, webhookdbAddr string) error {
	return s.WriteConfigFull(path, WriteConfigOptions{Addr: webhookdbAddr})
}

// WriteConfigFull is WriteConfig with every setting.
func (s *Server) WriteConfigFull(path string, o WriteConfigOptions) error {
	b, err := s.ConfigYAML(o)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	return nil
}

// ConfigYAML renders the config.yml WriteConfigFull writes.
func (s *Server) ConfigYAML(o WriteConfigOptions) ([]byte, error) {
	cf := ConfigFile{GitHub: s.GitHubConfig(), Addr: o.Addr, PublicURL: o.PublicURL, SessionKey: o.SessionKey, DatabaseURL: o.DatabaseURL, RedisURL: o.RedisURL}
	if cf.PublicURL == "" && cf.Addr != "" {
		cf.PublicURL = "http://" + cf.Addr
	}
	if cf.SessionKey == "" {
		cf.SessionKey = randomHex(32)
	}
	b, err := yaml.Marshal(cf)
	if err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return b, nil
}

// SetWebhookURL sets where deliveries go; none are sent while empty.
func (s *Server) SetWebhookURL(url string) { s.ctl.setWebhookURL(url) }

// WebhookURL is where deliveries go.
func (s *Server) WebhookURL() string { return s.ctl.webhookURL() }

// Now is the server's clock (Options.Now plus Advance).
func (s *Server) Now() time.Time { return s.ctl.now() }

// Advance moves the server's clock forward: tokens expire and rate-limit
// windows reset as if d had passed. It does not affect App JWT checks,
// which follow Options.Now as the clients' clocks do.
func (s *Server) Advance(d time.Duration) { s.ctl.advance(d) }

// SetOAuthUser sets the login the OAuth authorize page approves as.
func (s *Server) SetOAuthUser(login string) { s.ctl.setOAuthUser(login) }

// ---- tokens ----

// InstallationToken mints an installation access token as
// POST /app/installations/{id}/access_tokens would; "" if there is no such
// installation.
func (s *Server) InstallationToken(installationID int64) string {
	s.mu.RLock()
	inst := s.w.installations[installationID]
	s.mu.RUnlock()
	if inst == nil || inst.deleted {
		return ""
	}
	t, _ := s.ctl.mintInstallationToken(installationID)
	return t
}

// UserToken mints a user access token (as the OAuth flow would) for login;
// "" if there is no such user.
func (s *Server) UserToken(login string) string {
	s.mu.RLock()
	a := s.w.accountsByLogin[strings.ToLower(login)]
	s.mu.RUnlock()
	if a == nil {
		return ""
	}
	return s.ctl.mintUserToken(a.id).access
}

// ExpireTokens makes every token minted so far expired (401 Bad
// credentials), as if their hour had passed; refresh tokens still work.
func (s *Server) ExpireTokens() { s.ctl.expireTokens() }

// ---- faults and limits ----

// SetLatency adds fixed plus a random share of jitter to every API answer.
func (s *Server) SetLatency(fixed, jitter time.Duration) { s.ctl.setLatency(fixed, jitter) }

// SetFailureRate makes share (0..1) of API requests answer 500 or 502.
func (s *Server) SetFailureRate(share float64) { s.ctl.setFailureRate(share) }

// FailNext makes the next n API requests answer status (500, 502, 503...).
func (s *Server) FailNext(n int, status int) { s.ctl.failNext(n, status) }

// HangNext makes the next n API requests hang until the client gives up
// (its context or connection ends) or the server closes.
func (s *Server) HangNext(n int) { s.ctl.hangNext(n) }

// WaitHung blocks until at least n requests are hanging (see HangNext),
// so a test knows they reached the server; it fails when ctx ends first.
func (s *Server) WaitHung(ctx context.Context, n int) error {
	return s.waitHanging(ctx, n, func(h int) bool { return h >= n })
}

// WaitReleased blocks until no request hangs any more (their clients gave
// up or the server closed) and they have left the in-flight count.
func (s *Server) WaitReleased(ctx context.Context) error {
	return s.waitHanging(ctx, 0, func(h int) bool { return h == 0 })
}

func (s *Server) waitHanging(ctx context.Context, n int, done func(int) bool) error {
	for {
		s.ctl.mu.Lock()
		hanging, changed := s.ctl.hanging, s.ctl.hangChanged
		s.ctl.mu.Unlock()
		if done(hanging) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d hung requests (%d now): %w", n, hanging, ctx.Err())
		}
	}
}

// SetRateLimit sets the primary hourly budget of every principal (existing
// windows keep what they spent).
func (s *Server) SetRateLimit(perHour int) { s.ctl.setRateLimit(perHour) }

// SetRateLimitWindow sets how long new primary windows last.
func (s *Server) SetRateLimitWindow(d time.Duration) { s.ctl.setWindow(d) }

// SpendRateLimit spends the whole remaining primary budget of the
// principal behind token (its installation, user or the app).
func (s *Server) SpendRateLimit(token string) { s.ctl.spendRateLimit(token) }

// ResetRateLimits gives every principal a full budget in a new window.
func (s *Server) ResetRateLimits() { s.ctl.resetRateLimits() }

// SecondaryLimit configures GitHub's secondary rate limits. Zero fields
// are off.
type SecondaryLimit struct {
	// MaxConcurrent requests in flight per principal; more get 403 or 429.
	MaxConcurrent int
	// PointsPerMinute per principal and route (GET 1 point, others 5).
	PointsPerMinute int
	// RetryAfter is the Retry-After sent, when one is; default 60s.
	RetryAfter time.Duration
}

// SetSecondaryLimit configures the secondary limits.
func (s *Server) SetSecondaryLimit(l SecondaryLimit) { s.ctl.setSecondary(l) }

// TriggerSecondaryLimit makes the next n API requests answer with the
// secondary rate limit (403 or 429, Retry-After or not: see
// SetRateLimitAnswers).
func (s *Server) TriggerSecondaryLimit(n int) { s.ctl.triggerSecondary(n) }

// ---- accounting ----

// Counts are what the server answered.
type Counts struct {
	Requests    int `json:"requests"`
	NotModified int `json:"not_modified"`
	RateLimited int `json:"rate_limited"`
	Errors      int `json:"errors"` // 4xx/5xx other than rate limits
}

// Stats are the counts in total, per token (the token string; "jwt" for
// the app JWT, "" for anonymous), per installation id (requests made with
// its tokens) and per route ("GET /repos/{owner}/{repo}/pulls").
type Stats struct {
	Total          Counts            `json:"total"`
	ByToken        map[string]Counts `json:"by_token"`
	ByInstallation map[int64]Counts  `json:"by_installation"`
	ByRoute        map[string]Counts `json:"by_route"`
}

// Stats returns a copy of the counts so far.
func (s *Server) Stats() Stats { return s.ctl.stats() }

// ResetStats sets every count to zero.
func (s *Server) ResetStats() { s.ctl.resetStats() }
