package ghfake

import (
	crand "crypto/rand"
	"math/rand"
	"strings"
	"sync"
	"time"
)

// control holds everything that is not the world: the clock, tokens, rate
// limits, faults, accounting and deliveries. Its own lock keeps API
// requests from contending on the world lock for bookkeeping.
type control struct {
	mu     sync.Mutex
	nowFn  func() time.Time
	offset time.Duration
	ttl    time.Duration

	hookURL   string
	oauthUser string

	tokens map[string]*token

	limit   int
	window  time.Duration
	budgets map[string]*budget // principal key -> window

	latency, jitter time.Duration
	failShare       float64
	failN           int
	failStatus      int
	hangN           int
	hanging         int           // requests hanging now
	hangChanged     chan struct{} // closed and replaced when hanging changes
	secondaryN      int
	secondary       SecondaryLimit
	answers         limitAnswers // 403 or 429, Retry-After or not (ratelimit.go)
	inFlight        map[string]int
	points          map[string]*pointWindow

	rng *rand.Rand

	st Stats

	deliveries []*Delivery
	nextDelID  int64

	codes map[string]oauthCode
	users userTokens // user access and refresh tokens' lifetimes and refresh tokens
}

type token struct {
	value          string
	installationID int64          // installation tokens
	repos          map[int64]bool // installation tokens narrowed to these repositories; nil: all
	userID         int64          // user tokens
	expiresAt      time.Time
	expired        bool
}

type budget struct {
	used  int
	reset time.Time
}

type pointWindow struct {
	points int
	start  time.Time
}

type oauthCode struct {
	userID int64
	state  string
}

func (c *control) init(o Options) {
	c.nowFn = o.Now
	c.ttl = o.TokenTTL
	c.hookURL = o.WebhookURL
	c.oauthUser = o.OAuthUser
	c.tokens = map[string]*token{}
	c.limit = o.RateLimit
	c.window = o.RateLimitWindow
	c.budgets = map[string]*budget{}
	c.inFlight = map[string]int{}
	c.points = map[string]*pointWindow{}
	c.answers.init(o)
	c.rng = rand.New(rand.NewSource(1))
	c.codes = map[string]oauthCode{}
	c.users.init(o)
	c.hangChanged = make(chan struct{})
	c.resetStatsLocked()
	c.nextDelID = 1000000
}

func (c *control) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *control) nowLocked() time.Time { return c.nowFn().Add(c.offset) }

func (c *control) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func (c *control) setWebhookURL(u string) {
	c.mu.Lock()
	c.hookURL = u
	c.mu.Unlock()
}

func (c *control) webhookURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hookURL
}

func (c *control) setOAuthUser(l string) {
	c.mu.Lock()
	c.oauthUser = l
	c.mu.Unlock()
}

func (c *control) mintInstallationToken(instID int64) (string, time.Time) {
	return c.mintNarrowToken(instID, nil)
}

func (c *control) mintNarrowToken(instID int64, repos map[int64]bool) (string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &token{value: "ghs_" + randomAlnum(36), installationID: instID, repos: repos, expiresAt: c.nowLocked().Add(c.ttl).Truncate(time.Second)}
	c.tokens[t.value] = t
	return t.value, t.expiresAt
}

// lookup returns the live token, or nil, and whether it existed at all.
func (c *control) lookup(v string) (*token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tokens[v]
	if !ok {
		return nil, false
	}
	if t.expired || !c.nowLocked().Before(t.expiresAt) {
		return nil, true
	}
	return t, true
}

func (c *control) revokeInstallationTokens(instID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tokens {
		if t.installationID == instID {
			t.expired = true
		}
	}
}

func (c *control) expireTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tokens {
		t.expired = true
	}
}

func (c *control) setLatency(f, j time.Duration) {
	c.mu.Lock()
	c.latency, c.jitter = f, j
	c.mu.Unlock()
}

func (c *control) setFailureRate(s float64) {
	c.mu.Lock()
	c.failShare = s
	c.mu.Unlock()
}

func (c *control) failNext(n, status int) {
	c.mu.Lock()
	c.failN, c.failStatus = n, status
	c.mu.Unlock()
}

func (c *control) hangNext(n int) {
	c.mu.Lock()
	c.hangN = n
	c.mu.Unlock()
}

// hang marks a request hanging (+1) or released (-1).
func (c *control) hang(delta int) {
	c.mu.Lock()
	c.hanging += delta
	close(c.hangChanged)
	c.hangChanged = make(chan struct{})
	c.mu.Unlock()
}

func (c *control) setRateLimit(n int) {
	c.mu.Lock()
	c.limit = n
	c.mu.Unlock()
}

func (c *control) setWindow(d time.Duration) {
	c.mu.Lock()
	c.window = d
	c.mu.Unlock()
}

func (c *control) setSecondary(l SecondaryLimit) {
	c.mu.Lock()
	c.secondary = l
	c.mu.Unlock()
}

func (c *control) triggerSecondary(n int) {
	c.mu.Lock()
	c.secondaryN = n
	c.mu.Unlock()
}

func (c *control) resetRateLimits() {
	c.mu.Lock()
	c.budgets = map[string]*budget{}
	c.points = map[string]*pointWindow{}
	c.mu.Unlock()
}

