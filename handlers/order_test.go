package handlers

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// Order without updated_at, through the webhook endpoint: a delivery's time
// is its arrival, or for one catch-up asked GitHub to redeliver, the time
// GitHub first sent it (catchup_request.delivered_at).

// askedByCatchUp records, as catch-up does, that GitHub is redelivering
// the delivery id first sent at sentAt.
func askedByCatchUp(t *testing.T, h *harness, id, event, action string, sentAt time.Time) {
	t.Helper()
	if _, err := h.db.Exec(`INSERT INTO catchup_request (guid, github_delivery_id, event, action, delivered_at)
		VALUES ($1, $2, $3, $4, $5)`, id, h.seq.Add(1), event, action, sentAt); err != nil {
		t.Fatalf("record catch-up request %s: %v", id, err)
	}
}

// deliverOK sends a signed delivery with the given GUID, answered 200.
func deliverOK(t *testing.T, h *harness, event, id string, body []byte) {
	t.Helper()
	if res := h.deliver(t, event, id, body); res.code != http.StatusOK {
		t.Fatalf("deliver %s %s: %d %s", event, id, res.code, res.body)
	}
}

func deliveryStatus(t *testing.T, h *harness, id string) string {
	t.Helper()
	var s string
	if err := h.db.QueryRow(`SELECT status FROM webhook_delivery WHERE delivery_id = $1`, id).Scan(&s); err != nil {
		t.Fatalf("status of delivery %s: %v", id, err)
	}
	return s
}

// TestMemberEventsOutOfOrder: GitHub's member payloads (removed made from
// added, GitHub shows no example of it), delivered out of order: an added
// first sent before a removal, recovered by catch-up after it, does not
// bring the collaborator back; a removed first sent before a newer added
// does not delete it; a redelivery of the same GUID changes nothing.
func TestMemberEventsOutOfOrder(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	added := fixture(t, "member/added.payload.json")
	var ev github.MemberEvent
	mustUnmarshal(t, added, &ev)
	removed := edit(t, added, func(m map[string]any) { m["action"] = "removed" })
	edited := edit(t, fixture(t, "member/edited.payload.json"), func(m map[string]any) {
		// The same collaborator and repository, now with the level GitHub
		// sends in changes.permission.
		src := mustMap(t, added)
		m["member"], m["repository"] = src["member"], src["repository"]
		m["changes"] = map[string]any{"permission": map[string]any{"from": "read", "to": "write"}}
	})
	assoc := func() int {
		return count(t, h.db, "github_user_repository_association", "user_id = $1 AND repo_id = $2",
			ev.Member.GetID(), ev.Repo.GetID())
	}
	start := time.Now().Add(-time.Hour)

	// The removal arrives now; the added GitHub sent before it comes late.
	h.mustDeliver(t, "member", removed, http.StatusOK)
	lateAdded := h.newID(t)
	askedByCatchUp(t, h, lateAdded, "member", "added", start)
	deliverOK(t, h, "member", lateAdded, added)
	if n := assoc(); n != 0 {
		t.Fatalf("a late added brought back a removed collaborator (%d rows)", n)
	}
	if s := deliveryStatus(t, h, lateAdded); s != StatusStale {
		t.Fatalf("late added stored as %s, want %s", s, StatusStale)
	}
	lateEdited := h.newID(t)
	askedByCatchUp(t, h, lateEdited, "member", "edited", start.Add(time.Minute))
	deliverOK(t, h, "member", lateEdited, edited)
	if n := assoc(); n != 0 {
		t.Fatalf("a late edited brought back a removed collaborator (%d rows)", n)
	}

	// A new added, sent after the removal, records the collaborator; its
	// redelivery is the same delivery.
	id, _ := h.mustDeliver(t, "member", edited, http.StatusOK)
	deliverOK(t, h, "member", id, edited)
	if n := assoc(); n != 1 {
		t.Fatalf("an added after the removal: %d rows, want 1", n)
	}
	assertRow(t, h.db, "github_user_repository_association", "user_id = $1 AND repo_id = $2",
		[]any{ev.Member.GetID(), ev.Repo.GetID()}, fields{"role_name": "write", "can_push": true})

	// A removed GitHub sent before that added, recovered late, keeps it.
	lateRemoved := h.newID(t)
	askedByCatchUp(t, h, lateRemoved, "member", "removed", start.Add(2*time.Minute))
	deliverOK(t, h, "member", lateRemoved, removed)
	if n := assoc(); n != 1 {
		t.Fatalf("a late removed deleted a newer collaboration (%d rows)", n)
	}

	// The next removal, sent now, ends it.
	h.mustDeliver(t, "member", removed, http.StatusOK)
	if n := assoc(); n != 0 {
		t.Fatalf("a new removed left the collaboration (%d rows)", n)
	}
}

// TestLateSubmittedKeepsDismissed: the report. A review's
// submitted delivered after its dismissed, late by arrival or recovered by
// catch-up, leaves it DISMISSED with the dismissed delivery's body.
func TestLateSubmittedKeepsDismissed(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	submitted := edit(t, fixture(t, "pull_request_review/submitted.payload.json"), func(m map[string]any) {
		r := obj(m, "review")
		r["state"], r["body"] = "approved", "looks good"
	})
	dismissed := edit(t, submitted, func(m map[string]any) {
		m["action"] = "dismissed"
		r := obj(m, "review")
		r["state"], r["body"] = "dismissed", "looks good, edited"
	})
	var ev github.PullRequestReviewEvent
	mustUnmarshal(t, submitted, &ev)
	want := fields{"state": "DISMISSED", "body": "looks good, edited"}

	h.mustDeliver(t, "pull_request_review", dismissed, http.StatusOK)
	id, _ := h.mustDeliver(t, "pull_request_review", submitted, http.StatusOK)
	assertRow(t, h.db, "github_pull_request_review", "id = $1", []any{ev.Review.GetID()}, want)
	if s := deliveryStatus(t, h, id); s != StatusStale {
		t.Fatalf("late submitted stored as %s, want %s", s, StatusStale)
	}
	recovered := h.newID(t)
	askedByCatchUp(t, h, recovered, "pull_request_review", "submitted", time.Now().Add(-time.Hour))
	deliverOK(t, h, "pull_request_review", recovered, submitted)
	assertRow(t, h.db, "github_pull_request_review", "id = $1", []any{ev.Review.GetID()}, want)
}
