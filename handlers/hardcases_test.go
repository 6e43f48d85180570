package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// edit decodes a payload, lets f change it, and encodes it again. Numbers
// stay exact.
func edit(t testing.TB, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode payload: %v", err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode payload: %v", err)
	}
	return out
}

func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

func TestSameDeliveryThreeTimes(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	body := fixture(t, "issues/labeled.payload.json")
	var ev github.IssuesEvent
	mustUnmarshal(t, body, &ev)

	var first map[string]int
	var stamp any
	for i := 0; i < 3; i++ {
		res := h.deliver(t, "issues", "same-guid", body)
		want := `{"message":"processed"}`
		if i > 0 {
			want = `{"message":"duplicate"}`
		}
		if res.code != http.StatusOK || strings.TrimSpace(res.body) != want {
			t.Fatalf("delivery %d: %d %s, want 200 %s", i+1, res.code, res.body, want)
		}
		counts := rowCounts(t, env.DB)
		row := loadRow(t, env.DB, "github_issue", "id = $1", ev.Issue.GetID())
		if i == 0 {
			first, stamp = counts, row["last_replicated_via_webhook_at"]
			continue
		}
		for table, n := range counts {
			if first[table] != n {
				t.Errorf("delivery %d: %s has %d rows, had %d", i+1, table, n, first[table])
			}
		}
		if row["last_replicated_via_webhook_at"] != stamp {
			t.Errorf("delivery %d rewrote the issue: stamp %v, was %v", i+1, row["last_replicated_via_webhook_at"], stamp)
		}
	}
	d, _ := loadDelivery(t, env.DB, "same-guid", body)
	if d.Status != StatusProcessed {
		t.Fatalf("delivery status %s", d.Status)
	}
	if got := counterValue(t, h.handler.metrics.deliveries.WithLabelValues("issues", statusDuplicate)); got != 2 {
		t.Fatalf("duplicates counted %v, want 2", got)
	}
}

// TestConcurrentCopiesApplyOnce sends copies of one delivery at once: one
// applies, the others find it done.
func TestConcurrentCopiesApplyOnce(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	body := fixture(t, "pull_request/closed.payload.json")
	const copies = 6
	var wg sync.WaitGroup
	codes := make([]int, copies)
	bodies := make([]string, copies)
	for i := 0; i < copies; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res := h.deliver(t, "pull_request", "concurrent-guid", body)
			codes[i], bodies[i] = res.code, strings.TrimSpace(res.body)
		}(i)
	}
	wg.Wait()
	processed := 0
	for i := range codes {
		if codes[i] != http.StatusOK {
			t.Fatalf("copy %d: %d %s", i, codes[i], bodies[i])
		}
		if bodies[i] == `{"message":"processed"}` {
			processed++
		}
	}
	if processed != 1 {
		t.Fatalf("%d copies processed, want 1: %v", processed, bodies)
	}
	// The pull request was written by the one delivery that claimed it.
	var same bool
	err := env.DB.QueryRow(`SELECT pr.last_replicated_via_webhook_at = d.received_at
FROM github_pull_request pr, webhook_delivery d WHERE pr.id = 279147437 AND d.delivery_id = 'concurrent-guid'`).Scan(&same)
	if err != nil || !same {
		t.Fatalf("pull request stamped by another copy than the recorded one (%v)", err)
	}
}

func TestOlderUpdateIsStale(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	base := fixture(t, "pull_request/closed.payload.json")
	version := func(updated, title, state string) []byte {
		return edit(t, base, func(m map[string]any) {
			pr := obj(m, "pull_request")
			pr["updated_at"], pr["title"], pr["state"] = updated, title, state
		})
	}
	newer := version("2019-05-15T16:00:00Z", "the newer title", "closed")
	older := version("2019-05-15T15:00:00Z", "the older title", "open")

	h.mustDeliver(t, "pull_request", newer, http.StatusOK)
	id, res := h.mustDeliver(t, "pull_request", older, http.StatusOK)
	if strings.TrimSpace(res.body) != `{"message":"stale"}` {
		t.Fatalf("older delivery answered %s, want stale", res.body)
	}
	if d, _ := loadDelivery(t, env.DB, id, older); d.Status != StatusStale {
		t.Fatalf("older delivery recorded %s, want stale", d.Status)
	}
	assertRow(t, env.DB, "github_pull_request", "id = $1", []any{279147437}, fields{
		"title": "the newer title", "state": "closed", "updated_at": time.Date(2019, 5, 15, 16, 0, 0, 0, time.UTC),
	})
}

