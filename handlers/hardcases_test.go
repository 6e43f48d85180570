package handlers

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/internal/testutil"
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

// proxiedDB opens a pool on the test database through proxy.
func proxiedDB(t testing.TB, proxy *testutil.Proxy) *sql.DB {
	t.Helper()
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = proxy.Addr()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDatabaseGoesAwayMidDelivery cuts the database after the delivery's
// rows are written and before its commit: 5xx, nothing half-written; once
// the database is back the redelivery succeeds.
func TestDatabaseGoesAwayMidDelivery(t *testing.T) {
	env.Truncate(t)
	proxy := testutil.NewProxy(t, "127.0.0.1:5432")
	var cut sync.Once
	hk := &hooks{beforeCommit: func() error {
		cut.Do(proxy.Down)
		return nil
	}}
	h := newHarness(t, harnessOptions{db: proxiedDB(t, proxy), hooks: hk})
	body := fixture(t, "pull_request/opened.payload.json")

	res := h.deliver(t, "pull_request", "db-goes-away", body)
	if res.code < 500 {
		t.Fatalf("status %d (%s), want 5xx", res.code, res.body)
	}
	for table, n := range rowCounts(t, env.DB) {
		if n != 0 {
			t.Errorf("after the failed delivery %s has %d rows, want 0", table, n)
		}
	}
	proxy.Up()
	res = h.deliver(t, "pull_request", "db-goes-away", body)
	if res.code != http.StatusOK {
		t.Fatalf("redelivery: %d %s, want 200", res.code, res.body)
	}
	var ev github.PullRequestEvent
	mustUnmarshal(t, body, &ev)
	assertRow(t, env.DB, "github_pull_request", "id = $1", []any{ev.PullRequest.GetID()}, pullRequestFields(ev.PullRequest))
	if d, _ := loadDelivery(t, env.DB, "db-goes-away", body); d.Status != StatusProcessed {
		t.Fatalf("redelivery recorded %s", d.Status)
	}
}

// TestFailedDeliveryIsRecordedAndRedelivered: a failure after the effect
// rolls the effect back, records the delivery as failed, and a redelivery
// of that GUID is processed.
func TestFailedDeliveryIsRecordedAndRedelivered(t *testing.T) {
	env.Truncate(t)
	fail := true
	hk := &hooks{beforeCommit: func() error {
		if fail {
			return errors.New("simulated failure")
		}
		return nil
	}}
	h := newHarness(t, harnessOptions{hooks: hk})
	body := fixture(t, "issues/opened.payload.json")
	res := h.deliver(t, "issues", "fails-once", body)
	if res.code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", res.code)
	}
	d, ok := loadDelivery(t, env.DB, "fails-once", body)
	if !ok || d.Status != StatusFailed || !strings.Contains(d.Error.String, "simulated failure") || !d.PayloadEqual {
		t.Fatalf("recorded %+v, want failed with the error and the payload", d)
	}
	for table, n := range rowCounts(t, env.DB) {
		if table != "webhook_delivery" && n != 0 {
			t.Errorf("failed delivery left %d rows in %s", n, table)
		}
	}
	fail = false
	if res := h.deliver(t, "issues", "fails-once", body); res.code != http.StatusOK {
		t.Fatalf("redelivery %d %s", res.code, res.body)
	}
	d, _ = loadDelivery(t, env.DB, "fails-once", body)
	if d.Status != StatusProcessed || d.Error.Valid {
		t.Fatalf("redelivery recorded %+v", d)
	}
	if n := count(t, env.DB, "github_issue", ""); n != 1 {
		t.Fatalf("%d issues after the redelivery, want 1", n)
	}
}

