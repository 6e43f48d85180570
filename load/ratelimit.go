package load

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// The inline sync calls GitHub through the app's installation clients, out
// of our sight; RecordRateLimit, installed on those clients, hands the
// X-RateLimit-* headers of each answer to the load request that caused it,
// found in the request's context.

type rateRecorderKey struct{}

// rateRecorder holds the last rate-limit headers seen for one request.
type rateRecorder struct {
	mu sync.Mutex
	h  http.Header
}

func withRateRecorder(ctx context.Context) (context.Context, *rateRecorder) {
	rec := &rateRecorder{}
	return context.WithValue(ctx, rateRecorderKey{}, rec), rec
}

func (r *rateRecorder) record(h http.Header) {
	out := rateOnly(h)
	if len(out) == 0 {
		return
	}
	r.mu.Lock()
	r.h = out
	r.mu.Unlock()
}

func (r *rateRecorder) copyTo(w http.Header) {
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
			if rec, ok := req.Context().Value(rateRecorderKey{}).(*rateRecorder); ok {
				rec.record(resp.Header)
			}
		}
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
