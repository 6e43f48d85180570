package ghfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/google/uuid"
)

// The app's webhook: events built from the world under its lock, then
// signed and posted to the webhook URL after the lock is released, and
// recorded as deliveries.

// event is a webhook about to be sent.
type event struct {
	name, action string
	inst         *installation
	repo         *repo
	fields       map[string]any // the event's own keys (main object, changes...)
	body         []byte
}

// build renders the payload; the world lock is held.
func (w *world) build(e *event, sender *account) {
	m := map[string]any{"action": e.action, "sender": json.RawMessage(enc(w.user(sender)))}
	if e.action == "" {
		delete(m, "action")
	}
	for k, v := range e.fields {
		m[k] = v
	}
	if e.repo != nil {
		if _, ok := m["repository"]; !ok {
			m["repository"] = json.RawMessage(repoJSON(w.repository(e.repo)))
		}
		if e.repo.owner.isOrg {
			m["organization"] = w.org(e.repo.owner)
		}
	}
	if e.inst != nil {
		if _, ok := m["installation"]; !ok {
			m["installation"] = map[string]any{"id": e.inst.id, "node_id": nodeID("Installation", e.inst.id)}
		}
	}
	e.body = enc(m)
}

// repoEvent prepares an event about r, or nil if no installation covers r.
func (w *world) repoEvent(r *repo, name, action string, sender *account, fields map[string]any) *event {
	in := w.installationFor(r)
	if in == nil {
		return nil
	}
	e := &event{name: name, action: action, inst: in, repo: r, fields: fields}
	w.build(e, sender)
	return e
}

func raw(b []byte) json.RawMessage { return json.RawMessage(b) }

func (s *Server) fire(ctx context.Context, e *event) *Delivery {
	if e == nil {
		return nil
	}
	d := &Delivery{GUID: uuid.NewString(), Event: e.name, Action: e.action, Payload: e.body}
	if e.inst != nil {
		d.InstallationID = e.inst.id
	}
	if e.repo != nil {
		d.RepositoryID = e.repo.id
	}
	s.send(ctx, d)
	return d
}

// GitHub's own limits on deliveries. "Handling failed webhook deliveries"
// (docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries):
// a server that "takes longer than 10 seconds to respond" has the delivery
// recorded as a failure; "Viewing webhook deliveries" and "Redelivering
// webhooks" list and redeliver the deliveries of the past 3 days.
const (
	defaultWebhookTimeout    = 10 * time.Second
	defaultDeliveryRetention = 3 * 24 * time.Hour
)

// statusTimedOut is the delivery's status when the receiver did not answer
// within the timeout: "Troubleshooting webhooks" names it the "timed out"
// error, GitHub "terminates the connection and considers the delivery a
// failure". No answer came, so there is no status code (0).
const statusTimedOut = "timed out"

// send posts d synchronously to the webhook URL and records it. A missing
// URL or a failed connection is recorded, never returned: GitHub does not
// tell the person who made the change either. The receiver has
// Options.WebhookTimeout to answer, headers and body.
func (s *Server) send(ctx context.Context, d *Delivery) {
	d.RequestHeaders = map[string]string{
		"Accept":                                 "*/*",
		"Content-Type":                           "application/json",
		"User-Agent":                             "GitHub-Hookshot/ghfake",
		"X-GitHub-Delivery":                      d.GUID,
		"X-GitHub-Event":                         d.Event,
		"X-GitHub-Hook-ID":                       "1",
		"X-GitHub-Hook-Installation-Target-ID":   formatInt(s.opts.AppID),
		"X-GitHub-Hook-Installation-Target-Type": "integration",
		"X-Hub-Signature":                        signSHA1(s.opts.WebhookSecret, d.Payload),
		"X-Hub-Signature-256":                    Sign(s.opts.WebhookSecret, d.Payload),
	}
	d.DeliveredAt = s.ctl.now().UTC().Truncate(time.Second)
	target := s.ctl.webhookURL()
	start := time.Now()
	if target == "" {
		d.Error = "no webhook URL configured"
	} else {
		s.post(ctx, target, d)
	}
	d.Duration = time.Since(start)
	s.ctl.mu.Lock()
	d.ID = s.ctl.nextDelID
	s.ctl.nextDelID++
	s.ctl.deliveries = append(s.ctl.deliveries, d)
	s.pruneDeliveriesLocked()
	s.ctl.mu.Unlock()
	if s.opts.OnDelivery != nil {
		s.opts.OnDelivery(d)
	}
}

// post makes the HTTP request of d and records the answer in d.
func (s *Server) post(ctx context.Context, target string, d *Delivery) {
	tctx, cancel := context.WithTimeout(ctx, s.opts.WebhookTimeout)
	defer cancel()
	// timedOut: our deadline passed, not the caller's context ending.
	timedOut := func(err error) bool {
		var ne net.Error
		return ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()))
	}
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, target, bytes.NewReader(d.Payload))
	if err != nil {
		d.Error = fmt.Sprintf("build request: %v", err)
		return
	}
	for k, v := range d.RequestHeaders {
		req.Header.Set(k, v)
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		d.Error = err.Error()
		if timedOut(err) {
			d.Error = statusTimedOut
		}
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil && timedOut(err) {
		// The answer did not finish in time: GitHub drops the connection
		// and keeps no response.
		d.Error = statusTimedOut
		return
	}
	d.StatusCode = resp.StatusCode
	d.ResponseBody = body
	d.ResponseHeaders = map[string]string{}
	for k := range resp.Header {
		d.ResponseHeaders[k] = resp.Header.Get(k)
	}
}

// Sign is the X-Hub-Signature-256 value of body with the secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func signSHA1(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// SendEvent delivers an arbitrary payload (for example a real example from
// GitHub) as event, signed with the secret, and records it.
func (s *Server) SendEvent(ctx context.Context, event string, payload []byte) *Delivery {
	var head struct {
		Action       string `json:"action"`
		Installation struct {
			ID int64 `json:"id"`
		} `json:"installation"`
		Repository struct {
			ID int64 `json:"id"`
		} `json:"repository"`
	}
	_ = json.Unmarshal(payload, &head)
	d := &Delivery{GUID: uuid.NewString(), Event: event, Action: head.Action, InstallationID: head.Installation.ID, RepositoryID: head.Repository.ID, Payload: payload}
	s.send(ctx, d)
	return d
}

// Ping sends the ping event GitHub sends when the app's hook is set up
// (an app hook: no repository).
func (s *Server) Ping(ctx context.Context) *Delivery {
	api := s.APIURL() + "app/hook"
	at := ts(seedEpoch)
	s.mu.RLock()
	var sender *github.User
	for _, a := range s.w.accounts {
		if !a.isOrg {
			sender = s.w.user(a)
			break
		}
	}
	s.mu.RUnlock()
	body := map[string]any{"zen": "Keep it logically awesome.", "hook_id": 1, "hook": map[string]any{
		"type": "App", "id": 1, "name": "web", "active": true, "events": appEvents, "app_id": s.opts.AppID,
		"config":     map[string]any{"content_type": "json", "insecure_ssl": "0", "url": s.WebhookURL()},
		"updated_at": at, "created_at": at, "url": api + "/config", "test_url": api + "/test", "ping_url": api + "/pings",
		"deliveries_url": api + "/deliveries", "last_response": map[string]any{"code": nil, "status": "active", "message": nil}}}
	if sender != nil {
		body["sender"] = sender
	}
	return s.SendEvent(ctx, "ping", enc(body))
}
