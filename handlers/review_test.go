package handlers

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/jobs"
)

// TestLateLabeledEventKeepsRename: GitHub sends "labeled" with the label as
// it was then; delivered after the label's rename, it must not rename the
// label back (labels have no updated_at to tell which is newer).
func TestLateLabeledEventKeepsRename(t *testing.T) {
	for _, tc := range []struct{ event, fixture string }{
		{"issues", "issues/labeled.payload.json"},
		{"pull_request", "pull_request/labeled.payload.json"},
	} {
		t.Run(tc.event, func(t *testing.T) {
			env.Truncate(t)
			h := newHarness(t, harnessOptions{})
			labeled := fixture(t, tc.fixture)
			var ev struct {
				Label *github.Label `json:"label"`
			}
			mustUnmarshal(t, labeled, &ev)
			if ev.Label == nil || ev.Label.ID == nil {
				t.Fatal("fixture has no label")
			}
			old := ev.Label
			h.mustDeliver(t, tc.event, labeled, http.StatusOK)

			renamed := edit(t, fixture(t, "label/edited.payload.json"), func(m map[string]any) {
				m["repository"] = obj(mustMap(t, labeled), "repository")
				l := obj(m, "label")
				l["id"] = json.Number(jsonInt(old.GetID()))
				l["name"] = "renamed"
				l["color"] = "123456"
				m["changes"] = map[string]any{"name": map[string]any{"from": old.GetName()}}
			})
			h.mustDeliver(t, "label", renamed, http.StatusOK)

			// The same labeled event, delivered late (another GUID, as a
			// second labeled event sent before the rename would be).
			h.mustDeliver(t, tc.event, labeled, http.StatusOK)

			assertRow(t, env.DB, "github_issue_label", "id = $1", []any{old.GetID()}, fields{"name": "renamed", "color": "123456"})
			table := "github_issue_label_association"
			if tc.event == "pull_request" {
				table = "github_pull_request_label_association"
			}
			got := column(t, env.DB, `SELECT label_name FROM `+table)
			if strings.Join(got, ",") != "renamed" {
				t.Fatalf("associations %v, want [renamed]", got)
			}
		})
	}
}

