package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}

func TestPing(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, name := range []string{"ping/payload.json", "ping/with-app_id.payload.json"} {
		t.Run(name, func(t *testing.T) {
			body := fixture(t, name)
			id, res := h.mustDeliver(t, "ping", body, http.StatusOK)
			var got map[string]string
			if err := json.Unmarshal([]byte(res.body), &got); err != nil || got["message"] != "pong" {
				t.Fatalf("body = %q, want {\"message\":\"pong\"}", res.body)
			}
			row, ok := loadDelivery(t, env.DB, id, body)
			if !ok {
				t.Fatal("ping not recorded")
			}
			if row.Event != "ping" || row.Status != StatusProcessed || !row.PayloadEqual || row.RepoID.Int64 != 186853261 {
				t.Fatalf("recorded %+v", row)
			}
		})
	}
}

// TestRejected covers every request refused before anything is stored.
func TestRejected(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	body := fixture(t, "issues/opened.payload.json")
	truncated := body[:len(body)/2]
	huge := bytes.Repeat([]byte(" "), 30<<20)
	copy(huge, `{"action":"opened","zen":"`)
	tests := []struct {
		name       string
		event      string
		signature  string
		body       []byte
		want       int
		wantStored bool // a failed delivery is recorded, nothing else
	}{
		{name: "wrong signature", event: "issues", signature: sign("not the secret", body), body: body, want: http.StatusUnauthorized},
		{name: "signature of other bytes", event: "issues", signature: sign(testSecret, truncated), body: body, want: http.StatusUnauthorized},
		{name: "malformed signature", event: "issues", signature: "sha256=zz", body: body, want: http.StatusUnauthorized},
		{name: "sha1 signature only", event: "issues", signature: "", body: body, want: http.StatusUnauthorized},
		{name: "missing signature", event: "issues", body: body, want: http.StatusUnauthorized},
		{name: "missing event header", event: "", signature: sign(testSecret, body), body: body, want: http.StatusBadRequest},
		{name: "truncated JSON", event: "issues", signature: sign(testSecret, truncated), body: truncated, want: http.StatusBadRequest, wantStored: true},
		{name: "not JSON at all", event: "issues", signature: sign(testSecret, []byte("hello")), body: []byte("hello"), want: http.StatusBadRequest, wantStored: true},
		{name: "30 MiB body", event: "issues", signature: sign(testSecret, huge), body: huge, want: http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env.Truncate(t)
			id := h.newID(t)
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/replication", bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Delivery", id)
			if tc.event != "" {
				req.Header.Set("X-GitHub-Event", tc.event)
			}
			if tc.signature != "" {
				req.Header.Set("X-Hub-Signature-256", tc.signature)
			}
			if tc.name == "sha1 signature only" {
				req.Header.Set("X-Hub-Signature", "sha1=0000")
			}
			res, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatalf("post: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
			counts := rowCounts(t, env.DB)
			for table, n := range counts {
				want := 0
				if table == "webhook_delivery" && tc.wantStored {
					want = 1
				}
				if n != want {
					t.Errorf("%s has %d rows, want %d", table, n, want)
				}
			}
			if tc.wantStored {
				row, ok := loadDelivery(t, env.DB, id, nil)
				if !ok || row.Status != StatusFailed || !row.Error.Valid || row.HasPayload {
					t.Errorf("recorded %+v, want failed with an error and no payload", row)
				}
			}
		})
	}
}

