package load

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"
)

// A load request answers with GitHub's X-RateLimit-* headers of the last
// GitHub call made for it, so the caller sees the budget it spends. Two
// kinds of calls feed them: the token checks of the authorizer, which hand
// their answers over directly, and the inline sync, which calls GitHub
// through the app's installation clients, out of our sight; for those,
// RecordRateLimit, installed on the clients, finds the request's
// rateLimitHeaders in the request's context.

type rateLimitHeadersKey struct{}

// rateLimitHeaders holds the X-RateLimit-* headers of the last GitHub
// answer seen for one load request. The zero value is ready to use; the
// mutex is there because the inline sync's clients may record from other
// goroutines.
type rateLimitHeaders struct {
	mu sync.Mutex
	h  http.Header
}

// withRateLimitHeaders puts a new rateLimitHeaders in ctx for
// RecordRateLimit to fill.
func withRateLimitHeaders(ctx context.Context) (context.Context, *rateLimitHeaders) {
	rh := &rateLimitHeaders{}
	return context.WithValue(ctx, rateLimitHeadersKey{}, rh), rh
}

// record keeps the rate-limit headers of h, when it has any.
func (r *rateLimitHeaders) record(h http.Header) {
	out := rateOnly(h)
	if len(out) == 0 {
		return
	}
	r.mu.Lock()
	r.h = out
	r.mu.Unlock()
}

// recordResponse is record for a go-github answer, which is nil when the
// call got no answer.
func (r *rateLimitHeaders) recordResponse(resp *github.Response) {
	if resp == nil || resp.Response == nil {
		return
	}
	r.record(resp.Header)
}

// copyTo sets the recorded headers on w, leaving the others alone.
func (r *rateLimitHeaders) copyTo(w http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, vs := range r.h {
		w[k] = append([]string(nil), vs...)
	}
}

// rateOnly keeps the X-RateLimit-* headers of h.
func rateOnly(h http.Header) http.Header {
	out := http.Header{}
	for k, vs := range h {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), "X-Ratelimit-") {
			out[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
		}
	}
	return out
}

// RecordRateLimit is a go-githubapp client middleware
// (githubapp.WithClientMiddleware) for the clients of the inline syncer:
// it passes GitHub's rate-limit headers back to the load request.
func RecordRateLimit(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if resp != nil {
			if rh, ok := req.Context().Value(rateLimitHeadersKey{}).(*rateLimitHeaders); ok {
				rh.record(resp.Header)
			}
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
