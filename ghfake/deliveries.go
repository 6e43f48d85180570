package ghfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// Recorded webhook deliveries and the app's deliveries API
// (/app/hook/deliveries), which lists them and redelivers.

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

// Deliveries returns the deliveries the log keeps (see
// Options.DeliveryRetention), oldest first.
func (s *Server) Deliveries() []*Delivery {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	s.pruneDeliveriesLocked()
	out := make([]*Delivery, len(s.ctl.deliveries))
	copy(out, s.ctl.deliveries)
	return out
}

// Delivery returns one delivery by id, or nil (also once the log has
// dropped it).
func (s *Server) Delivery(id int64) *Delivery {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	s.pruneDeliveriesLocked()
	return s.ctl.deliveryLocked(id)
}

func (c *control) deliveryLocked(id int64) *Delivery {
	i := sort.Search(len(c.deliveries), func(i int) bool { return c.deliveries[i].ID >= id })
	if i < len(c.deliveries) && c.deliveries[i].ID == id {
		return c.deliveries[i]
	}
	return nil
}

func hookDelivery(d *Delivery, full bool) *github.HookDelivery {
	status := "OK"
	if !d.OK() {
		status = d.Error
		if status == "" {
			status = fmt.Sprintf("Invalid HTTP Response: %d", d.StatusCode)
		}
	}
	hd := &github.HookDelivery{ID: ptr(d.ID), GUID: ptr(d.GUID), DeliveredAt: ts(d.DeliveredAt), Redelivery: ptr(d.Redelivery),
		Duration: ptr(d.Duration.Seconds()), Status: ptr(status), StatusCode: ptr(d.StatusCode), Event: ptr(d.Event),
		Action: optional(d.Action)}
	if d.InstallationID != 0 {
		hd.InstallationID = ptr(d.InstallationID)
	}
	if d.RepositoryID != 0 {
		hd.RepositoryID = ptr(d.RepositoryID)
	}
	if full {
		p := json.RawMessage(d.Payload)
		hd.Request = &github.HookRequest{Headers: d.RequestHeaders, RawPayload: &p}
		rb := json.RawMessage(enc(string(d.ResponseBody)))
		hd.Response = &github.HookResponse{Headers: d.ResponseHeaders, RawPayload: &rb}
	}
	return hd
}

// deliveryNulls are the members GitHub sends as null where go-github's
// omitempty drops them: an event without action (ping), a delivery with
// no installation or repository, and throttled_at, which go-github v60 does
// not know (ghfake never throttles).
func deliveryNulls(d *Delivery) []member {
	ms := []member{{"throttled_at", rawNull}}
	if d.Action == "" {
		ms = append(ms, member{"action", rawNull})
	}
	if d.InstallationID == 0 {
		ms = append(ms, member{"installation_id", rawNull})
	}
	if d.RepositoryID == 0 {
		ms = append(ms, member{"repository_id", rawNull})
	}
	return ms
}

// deliveryItemJSON is one entry of the list.
func deliveryItemJSON(d *Delivery) []byte {
	return addMembers(enc(hookDelivery(d, false)), deliveryNulls(d)...)
}

// deliveryJSON is GET one delivery. GitHub always sends the response's
// headers ({} when there were none), which go-github's omitempty drops.
func deliveryJSON(d *Delivery) []byte {
	hd := hookDelivery(d, true)
	headers := rawEmptyMap
	if len(d.ResponseHeaders) > 0 {
		headers = enc(d.ResponseHeaders)
	}
	response := addMembers(rawEmptyMap, member{"headers", headers}, member{"payload", *hd.Response.RawPayload})
	hd.Response = nil
	return addMembers(enc(hd), append(deliveryNulls(d), member{"response", response})...)
}

// The list's cursor is opaque, as GitHub's is: clients pass back what the
// Link header gave them and cannot make one up. It encodes the id of the
// delivery the next page starts at.
const cursorPrefix = "ghfake-delivery:"

func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + formatInt(id)))
}

// decodeCursor is the id a cursor starts at; false for one this server
// never gave out.
func decodeCursor(c string) (int64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && id > 0
}

// listDeliveries is GET /app/hook/deliveries: newest first, per_page up to
// 100 (default 30), cursor paging through the Link header's rel="next", an
// optional status=success|failure. A cursor GitHub did not give out is a
// 400, not a silent first page.
func (s *Server) listDeliveries(c *reqCtx) resp {
	q := c.r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, 100)
	status := q.Get("status")
	if status != "" && status != "success" && status != "failure" {
		return errResp(http.StatusUnprocessableEntity, "Validation Failed")
	}
	var cursor int64
	if raw := q.Get("cursor"); raw != "" {
		var ok bool
		if cursor, ok = decodeCursor(raw); !ok {
			return errResp(http.StatusBadRequest, "Invalid cursor")
		}
	}
	all := s.Deliveries()
	var page []*Delivery
	var next int64
	// Newest first; the cursor is the id to continue at (it and below). A
	// cursor whose delivery the log has dropped since continues below it.
	for i := len(all) - 1; i >= 0; i-- {
		d := all[i]
		if cursor != 0 && d.ID > cursor {
			continue
		}
		if (status == "success" && !d.OK()) || (status == "failure" && d.OK()) {
			continue
		}
		if len(page) == per {
			next = d.ID
			break
		}
		page = append(page, d)
	}
	items := make([][]byte, 0, len(page))
	for _, d := range page {
		items = append(items, deliveryItemJSON(d))
	}
	out := resp{status: 200, body: array(items)}
	if next != 0 {
		q.Set("per_page", strconv.Itoa(per))
		q.Set("cursor", encodeCursor(next))
		out.link = "<" + s.w.base + c.r.URL.Path + "?" + q.Encode() + `>; rel="next"`
	}
	return out
}

func (s *Server) getDelivery(c *reqCtx) resp {
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	d := s.Delivery(id)
	if d == nil {
		return notFound()
	}
	return jsonResp(200, deliveryJSON(d))
}

func (s *Server) redeliver(c *reqCtx) resp {
	id, _ := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	// Accepted now, sent later (GitHub's 202 with an empty object), in the
	// background: the receiver may call back into the API meanwhile.
	if _, err := s.Redeliver(id); err != nil {
		return notFound()
	}
	return jsonResp(http.StatusAccepted, []byte("{}"))
}