// budgetLocked is the current window of a principal.
func (c *control) budgetLocked(key string) *budget {
	now := c.nowLocked()
	b := c.budgets[key]
	if b == nil || !now.Before(b.reset) {
		// GitHub's reset is whole seconds; round up so a window never
		// ends before its header says.
		b = &budget{reset: now.Add(c.window).Add(time.Second - 1).Truncate(time.Second)}
		c.budgets[key] = b
	}
	return b
}

// limitFor is the hourly budget of a principal: 60 without credentials,
// as on GitHub, else the configured one.
func (c *control) limitFor(key string) int {
	if strings.HasPrefix(key, "anonymous:") {
		return 60
	}
	return c.limit
}

// rateState is what the X-RateLimit headers say.
type rateState struct {
	limit, remaining, used int
	reset                  time.Time
}

// spend takes one request from the principal's budget; ok is false when it
// was already spent.
func (c *control) spend(key string, n int) (rateState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.budgetLocked(key)
	limit := c.limitFor(key)
	if b.used >= limit {
		return rateState{limit, 0, b.used, b.reset}, false
	}
	b.used += n
	return rateState{limit, max(limit-b.used, 0), b.used, b.reset}, true
}

func (c *control) peek(key string) rateState {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.budgetLocked(key)
	limit := c.limitFor(key)
	return rateState{limit, max(limit-b.used, 0), b.used, b.reset}
}

func (c *control) spendRateLimit(tok string) {
	key := "token:" + tok
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tokens[tok]; ok {
		key = t.principal()
	}
	b := c.budgetLocked(key)
	b.used = c.limitFor(key)
}

func (t *token) principal() string {
	if t.installationID != 0 {
		return "installation:" + itoa(t.installationID)
	}
	return "user:" + itoa(t.userID)
}

// fault is what to do with a request before serving it.
type fault struct {
	sleep     time.Duration
	status    int  // answer this error status
	hang      bool // never answer
	secondary bool // answer the secondary rate limit
}

// nextFault decides what to do with a request and counts it in flight;
// the caller must call leave when it is answered.
func (c *control) nextFault(principal, route string, points int) fault {
	c.mu.Lock()
	defer c.mu.Unlock()
	var f fault
	f.sleep = c.latency
	if c.jitter > 0 {
		f.sleep += time.Duration(c.rng.Int63n(int64(c.jitter)))
	}
	switch {
	case c.hangN > 0:
		c.hangN--
		f.hang = true
	case c.failN > 0:
		c.failN--
		f.status = c.failStatus
	case c.secondaryN > 0:
		c.secondaryN--
		f.secondary = true
	case c.failShare > 0 && c.rng.Float64() < c.failShare:
		f.status = 500
		if c.rng.Intn(2) == 0 {
			f.status = 502
		}
	}
	// Checking and entering under one lock keeps parallel requests from
	// slipping past the concurrency limit together.
	if !f.secondary && c.secondary.MaxConcurrent > 0 && c.inFlight[principal] >= c.secondary.MaxConcurrent {
		f.secondary = true
	}
	c.inFlight[principal]++
	if !f.secondary && c.secondary.PointsPerMinute > 0 {
		k := principal + " " + route
		now := c.nowLocked()
		w := c.points[k]
		if w == nil || now.Sub(w.start) >= time.Minute {
			w = &pointWindow{start: now}
			c.points[k] = w
		}
		if w.points+points > c.secondary.PointsPerMinute {
			f.secondary = true
		} else {
			w.points += points
		}
	}
	return f
}

func (c *control) leave(principal string) {
	c.mu.Lock()
	c.inFlight[principal]--
	c.mu.Unlock()
}

// ---- accounting ----

type outcome int

const (
	outOK outcome = iota
	outNotModified
	outRateLimited
	outError
)

func (c *control) count(tok string, instID int64, route string, o outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	add := func(x *Counts) {
		x.Requests++
		switch o {
		case outNotModified:
			x.NotModified++
		case outRateLimited:
			x.RateLimited++
		case outError:
			x.Errors++
		}
	}
	add(&c.st.Total)
	t := c.st.ByToken[tok]
	add(&t)
	c.st.ByToken[tok] = t
	r := c.st.ByRoute[route]
	add(&r)
	c.st.ByRoute[route] = r
	if instID != 0 {
		i := c.st.ByInstallation[instID]
		add(&i)
		c.st.ByInstallation[instID] = i
	}
}

func (c *control) stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Stats{Total: c.st.Total, ByToken: map[string]Counts{}, ByInstallation: map[int64]Counts{}, ByRoute: map[string]Counts{}}
	for k, v := range c.st.ByToken {
		out.ByToken[k] = v
	}
	for k, v := range c.st.ByInstallation {
		out.ByInstallation[k] = v
	}
	for k, v := range c.st.ByRoute {
		out.ByRoute[k] = v
	}
	return out
}

func (c *control) resetStats() {
	c.mu.Lock()
	c.resetStatsLocked()
	c.mu.Unlock()
}

func (c *control) resetStatsLocked() {
	c.st = Stats{ByToken: map[string]Counts{}, ByInstallation: map[int64]Counts{}, ByRoute: map[string]Counts{}}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomAlnum(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

func itoa(n int64) string {
	return formatInt(n)
}
