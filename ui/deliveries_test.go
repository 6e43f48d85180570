package ui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/volatiletech/null/v8"

	"github.com/webhookdb/webhookdb/models"
)

const redeliverRoute = "POST /app/hook/deliveries/{id}/attempts"

func TestDeliveriesPage(t *testing.T) {
	s := newPagesSite(t)
	ctx := context.Background()
	b := s.login(t, "user-0")
	// A delivery GitHub's log holds as failed (ghfake has no webhook URL).
	payload, _ := json.Marshal(map[string]any{"action": "opened", "installation": map[string]any{"id": s.instP}})
	sent := s.gh.SendEvent(ctx, "issues", payload)
	for _, d := range []models.WebhookDelivery{
		{DeliveryID: sent.GUID, Event: "issues", Action: null.StringFrom("opened"), InstallationID: null.Int64From(s.instP),
			Status: "failed", Error: null.StringFrom("could not store")},
		{DeliveryID: "guid-processed", Event: "label", Action: null.StringFrom("created"), InstallationID: null.Int64From(s.instP), Status: "processed"},
		{DeliveryID: "guid-gave-up", Event: "issues", InstallationID: null.Int64From(s.instP), Status: "failed",
			GaveUpAt: null.TimeFrom(time.Now())},
		{DeliveryID: "guid-recovered", Event: "issues", InstallationID: null.Int64From(s.instP), Status: "processed",
			RecoveredBy: null.StringFrom("replay")},
		// Another installation's: never shown to user-0, nor redelivered.
		{DeliveryID: "guid-elsewhere", Event: "issues", InstallationID: null.Int64From(s.instP + 1000), Status: "failed"},
	} {
		insertDelivery(t, d)
	}
	redeliverForm := func(guid string) string { return `action="/deliveries/` + guid + `/redeliver"` }

	tests := []struct {
		query         string
		shown, hidden []string
	}{
		{"", []string{sent.GUID, "guid-processed", "guid-gave-up", "gave up", "recovered by replay", redeliverForm(sent.GUID)},
			[]string{"guid-elsewhere", redeliverForm("guid-processed")}},
		{"?status=failed", []string{sent.GUID, "guid-gave-up", `<option value="failed" selected>`}, []string{"guid-processed", "guid-elsewhere"}},
		{"?status=processed", []string{"guid-processed"}, []string{sent.GUID, "guid-elsewhere"}},
		{"?status=bogus", []string{sent.GUID, "guid-processed"}, []string{"guid-elsewhere"}},
	}
	for _, tc := range tests {
		code, _, body := s.do(t, b, http.MethodGet, "/deliveries"+tc.query, nil)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.query, code, body)
		}
		for _, want := range tc.shown {
			if !strings.Contains(body, want) {
				t.Errorf("/deliveries%s does not show %q", tc.query, want)
			}
		}
		for _, not := range tc.hidden {
			if strings.Contains(body, not) {
				t.Errorf("/deliveries%s shows %q", tc.query, not)
			}
		}
	}

	asked := func() int { return s.gh.Stats().ByRoute[redeliverRoute].Requests }
	path := "/deliveries/" + sent.GUID + "/redeliver"
	for _, form := range []url.Values{{}, {"csrf_token": {strings.Repeat("0", len(b.csrf))}}} {
		if code, _, _ := s.do(t, b, http.MethodPost, path, form); code != http.StatusForbidden {
			t.Errorf("redeliver with CSRF %q: %d, want 403", form.Get("csrf_token"), code)
		}
	}
	if asked() != 0 {
		t.Fatalf("GitHub was asked to redeliver without a CSRF token")
	}
	// Another installation's GUID, and one that does not exist: 404.
	for _, guid := range []string{"guid-elsewhere", "guid-none"} {
		if code, _, _ := s.do(t, b, http.MethodPost, "/deliveries/"+guid+"/redeliver", url.Values{"csrf_token": {b.csrf}}); code != http.StatusNotFound {
			t.Errorf("redeliver %s: %d, want 404", guid, code)
		}
	}
	code, h, _ := s.do(t, b, http.MethodPost, path, url.Values{"csrf_token": {b.csrf}, "status": {"failed"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/deliveries?redelivered="+sent.GUID+"&status=failed" {
		t.Fatalf("redeliver: %d to %q", code, h.Get("Location"))
	}
	if asked() != 1 {
		t.Errorf("GitHub was asked %d times to redeliver, want 1", asked())
	}
	req, err := models.FindCatchupRequest(ctx, env.DB, sent.GUID)
	if err != nil {
		t.Fatalf("no catch-up request recorded: %v", err)
	}
	if !req.DeliveredAt.Equal(sent.DeliveredAt.Truncate(time.Second)) && !req.DeliveredAt.Equal(sent.DeliveredAt) {
		t.Errorf("catch-up request delivered_at %v, want the first attempt's %v", req.DeliveredAt, sent.DeliveredAt)
	}
	if req.GithubDeliveryID != sent.ID || req.Event != "issues" || req.InstallationID.Int64 != s.instP {
		t.Errorf("catch-up request %+v", req)
	}
	_, _, body := s.do(t, b, http.MethodGet, h.Get("Location"), nil)
	if !strings.Contains(body, "Asked GitHub to redeliver "+sent.GUID) {
		t.Errorf("no flash after the redelivery: %s", body)
	}
	if err := s.gh.WaitRedeliveries(ctx); err != nil {
		t.Fatal(err)
	}
}