func TestUnknownEventIgnored(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	body := []byte(`{"action":"created","starred_at":"2019-05-15T15:20:40Z","repository":{"id":186853002},"installation":{"id":7}}`)
	// The first is recorded as ignored (202), without its payload: no
	// handler would read it. Redeliveries of that GUID change nothing
	// (200, like every GUID already stored).
	for i, want := range []int{http.StatusAccepted, http.StatusOK, http.StatusOK} {
		res := h.deliver(t, "star", "star-1", body)
		if res.code != want {
			t.Fatalf("delivery %d: status %d (%s), want %d", i+1, res.code, res.body, want)
		}
	}
	row, ok := loadDelivery(t, env.DB, "star-1", body)
	if !ok {
		t.Fatal("not recorded")
	}
	if row.Event != "star" || row.Status != StatusIgnored || row.Action.String != "created" ||
		row.InstallationID.Int64 != 7 || row.RepoID.Int64 != 186853002 || row.HasPayload {
		t.Fatalf("recorded %+v", row)
	}
	if n := count(t, env.DB, "webhook_delivery", ""); n != 1 {
		t.Fatalf("%d deliveries recorded, want 1", n)
	}
	if got := counterValue(t, h.handler.metrics.deliveries.WithLabelValues("star", StatusIgnored)); got != 1 {
		t.Fatalf("ignored star deliveries counted %v, want 1", got)
	}
	if got := counterValue(t, h.handler.metrics.deliveries.WithLabelValues("star", statusDuplicate)); got != 2 {
		t.Fatalf("duplicate star deliveries counted %v, want 2", got)
	}
}

func TestNoSecretRefusesEverything(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	h.handler.secret = ""
	body := fixture(t, "ping/payload.json")
	// Signed with the empty key: go-github would accept it were the
	// secret not checked first.
	res := h.post(t, "ping", "p-1", sign("", body), body)
	if res.code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", res.code)
	}
	if n := count(t, env.DB, "webhook_delivery", ""); n != 0 {
		t.Fatalf("%d deliveries recorded, want 0", n)
	}
}

func TestMetricsCountUnverifiedApart(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	body := fixture(t, "ping/payload.json")
	h.post(t, "made-up-event", "m-1", sign("wrong", body), body)
	if got := counterValue(t, h.handler.metrics.deliveries.WithLabelValues("unverified", statusUnauthorized)); got != 1 {
		t.Fatalf("unauthorized counted %v, want 1", got)
	}
	text, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range text {
		if strings.Contains(mf.String(), "made-up-event") {
			t.Fatalf("an unverified event name reached the metrics: %s", mf.GetName())
		}
	}
}

// TestFormEncodedDelivery: a hook configured with the form content type
// sends the JSON in a payload field, signed over the form body.
func TestFormEncodedDelivery(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	payload := fixture(t, "label/created.payload.json")
	form := []byte(url.Values{"payload": {string(payload)}}.Encode())
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/api/github/hook", bytes.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-GitHub-Event", "label")
	req.Header.Set("X-GitHub-Delivery", "form-1")
	req.Header.Set("X-Hub-Signature-256", sign(testSecret, form))
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if d, ok := loadDelivery(t, env.DB, "form-1", payload); !ok || !d.PayloadEqual || d.Status != StatusProcessed {
		t.Fatalf("recorded %+v", d)
	}
	if n := count(t, env.DB, "github_issue_label", ""); n != 1 {
		t.Fatalf("%d labels stored", n)
	}
}

func TestMetricsRegistered(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.mustDeliver(t, "ping", fixture(t, "ping/payload.json"), http.StatusOK)
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range families {
		seen[mf.GetName()] = true
	}
	for _, name := range []string{"webhookdb_webhook_deliveries_total", "webhookdb_webhook_delivery_duration_seconds"} {
		if !seen[name] {
			t.Errorf("metric %s not on the registry", name)
		}
	}
	if got := counterValue(t, h.handler.metrics.deliveries.WithLabelValues("ping", StatusProcessed)); got != 1 {
		t.Fatalf("processed pings counted %v, want 1", got)
	}
	// A second endpoint on the same registry shares the collectors
	// instead of panicking on a duplicate registration.
	again := newMetrics(h.reg, h.handler.logger)
	if again.deliveries != h.handler.metrics.deliveries {
		t.Fatal("second endpoint did not reuse the registered counter")
	}
}
