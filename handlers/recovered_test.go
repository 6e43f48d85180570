package handlers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/volatiletech/sqlboiler/v4/boil"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/models"
)

// TestRecoveredDeliveryRefreshesItsObject: a delivery that catch-up asked
// GitHub to redeliver may arrive out of order with others of its second,
// which no time GitHub gives can order; its object is fetched again after
// the answer. The same delivery arriving by itself queues no such fetch.
func TestRecoveredDeliveryRefreshesItsObject(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		event, fixture string
		want           jobs.ScanRequest
	}{
		{"pull_request", "pull_request/labeled.payload.json",
			jobs.ScanRequest{Kind: jobs.JobSyncPullRequest, Owner: "Codertocat", Repo: "Hello-World", Number: 2}},
		{"issues", "issues/edited.payload.json",
			jobs.ScanRequest{Kind: jobs.JobSyncIssue, Owner: "Codertocat", Repo: "Hello-World", Number: 1}},
		{"issue_comment", "issue_comment/created.payload.json",
			jobs.ScanRequest{Kind: jobs.JobSyncIssue, Owner: "Codertocat", Repo: "Hello-World", Number: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			body := edit(t, fixture(t, tc.fixture), func(m map[string]any) { m["installation"] = map[string]any{"id": 77} })
			tc.want.InstallationID, tc.want.RequestedBy = 77, "catchup"

			// By itself: no refresh.
			h.mustDeliver(t, tc.event, body, http.StatusOK)
			for _, q := range h.sched.Scans() {
				if q.RequestedBy == "catchup" {
					t.Fatalf("a delivery arriving by itself queued %+v", q)
				}
			}

			// Asked for by catch-up (its request is recorded before the
			// redelivery arrives): the object is fetched again.
			guid := h.newID(t)
			req := &models.CatchupRequest{GUID: guid, GithubDeliveryID: 1, Event: tc.event, DeliveredAt: time.Now().Add(-time.Hour)}
			if err := req.Insert(ctx, env.DB, boil.Infer()); err != nil {
				t.Fatal(err)
			}
			before := len(h.sched.Scans())
			if res := h.deliver(t, tc.event, guid, body); res.code != http.StatusOK {
				t.Fatalf("redelivery: %d %s", res.code, res.body)
			}
			found := false
			for _, q := range h.sched.Scans()[before:] {
				found = found || q == tc.want
			}
			if !found {
				t.Errorf("queued %+v, want %+v", h.sched.Scans()[before:], tc.want)
			}
		})
	}
}
