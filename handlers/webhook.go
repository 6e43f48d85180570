package handlers

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/httpjson"
)

// DefaultMaxBodyBytes is the largest webhook body accepted (GitHub caps
// payloads at 25 MiB).
const DefaultMaxBodyBytes = 25 << 20

// NewWebhookHandler builds the webhook endpoint: body limit, signature
// check, go-githubapp's dispatcher with webhookdb's answers, logging and
// metrics.
func NewWebhookHandler(d Deps) http.Handler {
	return newWebhookHandler(NewBase(d), d)
}

func newWebhookHandler(b Base, d Deps) *webhookHandler {
	h := &webhookHandler{
		db:      d.DB,
		secret:  d.WebhookSecret,
		maxBody: d.MaxBodyBytes,
		logger:  d.Logger,
		metrics: b.metrics,
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	inFlight := d.MaxBodyBytesInFlight
	if inFlight <= 0 {
		inFlight = DefaultMaxBodyBytesInFlight
	}
	// A budget below one full body would refuse every large delivery.
	h.budget = newBodyBudget(max(inFlight, h.maxBody))
	h.dispatcher = githubapp.NewEventDispatcher(Handlers(b), d.WebhookSecret,
		githubapp.WithErrorCallback(h.onError),
		githubapp.WithResponseCallback(h.onResponse),
	)
	return h
}

type webhookHandler struct {
	db         *sql.DB
	secret     string
	maxBody    int64
	budget     *bodyBudget
	logger     zerolog.Logger
	metrics    *metrics
	dispatcher http.Handler
}

// requestInfo travels in the request context from the outer handler to the
// callbacks and handlers, and back for the log line and the metrics.
type requestInfo struct {
	received time.Time
	replay   bool // processed again from the stored payload (replay.go)
	body     []byte
	verified bool // the signature was checked: labels may use the event name

	mu             sync.Mutex
	status         string
	action         string
	installationID int64
	repoID         int64
}

// setDelivery names the delivery in the log line.
func (i *requestInfo) setDelivery(d delivery) {
	if i == nil {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.action, i.installationID, i.repoID = d.action, d.installationID, d.repoID
}

// setStatus is the status of the log line and the metrics.
func (i *requestInfo) setStatus(s string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.status = s
}

type requestInfoKey struct{}

// requestInfoFrom returns the request's info, or a throwaway one when a
// handler is called outside the endpoint.
func requestInfoFrom(ctx context.Context) *requestInfo {
	if i, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return i
	}
	return &requestInfo{}
}

// deliver stores a delivery through run and hands its outcome to the
// endpoint: the request's holder for the log line and the metrics, and the
// dispatcher's responder for the answer.
//
// go-githubapp's EventHandler.Handle returns only an error, so an outcome
// cannot come back past the dispatcher as a value. run and store compute it
// as one and never touch the request; this adapter, at the endpoint's
// boundary, is the only code outside the endpoint's callbacks that writes
// the holder.
func (b *Base) deliver(ctx context.Context, d delivery, apply effect) error {
	info := requestInfoFrom(ctx)
	d.received, d.replay = info.received, info.replay
	out, err := b.run(ctx, d, apply)
	info.setDelivery(out.delivery)
	if out.status != "" {
		info.setStatus(out.status)
	}
	if err != nil {
		return err
	}
	githubapp.SetResponder(ctx, func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"message": out.status})
	})
	return nil
}

// Statuses of the metrics that are not stored statuses.
const (
	statusDuplicate    = duplicate
	statusInvalid      = "invalid"      // 400
	statusUnauthorized = "unauthorized" // 401
	statusTooLarge     = "too_large"    // 413
	statusBusy         = "busy"         // 503: the body budget is spent
)

