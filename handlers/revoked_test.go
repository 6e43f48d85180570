package handlers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/process"
)

// repoOwnedTables are the tables whose rows hang from a repository id
// (column named in the value).
var repoOwnedTables = map[string]string{
	"github_repository": "id", "github_issue": "repo_id", "github_issue_comment": "repo_id",
	"github_issue_label": "repo_id", "github_milestone": "repo_id", "github_pull_request": "base_repo_id",
	"github_user_repository_association": "repo_id", "github_installation_repository": "repo_id",
}

// repoRows counts every row stored for repository id, and the reviews and
// review comments of its pull request prID.
func repoRows(t *testing.T, id, prID int64) int {
	t.Helper()
	n := 0
	for table, col := range repoOwnedTables {
		n += count(t, env.DB, table, col+" = $1", id)
	}
	n += count(t, env.DB, "github_pull_request_review", "pull_request_id = $1", prID)
	n += count(t, env.DB, "github_pull_request_review_comment", "pull_request_id = $1", prID)
	return n
}

// TestDeletedRepositoryStaysDeleted: after repository.deleted, a late
// delivery about the repository or anything in it answers 200, is recorded
// stale and brings no row back.
func TestDeletedRepositoryStaysDeleted(t *testing.T) {
	issue := fixture(t, "issues/edited.payload.json")
	repoID := path(t, issue, "repository", "id")
	prID := path(t, fixture(t, "pull_request_review/submitted.payload.json"), "pull_request", "id")
	late := []struct{ event, fixture string }{
		{"issues", "issues/edited.payload.json"},
		{"issue_comment", "issue_comment/created.payload.json"},
		{"pull_request", "pull_request/opened.payload.json"},
		{"pull_request_review", "pull_request_review/submitted.payload.json"},
		{"pull_request_review_comment", "pull_request_review_comment/created.payload.json"},
		{"label", "label/created.payload.json"},
		{"milestone", "milestone/created.payload.json"},
		{"repository", "repository/edited.payload.json"},
	}
	for _, tc := range late {
		t.Run(tc.event, func(t *testing.T) {
			env.Truncate(t)
			h := newHarness(t, harnessOptions{})
			body := fixture(t, tc.fixture)
			if tc.event == "repository" {
				// The fixture is another repository's: make it this one's.
				body = edit(t, body, func(m map[string]any) { m["repository"] = obj(decodeMap(t, issue), "repository") })
			}
			h.mustDeliver(t, tc.event, body, http.StatusOK)
			if repoRows(t, repoID, prID) == 0 {
				t.Fatal("the first delivery stored nothing")
			}
			deleted := edit(t, fixture(t, "repository/edited.payload.json"), func(m map[string]any) {
				m["action"] = "deleted"
				m["repository"] = obj(decodeMap(t, issue), "repository")
				delete(m, "changes")
			})
			h.mustDeliver(t, "repository", deleted, http.StatusOK)
			if n := repoRows(t, repoID, prID); n != 0 {
				t.Fatalf("repository.deleted left %d rows", n)
			}
			id, _ := h.mustDeliver(t, tc.event, body, http.StatusOK)
			if n := repoRows(t, repoID, prID); n != 0 {
				t.Fatalf("a late %s brought back %d rows", tc.event, n)
			}
			if d, _ := loadDelivery(t, env.DB, id, body); d.Status != StatusStale {
				t.Fatalf("late %s recorded %q, want stale", tc.event, d.Status)
			}
		})
	}

	t.Run("a new repository under the same name", func(t *testing.T) {
		env.Truncate(t)
		h := newHarness(t, harnessOptions{})
		h.mustDeliver(t, "issues", issue, http.StatusOK)
		deleted := edit(t, fixture(t, "repository/edited.payload.json"), func(m map[string]any) {
			m["action"] = "deleted"
			m["repository"] = obj(decodeMap(t, issue), "repository")
			delete(m, "changes")
		})
		h.mustDeliver(t, "repository", deleted, http.StatusOK)
		again := edit(t, issue, func(m map[string]any) { obj(m, "repository")["id"] = repoID + 1000 })
		id, _ := h.mustDeliver(t, "issues", again, http.StatusOK)
		if d, _ := loadDelivery(t, env.DB, id, again); d.Status != StatusProcessed {
			t.Fatalf("issue of the new repository recorded %q", d.Status)
		}
		if n := count(t, env.DB, "github_issue", "repo_id = $1", repoID+1000); n != 1 {
			t.Fatalf("the new repository has %d issues, want 1", n)
		}
	})
}