// TestNestedUserOlderThanStored: a pull request's user, as a payload nests
// it, carries less than the user stored from the API; the stored fields
// stay and the pull request is still written.
func TestNestedUserOlderThanStored(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	body := fixture(t, "pull_request/opened.payload.json")
	var ev github.PullRequestEvent
	mustUnmarshal(t, body, &ev)
	u := ev.PullRequest.User
	full := &github.User{
		ID: u.ID, Login: u.Login, Type: u.Type, Name: github.String("The Codertocat"),
		Company: github.String("GitHub"), Location: github.String("Octoverse"),
		CreatedAt: &github.Timestamp{Time: time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)},
		UpdatedAt: &github.Timestamp{Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	if _, err := process.User(context.Background(), env.DB, full, process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()}); err != nil {
		t.Fatalf("store user: %v", err)
	}
	id, _ := h.mustDeliver(t, "pull_request", body, http.StatusOK)
	if d, _ := loadDelivery(t, env.DB, id, body); d.Status != StatusProcessed {
		t.Fatalf("delivery %s, want processed: the user's age must not block the pull request", d.Status)
	}
	assertRow(t, env.DB, "github_user", "id = $1", []any{u.GetID()}, fields{
		"login": u.GetLogin(), "name": "The Codertocat", "company": "GitHub", "location": "Octoverse",
		"updated_at": full.UpdatedAt.Time,
	})
	assertRow(t, env.DB, "github_pull_request", "id = $1", []any{ev.PullRequest.GetID()}, pullRequestFields(ev.PullRequest))
}

// TestIssueThatIsAPullRequest: GitHub sends a pull request's conversation
// comments as issue comments whose issue is the pull request.
func TestIssueThatIsAPullRequest(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	prBody := fixture(t, "pull_request/opened.payload.json")
	var pr github.PullRequestEvent
	mustUnmarshal(t, prBody, &pr)
	h.mustDeliver(t, "pull_request", prBody, http.StatusOK)

	comment := edit(t, fixture(t, "issue_comment/created.payload.json"), func(m map[string]any) {
		is := obj(m, "issue")
		is["id"] = json.Number("999000111")
		is["number"] = json.Number("2")
		is["title"] = "Update the README with new information."
		is["pull_request"] = map[string]any{
			"url":      "https://api.github.com/repos/Codertocat/Hello-World/pulls/2",
			"html_url": "https://github.com/Codertocat/Hello-World/pull/2",
		}
		obj(m, "comment")["issue_url"] = "https://api.github.com/repos/Codertocat/Hello-World/issues/2"
	})
	var ev github.IssueCommentEvent
	mustUnmarshal(t, comment, &ev)
	h.mustDeliver(t, "issue_comment", comment, http.StatusOK)

	assertRow(t, env.DB, "github_issue", "id = $1", []any{999000111}, fields{"number": 2, "is_pull_request": true, "repo_id": ev.Repo.GetID()})
	assertRow(t, env.DB, "github_issue_comment", "id = $1", []any{ev.Comment.GetID()}, issueCommentFields(ev.Repo.GetID(), 2, ev.Comment))
	// The pull request row is the pull request's, untouched by the issue.
	assertRow(t, env.DB, "github_pull_request", "id = $1", []any{pr.PullRequest.GetID()}, pullRequestFields(pr.PullRequest))
	if n := count(t, env.DB, "github_pull_request", ""); n != 1 {
		t.Fatalf("%d pull requests, want 1", n)
	}
}