// TestSchedulerFailureDoesNotFailDelivery: the data is stored; a job that
// could not be queued is logged, and the next scan catches up.
func TestSchedulerFailureDoesNotFailDelivery(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{})
	h.sched.err = errors.New("redis is down")
	body := fixture(t, "installation/created.payload.json")
	id, _ := h.mustDeliver(t, "installation", body, http.StatusOK)
	if d, _ := loadDelivery(t, env.DB, id, body); d.Status != StatusProcessed {
		t.Fatalf("recorded %s", d.Status)
	}
	if len(h.sched.Scans()) != 1 {
		t.Fatalf("scan not attempted")
	}
	if n := count(t, env.DB, "github_installation", ""); n != 1 {
		t.Fatalf("installation not stored")
	}
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

// TestRealSchedulerQueuesFollowUps runs the follow-up work through the jobs
// package's real Scheduler (PostgreSQL and Redis): every request the
// handlers make is one it accepts, and deleting the installation ends its
// scans.
func TestRealSchedulerQueuesFollowUps(t *testing.T) {
	env.Truncate(t)
	sched := jobs.NewScheduler(jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: env.Namespace + ":followups"})
	h := newHarness(t, harnessOptions{scheduler: sched})
	install := fixture(t, "installation/created.payload.json")
	h.mustDeliver(t, "installation", install, http.StatusOK)
	h.mustDeliver(t, "installation_repositories", fixture(t, "installation_repositories/added.payload.json"), http.StatusOK)
	h.mustDeliver(t, "pull_request", fixture(t, "pull_request/opened.payload.json"), http.StatusOK)
	h.mustDeliver(t, "pull_request_review_comment", fixture(t, "pull_request_review_comment/created.payload.json"), http.StatusOK)

	got := column(t, env.DB, `SELECT kind || ' ' || status FROM scan`)
	want := []string{"pull_request_files queued", "pull_request_reviews queued", "repositories queued", "sync_repository queued"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("scans %v, want %v", got, want)
	}

	h.mustDeliver(t, "installation", edit(t, install, func(m map[string]any) { m["action"] = "deleted" }), http.StatusOK)
	got = column(t, env.DB, `SELECT kind || ' ' || status FROM scan WHERE installation_id = $1`, path(t, install, "installation", "id"))
	for _, s := range got {
		if !strings.HasSuffix(s, " failed") {
			t.Fatalf("after the uninstall the installation's scans are %v, want all failed", got)
		}
	}
	if len(got) == 0 {
		t.Fatal("no scans of the installation")
	}
}

// TestFollowUpSurvivesQueueOutage: the follow-up scan is committed with the
// delivery, so when Redis is unreachable at that moment the delivery still
// succeeds and the sweeper starts the scan once Redis answers again.
func TestFollowUpSurvivesQueueOutage(t *testing.T) {
	env.Truncate(t)
	ns := env.Namespace + ":outage"
	down := &redis.Pool{Dial: func() (redis.Conn, error) {
		return redis.Dial("tcp", "127.0.0.1:1") // nothing listens there
	}}
	defer down.Close()
	h := newHarness(t, harnessOptions{scheduler: jobs.NewScheduler(jobs.Deps{DB: env.DB, Redis: down, Namespace: ns})})
	h.mustDeliver(t, "installation", fixture(t, "installation/created.payload.json"), http.StatusOK)

	got := column(t, env.DB, `SELECT kind || ' ' || status FROM scan`)
	if strings.Join(got, ",") != "repositories queued" {
		t.Fatalf("scans %v, want the backfill recorded as queued", got)
	}
	conn := env.Redis.Get()
	defer conn.Close()
	if n, err := redis.Int(conn.Do("EXISTS", ns+":jobs:"+jobs.SpawnJob(jobs.CollectionRepositories))); err != nil || n != 0 {
		t.Fatalf("a job was queued through an unreachable Redis (%d, %v)", n, err)
	}

	// Redis is back: the sweeper finds the scan nobody started and queues it.
	up := jobs.NewScheduler(jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: ns, StuckAfter: time.Millisecond})
	if _, err := up.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := redis.Int(conn.Do("LLEN", ns+":jobs:"+jobs.SpawnJob(jobs.CollectionRepositories)))
	if err != nil || n != 1 {
		t.Fatalf("after the sweep %d spawn jobs queued (%v), want 1", n, err)
	}
}