func decodeMap(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	edit(t, body, func(v map[string]any) { m = v })
	return m
}

// Repositories of the access tests: the installation fixture's public one,
// and two private ones made from it.
const (
	privateRepoID = 900001
	sharedRepoID  = 900002 // private, also in a second installation
)

// installAccess installs the fixture's installation over the public
// repository and two private ones, gives every repository an issue, and a
// second installation covering the shared one. It returns the first
// installation's created payload and the public repository's id.
func installAccess(t *testing.T, h *harness) ([]byte, int64) {
	t.Helper()
	created := fixture(t, "installation/created.payload.json")
	var public map[string]any
	created = edit(t, created, func(m map[string]any) {
		repos := m["repositories"].([]any)
		public = repos[0].(map[string]any)
		private := map[string]any{"id": privateRepoID, "node_id": "p1", "name": "secret", "full_name": "Codertocat/secret", "private": true}
		shared := map[string]any{"id": sharedRepoID, "node_id": "p2", "name": "shared", "full_name": "Codertocat/shared", "private": true}
		m["repositories"] = []any{public, private, shared}
	})
	h.mustDeliver(t, "installation", created, http.StatusOK)
	instID := path(t, created, "installation", "id")
	second := edit(t, created, func(m map[string]any) {
		obj(m, "installation")["id"] = instID + 1
		m["repositories"] = []any{map[string]any{"id": sharedRepoID, "node_id": "p2", "name": "shared", "full_name": "Codertocat/shared", "private": true}}
	})
	h.mustDeliver(t, "installation", second, http.StatusOK)
	for i, r := range []struct {
		id             int64
		name           string
		private        bool
		installationID int64
	}{{0, "", false, instID}, {privateRepoID, "secret", true, instID}, {sharedRepoID, "shared", true, instID}} {
		body := edit(t, fixture(t, "issues/edited.payload.json"), func(m map[string]any) {
			obj(m, "issue")["id"] = 7000 + i
			obj(m, "issue")["labels"] = []any{}
			delete(obj(m, "issue"), "milestone")
			m["installation"] = map[string]any{"id": r.installationID}
			if r.id != 0 {
				repo := obj(m, "repository")
				repo["id"], repo["name"], repo["full_name"], repo["private"] = r.id, r.name, "Codertocat/"+r.name, r.private
			}
		})
		h.mustDeliver(t, "issues", body, http.StatusOK)
	}
	return created, path(t, fixture(t, "issues/edited.payload.json"), "repository", "id")
}

