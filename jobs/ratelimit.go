package jobs

// One reading of GitHub's rate-limit answers, for the jobs, the inline
// syncs and the load endpoints' token checks. GitHub answers both its
// primary and its secondary limits with 403 or 429, and its advice is
// (docs.github.com, "Best practices for using the REST API"): with
// Retry-After, wait that many seconds; else with X-RateLimit-Remaining 0,
// wait until X-RateLimit-Reset; else wait at least a minute, and longer
// (exponentially) if the limit keeps answering. go-github v60 recognises
// only 403s (RateLimitError, AbuseRateLimitError), and for a secondary
// limit without Retry-After it takes the primary window's reset as the
// wait, up to an hour; so the headers are read here, not its fields.

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// secondaryMinWait is the wait after a secondary limit that names none
// (GitHub: "at least one minute"); the jobs take theirs from
// Deps.SecondaryMinWait (RateLimitedError.Guessed).
const secondaryMinWait = time.Minute

// RateLimitFromError says whether err is GitHub's answer that a rate limit
// is spent (or go-github's refusal to send, knowing one is), and until
// when to wait. It reads 403 and 429 alike; any other error is not a rate
// limit (ok false).
func RateLimitFromError(installationID int64, err error) (rl *RateLimitedError, ok bool) {
	rl, _, ok = rateLimitOf(installationID, err, time.Now())
	return rl, ok
}

// rateLimitOf is RateLimitFromError that also says whether the request was
// sent (false when go-github refused locally).
func rateLimitOf(installationID int64, err error, now time.Time) (rl *RateLimitedError, sent, ok bool) {
	var resp *http.Response
	var text string
	var rle *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	var done *RateLimitedError
	switch {
	case err == nil:
		return nil, false, false
	case errors.As(err, &done):
		return done, true, true
	case errors.As(err, &rle):
		if local(rle.Response) {
			until := rle.Rate.Reset.Time
			guessed := until.IsZero()
			if guessed {
				until = now.Add(secondaryMinWait)
			}
			return &RateLimitedError{InstallationID: installationID, Until: until, Guessed: guessed}, false, true
		}
		resp, text = rle.Response, rle.Message
	case errors.As(err, &abuse):
		if local(abuse.Response) {
			rl := &RateLimitedError{InstallationID: installationID, Until: now.Add(secondaryMinWait), Secondary: true, Guessed: true}
			if abuse.RetryAfter != nil {
				rl.Until, rl.Guessed = now.Add(*abuse.RetryAfter), false
			}
			return rl, false, true
		}
		// go-github tells a secondary limit by its documentation URL.
		resp, text = abuse.Response, abuse.Message+" secondary rate limit"
	case errors.As(err, &er) && er.Response != nil:
		resp, text = er.Response, er.Message+" "+er.DocumentationURL
	default:
		return nil, false, false
	}
	rl, ok = RateLimitFromResponse(installationID, resp, text, now)
	return rl, ok, ok
}

// local says whether resp is go-github's stand-in for a request it did not
// send (no headers at all, which a real answer always has).
func local(resp *http.Response) bool { return resp == nil || len(resp.Header) == 0 }

// RateLimitFromResponse reads a GitHub answer, its status and headers
// and its message (with the documentation URL, if any): a 403 or 429 with
// Retry-After, with X-RateLimit-Remaining 0 or naming the secondary limit
// is a rate limit; any 429 is. A 403 without these is a refusal (ok false).
func RateLimitFromResponse(installationID int64, resp *http.Response, message string, now time.Time) (rl *RateLimitedError, ok bool) {
	if resp == nil || (resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests) {
		return nil, false
	}
	h := resp.Header
	wait, hasRetryAfter := retryAfter(h, now)
	spent := strings.TrimSpace(h.Get("X-RateLimit-Remaining")) == "0"
	secondary := mentionsSecondary(message)
	if resp.StatusCode == http.StatusForbidden && !hasRetryAfter && !spent && !secondary {
		return nil, false
	}
	rl = &RateLimitedError{InstallationID: installationID, Secondary: secondary || !spent}
	reset, hasReset := resetTime(h)
	switch {
	case hasRetryAfter:
		rl.Until = now.Add(wait)
	case spent && hasReset:
		rl.Until = reset
	default:
		rl.Until, rl.Guessed = now.Add(secondaryMinWait), true
	}
	return rl, true
}

func mentionsSecondary(message string) bool {
	m := strings.ToLower(message)
	return strings.Contains(m, "secondary rate limit") || strings.Contains(m, "secondary-rate-limits") ||
		strings.Contains(m, "abuse")
}

// retryAfter reads Retry-After, in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func resetTime(h http.Header) (time.Time, bool) {
	v, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64)
	if err != nil || v <= 0 {
		return time.Time{}, false
	}
	return time.Unix(v, 0), true
}