func mustMap(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDeadlockVictimIsRetried: two transactions locking the same rows in
// crossing orders (two deliveries of one repository by different senders,
// or a delivery and a backfill page) make PostgreSQL abort one of them as a
// deadlock victim. GitHub does not redeliver a failed webhook by itself, so
// a delivery that loses a deadlock must be retried, not answered 500.
func TestDeadlockVictimIsRetried(t *testing.T) {
	env.Truncate(t)
	ctx := context.Background()
	// The delivery's side checks for a deadlock first and so is the
	// victim: its deadlock_timeout is shorter than the other side's.
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("deadlock_timeout", "2s")
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := newHarness(t, harnessOptions{db: db})
	body := fixture(t, "issue_comment/created.payload.json")
	var ev github.IssueCommentEvent
	mustUnmarshal(t, body, &ev)
	h.mustDeliver(t, "issue_comment", body, http.StatusOK)

	// The other transaction holds the repository; the delivery locks its
	// sender, then waits for the repository.
	other, err := env.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback() //nolint:errcheck
	if _, err := other.ExecContext(ctx, `SET LOCAL deadlock_timeout = '30s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, `UPDATE github_repository SET description = description WHERE id = $1`, ev.Repo.GetID()); err != nil {
		t.Fatal(err)
	}
	done := make(chan response, 1)
	go func() {
		res, err := h.tryPost("issue_comment", "deadlock-victim", sign(testSecret, body), body)
		if err != nil {
			res = response{code: -1, body: err.Error()}
		}
		done <- res
	}()
	waitForLockWait(t, ev.Repo.GetID())
	// Now close the cycle: the sender's row is the delivery's.
	if _, err := other.ExecContext(ctx, `UPDATE github_user SET login = login WHERE id = $1`, ev.Sender.GetID()); err != nil {
		t.Fatalf("the other transaction was the deadlock victim, not the delivery: %v", err)
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.code != http.StatusOK {
		var recorded sql.NullString
		_ = env.DB.QueryRow(`SELECT error FROM webhook_delivery WHERE delivery_id = 'deadlock-victim'`).Scan(&recorded)
		t.Fatalf("delivery that lost a deadlock answered %d %s (recorded error %q), want 200 after a retry", res.code, res.body, recorded.String)
	}
	if d, ok := loadDelivery(t, env.DB, "deadlock-victim", body); !ok || d.Status != StatusProcessed {
		t.Fatalf("delivery recorded as %+v", d)
	}
}

// waitForLockWait returns once a backend of the test database waits for a
// row lock on the repository's table (the delivery, blocked behind the test's
// transaction).
func waitForLockWait(t *testing.T, repoID int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := env.DB.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%github_repository%'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not timing
	}
	t.Fatal("the delivery never waited for the repository row")
}

// TestFullFilesPageQueuesTheRest: the payload's changed_files decides
// whether files are fetched inline, but it is as of the event: a late
// "opened" of a pull request pushed to since may find a full first page.
// The files beyond it must still be loaded (queued), not silently dropped.
func TestFullFilesPageQueuesTheRest(t *testing.T) {
	env.Truncate(t)
	srv, h := fakeGitHub(t)
	ctx := context.Background()
	org := srv.World().Organizations()[0]
	repo := srv.World().Repositories(org)[0].GetName()
	in, d, err := srv.InstallApp(ctx, org, nil)
	mustOK(t, "install", d, err)
	pr, d, err := srv.OpenPullRequest(ctx, org, repo, ghfake.NewPull{Title: "big", Files: 150})
	mustOK(t, "open", d, err)

	// The same event as if sent when the pull request had 3 files.
	late := edit(t, d.Payload, func(m map[string]any) {
		obj(m, "pull_request")["changed_files"] = json.Number("3")
	})
	before := len(h.sched.Scans())
	h.mustDeliver(t, "pull_request", late, http.StatusOK)
	queued := h.sched.Scans()[before:]
	want := jobs.ScanRequest{Kind: jobs.CollectionPullRequestFiles, InstallationID: in.GetID(), Owner: org, Repo: repo, Number: pr.GetNumber(), RequestedBy: "webhook"}
	// Besides the files, the pull request's issue row is fetched (no
	// pull_request payload carries its id).
	queued = withoutIssueSyncs(queued)
	if len(queued) != 1 || queued[0] != want {
		t.Fatalf("queued %+v, want %+v: files past the first page are never loaded", queued, want)
	}
}

// TestDeletedInstallationStaysDeleted: deliveries sent before an
// uninstall but processed after it (created, repositories added) must not
// give the dead installation repositories again, nor queue a backfill that
// can only fail (GitHub refuses tokens for it); the links would also make
// the dead installation look like it covers those repositories.
func TestDeletedInstallationStaysDeleted(t *testing.T) {
	created := fixture(t, "installation/created.payload.json")
	var ev github.InstallationEvent
	mustUnmarshal(t, created, &ev)
	id := ev.Installation.GetID()
	deleted := edit(t, created, func(m map[string]any) { m["action"] = "deleted" })
	added := edit(t, fixture(t, "installation_repositories/added.payload.json"), func(m map[string]any) {
		m["installation"] = obj(mustMap(t, created), "installation")
	})
	tests := []struct {
		name, event string
		late        []byte
	}{
		{"late created", "installation", created},
		{"late repositories added", "installation_repositories", added},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env.Truncate(t)
			h := newHarness(t, harnessOptions{})
			h.mustDeliver(t, "installation", created, http.StatusOK)
			h.mustDeliver(t, "installation", deleted, http.StatusOK)
			before := len(h.sched.Scans())
			h.mustDeliver(t, tc.event, tc.late, http.StatusOK)
			if n := count(t, env.DB, "github_installation", "id = $1 AND deleted_at IS NOT NULL", id); n != 1 {
				t.Fatalf("installation no longer marked deleted")
			}
			if n := count(t, env.DB, "github_installation_repository", "installation_id = $1", id); n != 0 {
				t.Errorf("deleted installation linked to %d repositories", n)
			}
			if queued := h.sched.Scans()[before:]; len(queued) != 0 {
				t.Errorf("queued %+v for a deleted installation", queued)
			}
		})
	}
}