func TestLabelRenamedWhileIssuesCarryIt(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	labeled := fixture(t, "issues/labeled.payload.json")
	var ev github.IssuesEvent
	mustUnmarshal(t, labeled, &ev)
	if len(ev.Issue.Labels) == 0 {
		t.Fatal("fixture issue has no labels")
	}
	old := ev.Issue.Labels[0]
	h.mustDeliver(t, "issues", labeled, http.StatusOK)

	renamed := edit(t, fixture(t, "label/edited.payload.json"), func(m map[string]any) {
		l := obj(m, "label")
		l["id"] = json.Number(jsonInt(old.GetID()))
		l["name"] = "renamed: " + old.GetName()
		l["color"] = "123456"
		m["changes"] = map[string]any{"name": map[string]any{"from": old.GetName()}}
	})
	h.mustDeliver(t, "label", renamed, http.StatusOK)

	want := []string{"renamed: " + old.GetName()}
	for _, l := range ev.Issue.Labels[1:] {
		want = append(want, l.GetName())
	}
	got := column(t, env.DB, `SELECT label_name FROM github_issue_label_association WHERE issue_id = $1`, ev.Issue.GetID())
	if strings.Join(got, ",") != strings.Join(sorted(want), ",") {
		t.Fatalf("issue labels %v, want %v", got, sorted(want))
	}
	if n := count(t, env.DB, "github_issue_label", "name = $1", old.GetName()); n != 0 {
		t.Fatalf("old label name still stored")
	}
	assertRow(t, env.DB, "github_issue_label", "id = $1", []any{old.GetID()}, fields{"name": "renamed: " + old.GetName(), "color": "123456"})
}

