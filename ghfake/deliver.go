package ghfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"
)

// Delivery is one webhook delivery attempt, as GitHub records it.
type Delivery struct {
	ID             int64
	GUID           string // X-GitHub-Delivery; a redelivery keeps it
	Event          string
	Action         string
	InstallationID int64
	RepositoryID   int64
	DeliveredAt    time.Time
	Redelivery     bool
	Duration       time.Duration
	// StatusCode is the receiver's answer; 0 if it was not reached (no
	// webhook URL, or a transport error in Error).
	StatusCode      int
	Error           string
	RequestHeaders  map[string]string
	Payload         []byte
	ResponseHeaders map[string]string
	ResponseBody    []byte
}

// OK is true when the receiver answered 2xx.
func (d *Delivery) OK() bool { return d != nil && d.StatusCode >= 200 && d.StatusCode < 300 }

// Deliveries returns every delivery so far, oldest first.
func (s *Server) Deliveries() []*Delivery {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	out := make([]*Delivery, len(s.ctl.deliveries))
	copy(out, s.ctl.deliveries)
	return out
}

// Delivery returns one delivery by id, or nil.
func (s *Server) Delivery(id int64) *Delivery {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	return s.ctl.deliveryLocked(id)
}

func (c *control) deliveryLocked(id int64) *Delivery {
	i := sort.Search(len(c.deliveries), func(i int) bool { return c.deliveries[i].ID >= id })
	if i < len(c.deliveries) && c.deliveries[i].ID == id {
		return c.deliveries[i]
	}
	return nil
}

// Redeliver sends a recorded delivery again with the same GUID and payload
// and records the new attempt.
func (s *Server) Redeliver(ctx context.Context, id int64) (*Delivery, error) {
	old := s.Delivery(id)
	if old == nil {
		return nil, fmt.Errorf("redeliver %d: no such delivery", id)
	}
	d := &Delivery{GUID: old.GUID, Event: old.Event, Action: old.Action, InstallationID: old.InstallationID,
		RepositoryID: old.RepositoryID, Redelivery: true, Payload: old.Payload}
	s.send(ctx, d)
	return d, nil
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

// send posts d synchronously to the webhook URL and records it. A missing
// URL or a failed connection is recorded, never returned: GitHub does not
// tell the person who made the change either.
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
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.Payload))
		if err != nil {
			d.Error = fmt.Sprintf("build request: %v", err)
		} else {
			for k, v := range d.RequestHeaders {
				req.Header.Set(k, v)
			}
			resp, err := s.opts.HTTPClient.Do(req)
			if err != nil {
				d.Error = err.Error()
			} else {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				d.StatusCode = resp.StatusCode
				d.ResponseBody = body
				d.ResponseHeaders = map[string]string{}
				for k := range resp.Header {
					d.ResponseHeaders[k] = resp.Header.Get(k)
				}
			}
		}
	}
	d.Duration = time.Since(start)
	s.ctl.mu.Lock()
	d.ID = s.ctl.nextDelID
	s.ctl.nextDelID++
	s.ctl.deliveries = append(s.ctl.deliveries, d)
	s.ctl.mu.Unlock()
	if s.opts.OnDelivery != nil {
		s.opts.OnDelivery(d)
	}
}
