package ghfake

import (
	"math"
	"time"
)

// How rate-limit answers look. GitHub answers both the primary and the
// secondary limits with 403 or 429, and sends Retry-After with a secondary
// limit only sometimes (then X-RateLimit-Remaining says whether the
// primary budget is spent; otherwise the client waits at least a minute).
// The choices are deterministic (a running count per kind, not a random
// draw) so that a test sees the same answers on every run.

// limitAnswers decides the status and the Retry-After of rate-limit
// answers. Guarded by control.mu.
type limitAnswers struct {
	tooManyShare    float64 // share of limit answers sent as 429
	retryAfterShare float64 // share of secondary answers with Retry-After
	limited         int     // limit answers given so far
	secondary       int     // secondary answers given so far
}

// shareDefault is the share used when an option is left zero.
const shareDefault = 0.5

func (a *limitAnswers) init(o Options) {
	a.set(o.TooManyRequestsShare, o.SecondaryRetryAfterShare)
}

// set takes the options' convention: 0 is the default, negative is never,
// 1 or more is always.
func (a *limitAnswers) set(tooMany, retryAfter float64) {
	norm := func(v float64) float64 {
		switch {
		case v == 0:
			return shareDefault
		case v < 0:
			return 0
		}
		return math.Min(v, 1)
	}
	a.tooManyShare, a.retryAfterShare = norm(tooMany), norm(retryAfter)
	a.limited, a.secondary = 0, 0
}

// takes says whether the n-th event (from 1) falls in a share: exactly
// floor(n*share) of the first n do, spread evenly.
func takes(n int, share float64) bool {
	return math.Floor(float64(n)*share) > math.Floor(float64(n-1)*share)
}

// limitStatus is the status of the next rate-limit answer, primary or
// secondary: 429 for a share of them, else 403.
func (c *control) limitStatus() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers.limited++
	if takes(c.answers.limited, c.answers.tooManyShare) {
		return 429
	}
	return 403
}

// secondaryRetryAfter is the Retry-After of the next secondary-limit
// answer; ok is false when this answer goes without one.
func (c *control) secondaryRetryAfter() (d time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers.secondary++
	if !takes(c.answers.secondary, c.answers.retryAfterShare) {
		return 0, false
	}
	if c.secondary.RetryAfter > 0 {
		return c.secondary.RetryAfter, true
	}
	return time.Minute, true
}

func (c *control) setLimitAnswers(tooMany, retryAfter float64) {
	c.mu.Lock()
	c.answers.set(tooMany, retryAfter)
	c.mu.Unlock()
}

// SetRateLimitAnswers sets how rate-limit answers look from now on, with
// the convention of Options.TooManyRequestsShare and
// Options.SecondaryRetryAfterShare (0 default, negative never, 1 always),
// and restarts their counts.
func (s *Server) SetRateLimitAnswers(tooManyShare, retryAfterShare float64) {
	s.ctl.setLimitAnswers(tooManyShare, retryAfterShare)
}