func TestDeletes(t *testing.T) {
	tests := []struct {
		name    string
		event   string
		fixture string
		// gone must hold no row after the delete, and one before.
		table, where string
		arg          func(body []byte) []any
		check        func(t *testing.T, h *harness, body []byte)
		// buried: the created payload delivered again after the delete
		// (a late, older update) must not bring the row back.
		buried bool
	}{
		{name: "issue", buried: true, event: "issues", fixture: "issues/opened.payload.json", table: "github_issue", where: "id = $1",
			arg: func(b []byte) []any { return []any{path(t, b, "issue", "id")} }},
		{name: "issue comment", buried: true, event: "issue_comment", fixture: "issue_comment/created.payload.json", table: "github_issue_comment", where: "id = $1",
			arg: func(b []byte) []any { return []any{path(t, b, "comment", "id")} }},
		{name: "label", buried: true, event: "label", fixture: "label/created.payload.json", table: "github_issue_label", where: "id = $1",
			arg: func(b []byte) []any { return []any{path(t, b, "label", "id")} }},
		{name: "milestone", buried: true, event: "milestone", fixture: "milestone/created.payload.json", table: "github_milestone", where: "id = $1",
			arg: func(b []byte) []any { return []any{path(t, b, "milestone", "id")} }},
		{name: "review comment", buried: true, event: "pull_request_review_comment", fixture: "pull_request_review_comment/created.payload.json", table: "github_pull_request_review_comment", where: "id = $1",
			arg: func(b []byte) []any { return []any{path(t, b, "comment", "id")} }},
		{name: "repository", event: "repository", fixture: "repository/publicized.payload.json", table: "github_repository", where: "id = $1",
			arg: func(b []byte) []any { return []any{path(t, b, "repository", "id")} }},
		{name: "installation", event: "installation", fixture: "installation/created.payload.json", table: "github_installation", where: "id = $1 AND deleted_at IS NULL",
			arg: func(b []byte) []any { return []any{path(t, b, "installation", "id")} },
			check: func(t *testing.T, h *harness, body []byte) {
				id := path(t, body, "installation", "id")
				if n := count(t, env.DB, "github_installation", "id = $1 AND deleted_at IS NOT NULL", id); n != 1 {
					t.Errorf("installation not kept as deleted")
				}
				if n := count(t, env.DB, "github_installation_repository", "installation_id = $1", id); n != 0 {
					t.Errorf("deleted installation still lists %d repositories", n)
				}
				if c := h.sched.Cancels(); len(c) != 1 || c[0] != id {
					t.Errorf("cancelled %v, want [%d]", c, id)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env.Truncate(t)
			h := newHarness(t, harnessOptions{})
			created := fixture(t, tc.fixture)
			h.mustDeliver(t, tc.event, created, http.StatusOK)
			if n := count(t, env.DB, tc.table, tc.where, tc.arg(created)...); n != 1 {
				t.Fatalf("before the delete %s has %d rows, want 1", tc.table, n)
			}
			deleted := edit(t, created, func(m map[string]any) { m["action"] = "deleted" })
			id, _ := h.mustDeliver(t, tc.event, deleted, http.StatusOK)
			if n := count(t, env.DB, tc.table, tc.where, tc.arg(created)...); n != 0 {
				t.Fatalf("after the delete %s has %d rows, want 0", tc.table, n)
			}
			if d, _ := loadDelivery(t, env.DB, id, deleted); d.Status != StatusProcessed || d.Action.String != "deleted" {
				t.Fatalf("delete recorded as %+v", d)
			}
			if tc.check != nil {
				tc.check(t, h, created)
			}
			if tc.buried {
				late := edit(t, created, func(m map[string]any) { m["action"] = "edited" })
				id, _ := h.mustDeliver(t, tc.event, late, http.StatusOK)
				if n := count(t, env.DB, tc.table, tc.where, tc.arg(created)...); n != 0 {
					t.Fatalf("an update delivered after the delete brought back %d rows of %s", n, tc.table)
				}
				if d, _ := loadDelivery(t, env.DB, id, late); d.Status != StatusStale {
					t.Fatalf("late update recorded as %q, want stale", d.Status)
				}
			}
		})
	}
}

// path reads an integer at a path of a payload.
func path(t testing.TB, body []byte, keys ...string) int64 {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("no number at %v", keys)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestInstallationSuspendAndUnsuspend(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	suspend := fixture(t, "installation/suspend.payload.json")
	var ev github.InstallationEvent
	mustUnmarshal(t, suspend, &ev)
	h.mustDeliver(t, "installation", suspend, http.StatusOK)
	assertRow(t, env.DB, "github_installation", "id = $1", []any{ev.Installation.GetID()}, fields{"suspended_at": tsv(ev.Installation.SuspendedAt)})
	if ev.Installation.SuspendedAt == nil {
		t.Fatal("fixture has no suspended_at")
	}
	h.mustDeliver(t, "installation", fixture(t, "installation/unsuspend.payload.json"), http.StatusOK)
	assertRow(t, env.DB, "github_installation", "id = $1", []any{ev.Installation.GetID()}, fields{"suspended_at": nil})
}

func TestMemberRemoved(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	added := edit(t, fixture(t, "member/added.payload.json"), func(m map[string]any) {
		m["changes"] = map[string]any{"permission": map[string]any{"to": "write"}}
	})
	h.mustDeliver(t, "member", added, http.StatusOK)
	user, repo := path(t, added, "member", "id"), path(t, added, "repository", "id")
	assertRow(t, env.DB, "github_user_repository_association", "user_id = $1 AND repo_id = $2", []any{user, repo},
		fields{"can_pull": true, "can_push": true, "can_admin": false})
	removed := edit(t, added, func(m map[string]any) { m["action"] = "removed"; delete(m, "changes") })
	h.mustDeliver(t, "member", removed, http.StatusOK)
	if n := count(t, env.DB, "github_user_repository_association", "user_id = $1 AND repo_id = $2", user, repo); n != 0 {
		t.Fatalf("removed member still associated")
	}
}

// TestReviewCommentOfUnknownReview: a comment whose review we never saw
// queues a fetch of the pull request's reviews; one whose review is stored
// does not.
func TestReviewCommentOfUnknownReview(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	comment := fixture(t, "pull_request_review_comment/created.payload.json")
	h.mustDeliver(t, "pull_request_review_comment", comment, http.StatusOK)
	want := []jobs.ScanRequest{{Kind: jobs.CollectionPullRequestReviews, InstallationID: 1, Owner: "Codertocat", Repo: "Hello-World", Number: 2, RequestedBy: "webhook"}}
	if got := h.sched.Scans(); !equalScans(got, want) {
		t.Fatalf("queued %+v, want %+v", got, want)
	}

	env.Truncate(t)
	h = newHarness(t, harnessOptions{})
	h.mustDeliver(t, "pull_request_review", fixture(t, "pull_request_review/submitted.payload.json"), http.StatusOK)
	h.mustDeliver(t, "pull_request_review_comment", comment, http.StatusOK)
	if got := h.sched.Scans(); len(got) != 0 {
		t.Fatalf("queued %+v for a comment of a stored review", got)
	}
}

// TestLabelDeletedAfterUnseenRename: the delete names the label by its new
// name, which the replica never heard of; the id still finds it.
func TestLabelDeletedAfterUnseenRename(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	created := fixture(t, "label/created.payload.json")
	h.mustDeliver(t, "label", created, http.StatusOK)
	deleted := edit(t, created, func(m map[string]any) {
		m["action"] = "deleted"
		obj(m, "label")["name"] = "a name we never saw"
	})
	h.mustDeliver(t, "label", deleted, http.StatusOK)
	if n := count(t, env.DB, "github_issue_label", ""); n != 0 {
		t.Fatalf("%d labels left, want 0", n)
	}
}