// TestAccessEnds: when an installation is deleted or repositories are
// removed from it, private repositories no live installation covers lose
// their rows (at once, or after the retention through the purge), public
// ones stay marked uncovered, and one another installation covers stays.
func TestAccessEnds(t *testing.T) {
	ctx := context.Background()
	stored := func(t *testing.T, id int64) int {
		t.Helper()
		return count(t, env.DB, "github_repository", "id = $1", id) + count(t, env.DB, "github_issue", "repo_id = $1", id)
	}
	uncovered := func(t *testing.T, id int64) bool {
		t.Helper()
		return count(t, env.DB, "github_repository", "id = $1 AND uncovered_at IS NOT NULL", id) == 1
	}
	ends := map[string]func(t *testing.T, h *harness, created []byte, publicID int64){
		"installation deleted": func(t *testing.T, h *harness, created []byte, _ int64) {
			h.mustDeliver(t, "installation", edit(t, created, func(m map[string]any) { m["action"] = "deleted" }), http.StatusOK)
		},
		"repositories removed": func(t *testing.T, h *harness, created []byte, publicID int64) {
			removed := edit(t, fixture(t, "installation_repositories/removed.payload.json"), func(m map[string]any) {
				m["installation"] = obj(decodeMap(t, created), "installation")
				m["repositories_removed"] = decodeMap(t, created)["repositories"]
			})
			h.mustDeliver(t, "installation_repositories", removed, http.StatusOK)
		},
	}
	for name, end := range ends {
		for _, retention := range []time.Duration{0, time.Hour} {
			t.Run(name+"/retention "+retention.String(), func(t *testing.T) {
				env.Truncate(t)
				h := newHarness(t, harnessOptions{retention: retention})
				created, publicID := installAccess(t, h)
				for _, id := range []int64{publicID, privateRepoID, sharedRepoID} {
					if stored(t, id) != 2 {
						t.Fatalf("repository %d not stored with its issue", id)
					}
				}
				end(t, h, created, publicID)
				wantPrivate := 2
				if retention == 0 {
					wantPrivate = 0
				}
				if got := stored(t, privateRepoID); got != wantPrivate {
					t.Fatalf("private repository: %d rows, want %d", got, wantPrivate)
				}
				if stored(t, publicID) != 2 || !uncovered(t, publicID) {
					t.Fatal("the public repository was removed or not marked uncovered")
				}
				if stored(t, sharedRepoID) != 2 || uncovered(t, sharedRepoID) {
					t.Fatal("the repository another installation covers was removed or marked")
				}
				// The purge now removes nothing more; once the retention is
				// over (the clock a minute past it) it removes what the
				// retention kept, and the rest stays as it is.
				if _, err := process.DeleteRevokedPrivateRepositories(ctx, env.DB, time.Now().Add(-retention), 100); err != nil {
					t.Fatal(err)
				}
				if got := stored(t, privateRepoID); got != wantPrivate {
					t.Fatalf("private repository: %d rows after a purge within the retention, want %d", got, wantPrivate)
				}
				if _, err := process.DeleteRevokedPrivateRepositories(ctx, env.DB, time.Now().Add(time.Minute), 100); err != nil {
					t.Fatal(err)
				}
				if stored(t, privateRepoID) != 0 || stored(t, publicID) != 2 || stored(t, sharedRepoID) != 2 {
					t.Fatalf("after the purge: private %d, public %d, shared %d rows; want 0, 2, 2",
						stored(t, privateRepoID), stored(t, publicID), stored(t, sharedRepoID))
				}
			})
		}
	}
}

// TestLateDeliveryFromDeletedInstallation: after installation.deleted has
// purged a private repository, a late delivery of that installation about
// it answers 200, is recorded stale and stores nothing again: access has
// ended, whatever the delivery carries.
func TestLateDeliveryFromDeletedInstallation(t *testing.T) {
	env.Truncate(t)
	h := newHarness(t, harnessOptions{retention: 0})
	created, _ := installAccess(t, h)
	instID := path(t, created, "installation", "id")
	h.mustDeliver(t, "installation", edit(t, created, func(m map[string]any) { m["action"] = "deleted" }), http.StatusOK)
	if n := count(t, env.DB, "github_repository", "id = $1", privateRepoID); n != 0 {
		t.Fatalf("the private repository was not purged at the uninstall (%d rows)", n)
	}
	late := edit(t, fixture(t, "issues/edited.payload.json"), func(m map[string]any) {
		obj(m, "issue")["id"] = 7999
		obj(m, "issue")["labels"] = []any{}
		delete(obj(m, "issue"), "milestone")
		m["installation"] = map[string]any{"id": instID}
		repo := obj(m, "repository")
		repo["id"], repo["name"], repo["full_name"], repo["private"] = privateRepoID, "secret", "Codertocat/secret", true
	})
	id, _ := h.mustDeliver(t, "issues", late, http.StatusOK)
	if d, _ := loadDelivery(t, env.DB, id, late); d.Status != StatusStale {
		t.Fatalf("late delivery recorded %q, want stale", d.Status)
	}
	if n := count(t, env.DB, "github_repository", "id = $1", privateRepoID) + count(t, env.DB, "github_issue", "id = 7999"); n != 0 {
		t.Fatalf("a late delivery of the deleted installation stored %d rows again", n)
	}
}