func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	event := r.Header.Get("X-GitHub-Event")
	deliveryID := r.Header.Get("X-GitHub-Delivery")
	info := &requestInfo{received: start}
	logger := h.logger.With().Str(githubapp.LogKeyDeliveryID, deliveryID).Logger()
	rec := &codeRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		// An unverified request's event name is whatever the sender wrote:
		// keep it out of the metric labels.
		label := "unverified"
		if info.verified {
			label = event
		}
		info.mu.Lock()
		status, action, inst, repo := info.status, info.action, info.installationID, info.repoID
		info.mu.Unlock()
		if status == "" {
			status = StatusFailed
		}
		elapsed := time.Since(start)
		h.metrics.observe(label, status, elapsed)
		ev := logger.Info()
		if rec.code >= 500 {
			ev = logger.Error()
		} else if rec.code >= 400 {
			ev = logger.Warn()
		}
		ev.Str(githubapp.LogKeyEventType, event).Str("github_action", action).
			Int64(githubapp.LogKeyInstallationID, inst).Int64("github_repository_id", repo).
			Str("status", status).Int("http_status", rec.code).Dur("elapsed", elapsed).
			Msg("webhook delivery")
	}()

	if h.secret == "" {
		info.setStatus(statusUnauthorized)
		httpjson.Write(rec, http.StatusUnauthorized, map[string]string{"message": "webhook secret not configured"})
		return
	}
	// Everything refusable from the headers alone is refused before a byte
	// of body is read: an unsigned or oversized request costs us nothing.
	// Only the SHA-256 signature counts; go-github would otherwise fall
	// back to the SHA-1 header.
	signature := r.Header.Get(github.SHA256SignatureHeader)
	if signature == "" {
		info.setStatus(statusUnauthorized)
		httpjson.Write(rec, http.StatusUnauthorized, map[string]string{"message": "missing " + github.SHA256SignatureHeader})
		return
	}
	if r.ContentLength > h.maxBody {
		info.setStatus(statusTooLarge)
		httpjson.Write(rec, http.StatusRequestEntityTooLarge, map[string]string{"message": "payload too large"})
		return
	}
	// A body of unknown length (chunked) takes the most it may become.
	share := r.ContentLength
	if share < 0 {
		share = h.maxBody
	}
	if !h.budget.tryAcquire(share) {
		info.setStatus(statusBusy)
		rec.Header().Set("Retry-After", "1")
		httpjson.Write(rec, http.StatusServiceUnavailable, map[string]string{"message": "too many webhook bodies in flight, retry"})
		return
	}
	// The share is held until the delivery is answered: the body stays in
	// memory (info.body) that long.
	defer func() { h.budget.release(share) }()
	body, err := readBody(r.Body, r.ContentLength, h.maxBody)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			info.setStatus(statusTooLarge)
			httpjson.Write(rec, http.StatusRequestEntityTooLarge, map[string]string{"message": "payload too large"})
			return
		}
		info.setStatus(statusInvalid)
		httpjson.Write(rec, http.StatusBadRequest, map[string]string{"message": "could not read body"})
		return
	}
	if unused := share - int64(cap(body)); unused > 0 {
		h.budget.release(unused)
		share -= unused
	}
	// Checked here rather than only by the dispatcher, which copies the
	// body before it checks: a forged delivery is refused without the copy.
	if !strings.HasPrefix(signature, "sha256=") {
		info.setStatus(statusUnauthorized)
		httpjson.Write(rec, http.StatusUnauthorized, map[string]string{"message": "bad signature"})
		return
	}
	if err := github.ValidateSignature(signature, body, []byte(h.secret)); err != nil {
		info.setStatus(statusUnauthorized)
		logger.Warn().Err(err).Msg("webhook signature rejected")
		httpjson.Write(rec, http.StatusUnauthorized, map[string]string{"message": "bad signature"})
		return
	}
	if !headerText(event) || !headerText(deliveryID) {
		info.setStatus(statusInvalid)
		httpjson.Write(rec, http.StatusBadRequest, map[string]string{"message": "invalid X-GitHub-Event or X-GitHub-Delivery header"})
		return
	}
	r.Header.Del(github.SHA1SignatureHeader)
	info.body = body
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
	// The dispatcher adds the event and delivery id to this logger.
	ctx = h.logger.WithContext(ctx)
	h.dispatcher.ServeHTTP(rec, r.WithContext(ctx))
}

