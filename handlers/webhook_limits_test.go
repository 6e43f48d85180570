package handlers

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// watchedBody is a request body that records whether it was read and can
// hold its reader until released, like a client still sending.
type watchedBody struct {
	data    *bytes.Reader
	read    atomic.Bool
	entered chan struct{} // closed at the first Read
	once    sync.Once
	hold    chan struct{} // nil: never blocks; else Read waits for close
}

func newWatchedBody(data []byte, hold chan struct{}) *watchedBody {
	return &watchedBody{data: bytes.NewReader(data), entered: make(chan struct{}), hold: hold}
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	b.once.Do(func() { close(b.entered) })
	if b.hold != nil {
		<-b.hold
	}
	return b.data.Read(p)
}

func (b *watchedBody) Close() error { return nil }

// limitsHandler is the endpoint with a small body limit and budget, called
// directly so the test controls each request's body.
func limitsHandler(t *testing.T, maxBody, inFlight int64) *webhookHandler {
	t.Helper()
	d := Deps{
		DB:                   env.DB,
		Scheduler:            &recordingScheduler{},
		GitHub:               unreachableClientCreator(t),
		Logger:               zerolog.New(io.Discard),
		WebhookSecret:        testSecret,
		MaxBodyBytes:         maxBody,
		MaxBodyBytesInFlight: inFlight,
	}
	return newWebhookHandler(NewBase(d), d)
}

// limitsRequest is a delivery of body; length is its declared
// Content-Length (-1: unknown, as for a chunked body).
func limitsRequest(body io.ReadCloser, length int64, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/replication", body)
	r.ContentLength = length
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-GitHub-Event", "issues")
	r.Header.Set("X-GitHub-Delivery", "limits-test")
	if signature != "" {
		r.Header.Set("X-Hub-Signature-256", signature)
	}
	return r
}

// TestRefusedBeforeReading: what the headers already condemn is answered
// without reading a byte of the body.
func TestRefusedBeforeReading(t *testing.T) {
	const limit = 1 << 20
	h := limitsHandler(t, limit, 0)
	big := bytes.Repeat([]byte("x"), limit+1)
	tests := []struct {
		name      string
		length    int64
		signature string
		want      int
	}{
		{"no signature header", int64(len(big)), "", http.StatusUnauthorized},
		{"no signature header, chunked", -1, "", http.StatusUnauthorized},
		{"Content-Length over the limit", int64(len(big)), sign(testSecret, big), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := newWatchedBody(big, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, limitsRequest(body, tt.length, tt.signature))
			if w.Code != tt.want {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tt.want)
			}
			if body.read.Load() {
				t.Error("the body was read")
			}
			if got := h.budget.available(); got != DefaultMaxBodyBytesInFlight {
				t.Errorf("budget %d after the answer, want %d", got, DefaultMaxBodyBytesInFlight)
			}
		})
	}
}

// TestBodyLimitWhileReading: a body of unknown length is cut at the limit,
// and a short or bad-signature body gives back its share.
func TestBodyLimitWhileReading(t *testing.T) {
	const limit = 64 << 10
	h := limitsHandler(t, limit, 4*limit)
	over := bytes.Repeat([]byte(" "), limit+1)
	exact := bytes.Repeat([]byte(" "), limit)
	tests := []struct {
		name      string
		body      []byte
		length    int64
		signature string
		want      int
	}{
		{"chunked over the limit", over, -1, sign(testSecret, over), http.StatusRequestEntityTooLarge},
		{"chunked at the limit, bad signature", exact, -1, sign("other", exact), http.StatusUnauthorized},
		{"declared at the limit, bad signature", exact, limit, sign("other", exact), http.StatusUnauthorized},
		{"sha1 in the sha256 header", exact, limit, "sha1=0000", http.StatusUnauthorized},
		{"shorter than declared", exact[:10], limit, sign(testSecret, exact), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, limitsRequest(newWatchedBody(tt.body, nil), tt.length, tt.signature))
			if w.Code != tt.want {
				t.Fatalf("status %d (%s), want %d", w.Code, w.Body, tt.want)
			}
			if got := h.budget.available(); got != 4*limit {
				t.Errorf("budget %d after the answer, want %d", got, 4*limit)
			}
		})
	}
}

// TestBodyBudget: bodies being read at once never hold more than the
// budget; a request past it answers 503 with Retry-After, unread, and the
// budget is whole again once the others are answered.
func TestBodyBudget(t *testing.T) {
	const limit = 1 << 20
	h := limitsHandler(t, limit, 3*limit)
	body := bytes.Repeat([]byte("x"), limit)
	tests := []struct {
		name    string
		lengths []int64 // the bodies held while the last request comes
		last    int64
		want    int
	}{
		{"three full bodies fill it", []int64{limit, limit, limit}, 1, http.StatusServiceUnavailable},
		{"room for one more", []int64{limit, limit}, limit, http.StatusUnauthorized},
		{"a chunked body takes the limit", []int64{-1, -1, -1}, 1, http.StatusServiceUnavailable},
		{"a chunked body cannot squeeze in", []int64{limit, limit, limit / 2}, -1, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hold := make(chan struct{})
			var wg sync.WaitGroup
			codes := make([]int, len(tt.lengths))
			for i, n := range tt.lengths {
				size := n
				if size < 0 {
					size = limit / 2
				}
				b := newWatchedBody(body[:size], hold)
				wg.Add(1)
				go func() {
					defer wg.Done()
					w := httptest.NewRecorder()
					h.ServeHTTP(w, limitsRequest(b, n, sign("other", nil)))
					codes[i] = w.Code
				}()
				select {
				case <-b.entered:
				case <-time.After(10 * time.Second):
					t.Fatal("the held request never started reading")
				}
			}
			lastBody := newWatchedBody(body[:max(tt.last, 1)], nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, limitsRequest(lastBody, tt.last, sign("other", nil)))
			close(hold)
			wg.Wait()
			if w.Code != tt.want {
				t.Fatalf("last request: status %d (%s), want %d", w.Code, w.Body, tt.want)
			}
			if tt.want == http.StatusServiceUnavailable {
				if got := w.Header().Get("Retry-After"); got != "1" {
					t.Errorf("Retry-After %q, want 1", got)
				}
				if lastBody.read.Load() {
					t.Error("the refused body was read")
				}
			}
			for i, c := range codes {
				if c != http.StatusUnauthorized {
					t.Errorf("held request %d: status %d, want 401 (bad signature)", i, c)
				}
			}
			if got := h.budget.available(); got != 3*limit {
				t.Errorf("budget %d after every answer, want %d", got, 3*limit)
			}
		})
	}
}
