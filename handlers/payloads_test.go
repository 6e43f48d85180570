package handlers

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/jobs"
)

// payloadChecks assert, per event, the rows of a payload's main object
// against the payload itself. Each runs on a database holding only that
// one delivery.
var payloadChecks = map[string]func(t *testing.T, h *harness, body []byte){
	"ping": func(t *testing.T, h *harness, body []byte) {},
	"installation": func(t *testing.T, h *harness, body []byte) {
		var ev github.InstallationEvent
		mustUnmarshal(t, body, &ev)
		in := ev.Installation
		assertRow(t, env.DB, "github_installation", "id = $1", []any{in.GetID()}, fields{
			"account_id": p(in.Account.ID), "account_login": p(in.Account.Login), "account_type": p(in.Account.Type),
			"repository_selection": p(in.RepositorySelection), "suspended_at": tsv(in.SuspendedAt),
			"created_at": tsv(in.CreatedAt), "updated_at": tsv(in.UpdatedAt), "deleted_at": nil,
			"app_id": p(in.AppID), "target_type": p(in.TargetType),
		})
		assertRow(t, env.DB, "github_user", "id = $1", []any{ev.Sender.GetID()}, fields{"login": p(ev.Sender.Login), "type": p(ev.Sender.Type)})
		if ev.Repositories != nil {
			var want []string
			for _, r := range ev.Repositories {
				want = append(want, strconv.FormatInt(r.GetID(), 10))
				assertRow(t, env.DB, "github_repository", "id = $1", []any{r.GetID()}, fields{"full_name": p(r.FullName), "name": p(r.Name), "private": p(r.Private)})
			}
			sort.Strings(want)
			got := column(t, env.DB, `SELECT repo_id::text FROM github_installation_repository WHERE installation_id = $1`, in.GetID())
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("installation repositories %v, want %v", got, want)
			}
		}
		scans := h.sched.Scans()
		if ev.GetAction() == "created" {
			want := jobs.ScanRequest{Kind: jobs.CollectionRepositories, InstallationID: in.GetID(), Owner: in.Account.GetLogin(), Children: true, RequestedBy: "webhook"}
			if len(scans) != 1 || scans[0] != want {
				t.Errorf("queued %+v, want one %+v", scans, want)
			}
		} else if len(scans) != 0 {
			t.Errorf("queued %+v, want nothing", scans)
		}
	},
	"installation_repositories": func(t *testing.T, h *harness, body []byte) {
		var ev github.InstallationRepositoriesEvent
		mustUnmarshal(t, body, &ev)
		id := ev.Installation.GetID()
		assertRow(t, env.DB, "github_installation", "id = $1", []any{id}, fields{"account_login": p(ev.Installation.Account.Login)})
		for _, r := range ev.RepositoriesAdded {
			if count(t, env.DB, "github_installation_repository", "installation_id = $1 AND repo_id = $2", id, r.GetID()) != 1 {
				t.Errorf("added repository %s not linked", r.GetFullName())
			}
			assertRow(t, env.DB, "github_repository", "id = $1", []any{r.GetID()}, fields{"full_name": p(r.FullName), "private": p(r.Private)})
		}
		for _, r := range ev.RepositoriesRemoved {
			if count(t, env.DB, "github_installation_repository", "installation_id = $1 AND repo_id = $2", id, r.GetID()) != 0 {
				t.Errorf("removed repository %s still linked", r.GetFullName())
			}
		}
		var want []jobs.ScanRequest
		for _, r := range ev.RepositoriesAdded {
			o, n, _ := strings.Cut(r.GetFullName(), "/")
			want = append(want, jobs.ScanRequest{Kind: jobs.JobSyncRepository, InstallationID: id, Owner: o, Repo: n, Children: true, RequestedBy: "webhook"})
		}
		if got := h.sched.Scans(); !equalScans(got, want) {
			t.Errorf("queued %+v, want %+v", got, want)
		}
	},
	"repository": func(t *testing.T, h *harness, body []byte) {
		var ev github.RepositoryEvent
		mustUnmarshal(t, body, &ev)
		assertRow(t, env.DB, "github_repository", "id = $1", []any{ev.Repo.GetID()}, repositoryFields(ev.Repo))
	},
	"issues": func(t *testing.T, h *harness, body []byte) {
		var ev github.IssuesEvent
		mustUnmarshal(t, body, &ev)
		repoID := ev.Repo.GetID()
		assertRow(t, env.DB, "github_repository", "id = $1", []any{repoID}, repositoryFields(ev.Repo))
		assertRow(t, env.DB, "github_issue", "id = $1", []any{ev.Issue.GetID()}, issueFields(repoID, ev.Issue))
		got := column(t, env.DB, `SELECT label_name FROM github_issue_label_association WHERE issue_id = $1`, ev.Issue.GetID())
		if want := labelNames(ev.Issue.Labels); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("labels %v, want %v", got, want)
		}
		for _, l := range ev.Issue.Labels {
			assertRow(t, env.DB, "github_issue_label", "repo_id = $1 AND name = $2", []any{repoID, l.GetName()}, labelFields(repoID, l))
		}
		if ev.Issue.Milestone != nil {
			assertRow(t, env.DB, "github_milestone", "repo_id = $1 AND number = $2", []any{repoID, ev.Issue.Milestone.GetNumber()}, milestoneFields(repoID, ev.Issue.Milestone))
		}
		if ev.Issue.User != nil {
			assertRow(t, env.DB, "github_user", "id = $1", []any{ev.Issue.User.GetID()}, fields{"login": p(ev.Issue.User.Login)})
		}
	},
	"issue_comment": func(t *testing.T, h *harness, body []byte) {
		var ev github.IssueCommentEvent
		mustUnmarshal(t, body, &ev)
		repoID := ev.Repo.GetID()
		assertRow(t, env.DB, "github_issue_comment", "id = $1", []any{ev.Comment.GetID()}, issueCommentFields(repoID, ev.Issue.GetNumber(), ev.Comment))
		assertRow(t, env.DB, "github_issue", "id = $1", []any{ev.Issue.GetID()}, issueFields(repoID, ev.Issue))
	},
	"label": func(t *testing.T, h *harness, body []byte) {
		var ev github.LabelEvent
		mustUnmarshal(t, body, &ev)
		assertRow(t, env.DB, "github_issue_label", "id = $1", []any{ev.Label.GetID()}, labelFields(ev.Repo.GetID(), ev.Label))
	},
	"milestone": func(t *testing.T, h *harness, body []byte) {
		var ev github.MilestoneEvent
		mustUnmarshal(t, body, &ev)
		assertRow(t, env.DB, "github_milestone", "id = $1", []any{ev.Milestone.GetID()}, milestoneFields(ev.Repo.GetID(), ev.Milestone))
	},
	"member": func(t *testing.T, h *harness, body []byte) {
		var ev github.MemberEvent
		mustUnmarshal(t, body, &ev)
		assertRow(t, env.DB, "github_user", "id = $1", []any{ev.Member.GetID()}, fields{"login": p(ev.Member.Login), "type": p(ev.Member.Type), "site_admin": p(ev.Member.SiteAdmin)})
		assertRow(t, env.DB, "github_user_repository_association", "user_id = $1 AND repo_id = $2", []any{ev.Member.GetID(), ev.Repo.GetID()}, fields{"can_pull": true})
	},
	"pull_request": func(t *testing.T, h *harness, body []byte) {
		var ev github.PullRequestEvent
		mustUnmarshal(t, body, &ev)
		pr := ev.PullRequest
		assertRow(t, env.DB, "github_pull_request", "id = $1", []any{pr.GetID()}, pullRequestFields(pr))
		got := column(t, env.DB, `SELECT label_name FROM github_pull_request_label_association WHERE pull_request_id = $1`, pr.GetID())
		if want := labelNames(pr.Labels); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("labels %v, want %v", got, want)
		}
		assertRow(t, env.DB, "github_user", "id = $1", []any{pr.User.GetID()}, fields{"login": p(pr.User.Login)})
		// GitHub is unreachable in this test: files of a changed pull
		// request are queued instead.
		var want []jobs.ScanRequest
		o, n := ownerRepo(ev.Repo)
		// The pull request's issue row has an id no payload carries: it
		// is fetched after the answer while it is not stored.
		issues := column(t, env.DB, `SELECT id::text FROM github_issue WHERE repo_id = $1 AND number = $2`, ev.Repo.GetID(), pr.GetNumber())
		if len(issues) == 0 && ev.GetInstallation().GetID() != 0 {
			want = append(want, jobs.ScanRequest{Kind: jobs.JobSyncIssue, InstallationID: ev.GetInstallation().GetID(), Owner: o, Repo: n, Number: pr.GetNumber(), RequestedBy: "webhook"})
		}
		if refreshesFiles[ev.GetAction()] {
			want = append(want, jobs.ScanRequest{Kind: jobs.CollectionPullRequestFiles, InstallationID: ev.GetInstallation().GetID(), Owner: o, Repo: n, Number: pr.GetNumber(), RequestedBy: "webhook"})
		}
		if got := h.sched.Scans(); !equalScans(got, want) {
			t.Errorf("queued %+v, want %+v", got, want)
		}
	},
	"pull_request_review": func(t *testing.T, h *harness, body []byte) {
		var ev github.PullRequestReviewEvent
		mustUnmarshal(t, body, &ev)
		assertRow(t, env.DB, "github_pull_request_review", "id = $1", []any{ev.Review.GetID()}, reviewFields(ev.PullRequest.GetID(), ev.Review))
		assertRow(t, env.DB, "github_pull_request", "id = $1", []any{ev.PullRequest.GetID()}, fields{"number": p(ev.PullRequest.Number), "title": p(ev.PullRequest.Title)})
	},
	"pull_request_review_comment": func(t *testing.T, h *harness, body []byte) {
		var ev github.PullRequestReviewCommentEvent
		mustUnmarshal(t, body, &ev)
		assertRow(t, env.DB, "github_pull_request_review_comment", "id = $1", []any{ev.Comment.GetID()}, reviewCommentFields(ev.PullRequest.GetID(), ev.Comment))
		assertRow(t, env.DB, "github_pull_request", "id = $1", []any{ev.PullRequest.GetID()}, fields{"number": p(ev.PullRequest.Number)})
	},
}

func mustUnmarshal(t testing.TB, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("unmarshal fixture: %v", err)
	}
}

func equalScans(a, b []jobs.ScanRequest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEveryPayload sends every stored GitHub payload through the endpoint
// into an empty database and checks the rows against the payload.
func TestEveryPayload(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(payloadsDir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no payloads in %s: %v", payloadsDir, err)
	}
	for _, path := range files {
		event := filepath.Base(filepath.Dir(path))
		name := event + ":" + filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			check, ok := payloadChecks[event]
			if !ok {
				t.Fatalf("no check for event %s: add one", event)
			}
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			env.Truncate(t)
			h := newHarness(t, harnessOptions{})
			id, _ := h.mustDeliver(t, event, body, http.StatusOK)

			var envl envelope
			mustUnmarshal(t, body, &envl)
			row, ok := loadDelivery(t, env.DB, id, body)
			if !ok {
				t.Fatal("delivery not recorded")
			}
			if row.Event != event || row.Status != StatusProcessed || row.Action.String != envl.Action ||
				row.InstallationID.Int64 != envl.Installation.ID || row.RepoID.Int64 != envl.Repository.ID ||
				!row.PayloadEqual || !row.ProcessedAt.Valid || row.Error.Valid {
				t.Errorf("delivery recorded as %+v", row)
			}
			check(t, h, body)
		})
	}
}