// onError answers what the dispatcher or a handler could not accept.
func (h *webhookHandler) onError(w http.ResponseWriter, r *http.Request, err error) {
	info := requestInfoFrom(r.Context())
	logger := zerolog.Ctx(r.Context())
	var ve githubapp.ValidationError
	if errors.As(err, &ve) {
		// The dispatcher reports a bad signature, a missing event header
		// and an unreadable body alike; only the signature is 401.
		if sigErr := github.ValidateSignature(r.Header.Get(github.SHA256SignatureHeader), info.body, []byte(h.secret)); sigErr != nil {
			info.setStatus(statusUnauthorized)
			logger.Warn().Err(sigErr).Msg("webhook signature rejected")
			httpjson.Write(w, http.StatusUnauthorized, map[string]string{"message": "bad signature"})
			return
		}
		info.verified = true
		info.setStatus(statusInvalid)
		logger.Warn().Err(ve.Cause).Msg("invalid webhook request")
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"message": "invalid webhook request: " + ve.Cause.Error()})
		return
	}
	info.verified = true
	var pe *PayloadError
	if errors.As(err, &pe) {
		if !pe.recorded && pe.DeliveryID != "" {
			// Parsing failed before the delivery was described; record what
			// the headers say. A payload that is not JSON cannot be kept.
			d := delivery{event: pe.Event, id: pe.DeliveryID}
			if json.Valid(info.body) {
				d.payload = info.body
			}
			d.received = time.Now()
			recordFailure(r.Context(), h.db, d, err)
		}
		info.setStatus(statusInvalid)
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"message": pe.Error()})
		return
	}
	info.setStatus(StatusFailed)
	httpjson.Write(w, http.StatusInternalServerError, map[string]string{"message": "could not store delivery"})
}

// onResponse answers a delivery the dispatcher accepted: the handler's own
// answer, or 202 with an ignored record for an event nobody handles.
func (h *webhookHandler) onResponse(w http.ResponseWriter, r *http.Request, event string, handled bool) {
	info := requestInfoFrom(r.Context())
	info.verified = true
	if handled {
		if res := githubapp.GetResponder(r.Context()); res != nil {
			res(w, r)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"message": StatusProcessed})
		return
	}
	// The dispatcher has checked the signature; take the JSON payload out
	// of the body the same way it did (it may be form-encoded).
	again := r.Clone(r.Context())
	again.Body = io.NopCloser(bytes.NewReader(info.body))
	payload, err := github.ValidatePayload(again, []byte(h.secret))
	if err != nil {
		info.setStatus(statusInvalid)
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"message": "invalid webhook request"})
		return
	}
	d, err := newDelivery(event, r.Header.Get("X-GitHub-Delivery"), payload)
	if err != nil || d.id == "" {
		if err == nil {
			err = errors.New("missing X-GitHub-Delivery header")
		}
		info.setStatus(statusInvalid)
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	info.setDelivery(d)
	inserted, err := recordIgnored(r.Context(), h.db, d)
	if err != nil {
		zerolog.Ctx(r.Context()).Error().Err(err).Msg("record ignored delivery")
		info.setStatus(StatusFailed)
		httpjson.Write(w, http.StatusInternalServerError, map[string]string{"message": "could not record delivery"})
		return
	}
	if !inserted {
		// A redelivery of a GUID already stored, like any other.
		info.setStatus(statusDuplicate)
		httpjson.Write(w, http.StatusOK, map[string]string{"message": duplicate})
		return
	}
	info.setStatus(StatusIgnored)
	httpjson.Write(w, http.StatusAccepted, map[string]string{"message": "ignored: no handler for " + event})
}

type codeRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (c *codeRecorder) WriteHeader(code int) {
	if !c.wrote {
		c.code, c.wrote = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	c.wrote = true
	return c.ResponseWriter.Write(b)
}

func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }
