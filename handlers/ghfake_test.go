package handlers

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/jobs"
)

// fakeGitHub starts ghfake with an organization and its repositories but
// nothing else in them, and the webhook endpoint it delivers to: every
// object in the world then came through a webhook, so the replica must
// equal the world.
func fakeGitHub(t *testing.T) (*ghfake.Server, *harness) {
	t.Helper()
	srv, err := ghfake.New(ghfake.Options{
		WebhookSecret: testSecret,
		Seed: &ghfake.SeedOptions{
			Seed: 7, Accounts: 1, Users: 3, ReposPerAccount: 2, PullsPerRepo: -1, IssuesPerRepo: -1,
			CommentsPerIssue: -1, LabelsPerRepo: -1, MilestonesPerRepo: -1, ReviewsPerPull: -1,
			ReviewCommentsPerPull: -1, NoInstall: true,
		},
	})
	if err != nil {
		t.Fatalf("ghfake: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("ghfake start: %v", err)
	}
	t.Cleanup(srv.Close)
	cc, err := githubapp.NewDefaultCachingClientCreator(srv.GitHubConfig())
	if err != nil {
		t.Fatalf("client creator: %v", err)
	}
	h := newHarness(t, harnessOptions{clientCreator: cc})
	srv.SetWebhookURL(h.srv.URL + "/replication")
	return srv, h
}

// mustOK fails unless ghfake's delivery reached the endpoint and got 2xx.
func mustOK(t *testing.T, what string, d *ghfake.Delivery, err error) *ghfake.Delivery {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !d.OK() {
		t.Fatalf("%s: delivery %s.%s answered %d %s (%s)", what, d.Event, d.Action, d.StatusCode, d.ResponseBody, d.Error)
	}
	if row, ok := loadDelivery(t, env.DB, d.GUID, d.Payload); !ok || row.Status != StatusProcessed || !row.PayloadEqual {
		t.Fatalf("%s: delivery %s recorded as %+v", what, d.GUID, row)
	}
	return d
}

// assertMatchesWorld compares the replica of owner/repo with ghfake's
// world: the same objects, field by field, and nothing else.
func assertMatchesWorld(t *testing.T, srv *ghfake.Server, owner, repo string) {
	t.Helper()
	w := srv.World()
	r := w.Repository(owner, repo)
	if r == nil {
		t.Fatalf("world has no %s/%s", owner, repo)
	}
	repoID := r.GetID()
	assertRow(t, env.DB, "github_repository", "id = $1", []any{repoID}, fields{
		"name": p(r.Name), "full_name": p(r.FullName), "owner_id": userIDOf(r.Owner), "owner_login": userLoginOf(r.Owner),
		"private": p(r.Private), "description": p(r.Description), "default_branch": p(r.DefaultBranch),
		"archived": p(r.Archived), "fork": p(r.Fork),
	})

	labels := w.Labels(owner, repo)
	for _, l := range labels {
		assertRow(t, env.DB, "github_issue_label", "id = $1", []any{l.GetID()}, labelFields(repoID, l))
	}
	expectCount(t, "labels", count(t, env.DB, "github_issue_label", "repo_id = $1", repoID), len(labels))

	milestones := w.Milestones(owner, repo)
	for _, m := range milestones {
		assertRow(t, env.DB, "github_milestone", "id = $1", []any{m.GetID()}, fields{
			"number": p(m.Number), "state": p(m.State), "title": p(m.Title), "description": p(m.Description),
			"created_at": tsv(m.CreatedAt), "updated_at": tsv(m.UpdatedAt), "closed_at": tsv(m.ClosedAt),
		})
	}
	expectCount(t, "milestones", count(t, env.DB, "github_milestone", "repo_id = $1", repoID), len(milestones))

	issues := w.Issues(owner, repo)
	for _, is := range issues {
		f := issueFields(repoID, is)
		delete(f, "html_url")
		assertRow(t, env.DB, "github_issue", "id = $1", []any{is.GetID()}, f)
		got := column(t, env.DB, `SELECT label_name FROM github_issue_label_association WHERE issue_id = $1`, is.GetID())
		if want := labelNames(is.Labels); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("issue #%d labels %v, want %v", is.GetNumber(), got, want)
		}
		comments := w.IssueComments(owner, repo, is.GetNumber())
		for _, c := range comments {
			assertRow(t, env.DB, "github_issue_comment", "id = $1", []any{c.GetID()}, issueCommentFields(repoID, is.GetNumber(), c))
		}
		expectCount(t, fmt.Sprintf("comments of #%d", is.GetNumber()),
			count(t, env.DB, "github_issue_comment", "repo_id = $1 AND issue_number = $2", repoID, is.GetNumber()), len(comments))
	}
	expectCount(t, "issues", count(t, env.DB, "github_issue", "repo_id = $1 AND NOT is_pull_request", repoID), len(issues))

	pulls := w.PullRequests(owner, repo)
	for _, pr := range pulls {
		assertRow(t, env.DB, "github_pull_request", "id = $1", []any{pr.GetID()}, fields{
			"number": p(pr.Number), "state": p(pr.State), "title": p(pr.Title), "body": p(pr.Body),
			"user_login": userLoginOf(pr.User), "head_sha": p(pr.Head.SHA), "base_ref": p(pr.Base.Ref),
			"merged": p(pr.Merged), "merged_at": tsv(pr.MergedAt), "additions": p(pr.Additions),
			"deletions": p(pr.Deletions), "changed_files": p(pr.ChangedFiles), "updated_at": tsv(pr.UpdatedAt),
			"closed_at": tsv(pr.ClosedAt), "draft": p(pr.Draft),
		})
		reviews := w.Reviews(owner, repo, pr.GetNumber())
		for _, rv := range reviews {
			assertRow(t, env.DB, "github_pull_request_review", "id = $1", []any{rv.GetID()}, reviewFields(pr.GetID(), rv))
		}
		expectCount(t, fmt.Sprintf("reviews of #%d", pr.GetNumber()), count(t, env.DB, "github_pull_request_review", "pull_request_id = $1", pr.GetID()), len(reviews))
		rcs := w.ReviewComments(owner, repo, pr.GetNumber())
		for _, c := range rcs {
			assertRow(t, env.DB, "github_pull_request_review_comment", "id = $1", []any{c.GetID()}, reviewCommentFields(pr.GetID(), c))
		}
		expectCount(t, fmt.Sprintf("review comments of #%d", pr.GetNumber()),
			count(t, env.DB, "github_pull_request_review_comment", "pull_request_id = $1", pr.GetID()), len(rcs))
	}
	expectCount(t, "pull requests", count(t, env.DB, "github_pull_request", "base_repo_id = $1", repoID), len(pulls))
}

func expectCount(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s: replica has %d, world has %d", what, got, want)
	}
}

// assertFilesMatch compares a pull request's stored files with the world's.
func assertFilesMatch(t *testing.T, srv *ghfake.Server, owner, repo string, number int) {
	t.Helper()
	pr := srv.World().PullRequest(owner, repo, number)
	files := srv.World().PullRequestFiles(owner, repo, number)
	want := make([]string, 0, len(files))
	for _, f := range files {
		want = append(want, f.GetFilename())
		assertRow(t, env.DB, "github_pull_request_file", "pull_request_id = $1 AND filename = $2", []any{pr.GetID(), f.GetFilename()}, fields{
			"sha": p(f.SHA), "status": p(f.Status), "additions": p(f.Additions), "deletions": p(f.Deletions),
			"changes": p(f.Changes), "patch": p(f.Patch), "previous_filename": p(f.PreviousFilename),
		})
	}
	sort.Strings(want)
	got := column(t, env.DB, `SELECT filename FROM github_pull_request_file WHERE pull_request_id = $1`, pr.GetID())
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("files of #%d: replica %v, world %v", number, got, want)
	}
}

// TestGhfakeScenario drives ghfake's world through the changes people make
// and checks after each that the replica equals the world.
func TestGhfakeScenario(t *testing.T) {
	env.Truncate(t)
	srv, h := fakeGitHub(t)
	ctx := context.Background()
	org := srv.World().Organizations()[0]
	repos := srv.World().Repositories(org)
	repo := repos[0].GetName()

	in, d, err := srv.InstallApp(ctx, org, nil)
	mustOK(t, "install", d, err)
	assertRow(t, env.DB, "github_installation", "id = $1", []any{in.GetID()}, fields{"account_login": org, "deleted_at": nil})
	expectCount(t, "installation repositories", count(t, env.DB, "github_installation_repository", "installation_id = $1", in.GetID()), len(repos))
	if s := h.sched.Scans(); len(s) != 1 || s[0].Kind != jobs.CollectionRepositories || s[0].InstallationID != in.GetID() || !s[0].Children {
		t.Fatalf("install queued %+v, want a repositories backfill", s)
	}

	var reviewID int64
	steps := []struct {
		name string
		do   func() (*ghfake.Delivery, error)
	}{
		{"create label", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CreateLabel(ctx, org, repo, ghfake.LabelSpec{Name: "bug", Color: "d73a4a", Description: "Something is wrong"})
			return d, err
		}},
		{"create milestone", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CreateMilestone(ctx, org, repo, ghfake.MilestoneSpec{Title: "v1", Description: "first"})
			return d, err
		}},
		{"open issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.OpenIssue(ctx, org, repo, ghfake.NewIssue{Title: "It breaks", Body: "when I do this"})
			return d, err
		}},
		{"label issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.LabelIssue(ctx, org, repo, 1, "bug")
			return d, err
		}},
		{"milestone issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.MilestoneIssue(ctx, org, repo, 1, 1)
			return d, err
		}},
		{"rename label", func() (*ghfake.Delivery, error) {
			name := "defect"
			_, d, err := srv.EditLabel(ctx, org, repo, "bug", ghfake.LabelEdit{Name: &name})
			return d, err
		}},
		{"comment on issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CreateIssueComment(ctx, org, repo, 1, "me too")
			return d, err
		}},
		{"edit issue", func() (*ghfake.Delivery, error) {
			title := "It breaks badly"
			_, d, err := srv.EditIssue(ctx, org, repo, 1, ghfake.IssueEdit{Title: &title})
			return d, err
		}},
		{"open pull request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.OpenPullRequest(ctx, org, repo, ghfake.NewPull{Title: "Fix it", Body: "fixes #1", Files: 4})
			return d, err
		}},
		{"review", func() (*ghfake.Delivery, error) {
			rv, d, err := srv.SubmitReview(ctx, org, repo, 2, "APPROVED", "looks good")
			reviewID = rv.GetID()
			return d, err
		}},
		{"review comment", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CreateReviewComment(ctx, org, repo, 2, ghfake.NewReviewComment{Body: "nit", ReviewID: reviewID})
			return d, err
		}},
		{"edit review comment", func() (*ghfake.Delivery, error) {
			rcs := srv.World().ReviewComments(org, repo, 2)
			_, d, err := srv.EditReviewComment(ctx, org, repo, rcs[0].GetID(), "nit, edited")
			return d, err
		}},
		{"dismiss review", func() (*ghfake.Delivery, error) {
			_, d, err := srv.DismissReview(ctx, org, repo, 2, reviewID)
			return d, err
		}},
		{"edit pull request", func() (*ghfake.Delivery, error) {
			title := "Fix it properly"
			_, d, err := srv.EditPullRequest(ctx, org, repo, 2, ghfake.PullEdit{Title: &title})
			return d, err
		}},
		{"close pull request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.ClosePullRequest(ctx, org, repo, 2)
			return d, err
		}},
		{"reopen pull request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.ReopenPullRequest(ctx, org, repo, 2)
			return d, err
		}},
		{"synchronize pull request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.SynchronizePullRequest(ctx, org, repo, 2)
			return d, err
		}},
		{"merge pull request", func() (*ghfake.Delivery, error) {
			_, d, err := srv.MergePullRequest(ctx, org, repo, 2)
			return d, err
		}},
		{"close issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CloseIssue(ctx, org, repo, 1)
			return d, err
		}},
		{"close milestone", func() (*ghfake.Delivery, error) {
			_, d, err := srv.CloseMilestone(ctx, org, repo, 1)
			return d, err
		}},
		{"reopen milestone", func() (*ghfake.Delivery, error) {
			_, d, err := srv.OpenMilestone(ctx, org, repo, 1)
			return d, err
		}},
		{"edit milestone", func() (*ghfake.Delivery, error) {
			title := "v1.0"
			_, d, err := srv.EditMilestone(ctx, org, repo, 1, ghfake.MilestoneEdit{Title: &title})
			return d, err
		}},
		{"reopen issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.ReopenIssue(ctx, org, repo, 1)
			return d, err
		}},
		{"unlabel issue", func() (*ghfake.Delivery, error) {
			_, d, err := srv.UnlabelIssue(ctx, org, repo, 1, "defect")
			return d, err
		}},
		{"edit comment", func() (*ghfake.Delivery, error) {
			cs := srv.World().IssueComments(org, repo, 1)
			_, d, err := srv.EditIssueComment(ctx, org, repo, cs[0].GetID(), "me too, edited")
			return d, err
		}},
		{"edit repository", func() (*ghfake.Delivery, error) {
			_, d, err := srv.EditRepo(ctx, org, repo, "the new description")
			return d, err
		}},
	}
	for _, st := range steps {
		d, err := st.do()
		mustOK(t, st.name, d, err)
		assertMatchesWorld(t, srv, org, repo)
		if t.Failed() {
			t.Fatalf("replica differs from the world after %q", st.name)
		}
	}

	// The merged pull request's files as of its last refresh.
	assertFilesMatch(t, srv, org, repo, 2)

	// Deletes, each checked against the world too.
	comments := srv.World().IssueComments(org, repo, 1)
	rcs := srv.World().ReviewComments(org, repo, 2)
	if len(comments) != 1 || len(rcs) != 1 {
		t.Fatalf("world has %d comments and %d review comments, want 1 and 1", len(comments), len(rcs))
	}
	deletes := []struct {
		name string
		do   func() (*ghfake.Delivery, error)
	}{
		{"delete comment", func() (*ghfake.Delivery, error) { return srv.DeleteIssueComment(ctx, org, repo, comments[0].GetID()) }},
		{"delete review comment", func() (*ghfake.Delivery, error) { return srv.DeleteReviewComment(ctx, org, repo, rcs[0].GetID()) }},
		{"delete label", func() (*ghfake.Delivery, error) { return srv.DeleteLabel(ctx, org, repo, "defect") }},
		{"delete milestone", func() (*ghfake.Delivery, error) { return srv.DeleteMilestone(ctx, org, repo, 1) }},
		{"delete issue", func() (*ghfake.Delivery, error) { return srv.DeleteIssue(ctx, org, repo, 1) }},
	}
	for _, st := range deletes {
		d, err := st.do()
		mustOK(t, st.name, d, err)
		assertMatchesWorld(t, srv, org, repo)
		if t.Failed() {
			t.Fatalf("replica differs from the world after %q", st.name)
		}
	}

	// Collaborators and a rename.
	users := srv.World().Users()
	member := users[len(users)-1]
	d, err = srv.AddCollaborator(ctx, org, repo, member.GetLogin(), "push")
	mustOK(t, "add collaborator", d, err)
	assertRow(t, env.DB, "github_user_repository_association", "user_id = $1 AND repo_id = $2", []any{member.GetID(), repos[0].GetID()},
		fields{"can_pull": true, "can_push": true, "can_admin": false})
	d, err = srv.RemoveCollaborator(ctx, org, repo, member.GetLogin())
	mustOK(t, "remove collaborator", d, err)
	if n := count(t, env.DB, "github_user_repository_association", "user_id = $1 AND repo_id = $2", member.GetID(), repos[0].GetID()); n != 0 {
		t.Fatalf("removed collaborator still associated")
	}
	_, d, err = srv.RenameRepo(ctx, org, repo, "renamed")
	mustOK(t, "rename repository", d, err)
	assertMatchesWorld(t, srv, org, "renamed")

	d, err = srv.DeleteRepo(ctx, org, repos[1].GetName())
	mustOK(t, "delete repository", d, err)
	if n := count(t, env.DB, "github_repository", "id = $1", repos[1].GetID()); n != 0 {
		t.Fatalf("deleted repository still stored")
	}

	d, err = srv.UninstallApp(ctx, in.GetID())
	mustOK(t, "uninstall", d, err)
	if n := count(t, env.DB, "github_installation", "id = $1 AND deleted_at IS NOT NULL", in.GetID()); n != 1 {
		t.Fatalf("uninstalled installation not marked deleted")
	}
	if c := h.sched.Cancels(); len(c) != 1 || c[0] != in.GetID() {
		t.Fatalf("cancelled %v, want [%d]", c, in.GetID())
	}
}

// TestGhfakePullRequestFiles: files of a small pull request are fetched
// from GitHub during the delivery; a big one's are queued.
func TestGhfakePullRequestFiles(t *testing.T) {
	env.Truncate(t)
	srv, h := fakeGitHub(t)
	ctx := context.Background()
	org := srv.World().Organizations()[0]
	repo := srv.World().Repositories(org)[0].GetName()
	in, d, err := srv.InstallApp(ctx, org, nil)
	mustOK(t, "install", d, err)

	tests := []struct {
		name   string
		files  int
		inline bool
	}{
		{"one file", 1, true},
		{"a few files", 5, true},
		{"99 files", 99, true},
		{"100 files", 100, false},
		{"250 files", 250, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.sched.Scans())
			pr, d, err := srv.OpenPullRequest(ctx, org, repo, ghfake.NewPull{Title: tc.name, Files: tc.files})
			mustOK(t, "open", d, err)
			if pr.GetChangedFiles() != tc.files {
				t.Fatalf("ghfake opened a pull request with %d files, want %d", pr.GetChangedFiles(), tc.files)
			}
			queued := withoutIssueSyncs(h.sched.Scans()[before:])
			if tc.inline {
				if len(queued) != 0 {
					t.Fatalf("queued %+v, want the files fetched inline", queued)
				}
				assertFilesMatch(t, srv, org, repo, pr.GetNumber())
				if n := count(t, env.DB, "github_pull_request_file", "pull_request_id = $1 AND last_replicated_via_api_at IS NOT NULL", pr.GetID()); n != tc.files {
					t.Fatalf("%d files stamped as fetched from the API, want %d", n, tc.files)
				}
				return
			}
			want := jobs.ScanRequest{Kind: jobs.CollectionPullRequestFiles, InstallationID: in.GetID(), Owner: org, Repo: repo, Number: pr.GetNumber(), RequestedBy: "webhook"}
			if len(queued) != 1 || queued[0] != want {
				t.Fatalf("queued %+v, want %+v", queued, want)
			}
			if n := count(t, env.DB, "github_pull_request_file", "pull_request_id = $1", pr.GetID()); n != 0 {
				t.Fatalf("%d files stored inline for a big pull request", n)
			}
		})
	}

	t.Run("GitHub failing", func(t *testing.T) {
		before := len(h.sched.Scans())
		srv.SetFailureRate(1)
		defer srv.SetFailureRate(0)
		pr, d, err := srv.OpenPullRequest(ctx, org, repo, ghfake.NewPull{Title: "while GitHub is down", Files: 3})
		mustOK(t, "open", d, err)
		assertRow(t, env.DB, "github_pull_request", "id = $1", []any{pr.GetID()}, fields{"title": "while GitHub is down"})
		queued := withoutIssueSyncs(h.sched.Scans()[before:])
		if len(queued) != 1 || queued[0].Kind != jobs.CollectionPullRequestFiles || queued[0].Number != pr.GetNumber() {
			t.Fatalf("queued %+v, want the files job", queued)
		}
	})

	t.Run("synchronize refreshes", func(t *testing.T) {
		pr, d, err := srv.OpenPullRequest(ctx, org, repo, ghfake.NewPull{Title: "to be pushed to", Files: 3})
		mustOK(t, "open", d, err)
		_, d, err = srv.SynchronizePullRequest(ctx, org, repo, pr.GetNumber())
		mustOK(t, "synchronize", d, err)
		assertFilesMatch(t, srv, org, repo, pr.GetNumber())
	})
}

// redeliver asks ghfake for a redelivery and waits until it has been sent
// (GitHub sends it after answering the request).
func redeliver(t *testing.T, srv *ghfake.Server, id int64) (*ghfake.Delivery, error) {
	t.Helper()
	r, err := srv.Redeliver(id)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.Wait(ctx)
}

// TestGhfakeRedelivery: a delivery GitHub redelivers (same GUID) changes
// nothing.
func TestGhfakeRedelivery(t *testing.T) {
	env.Truncate(t)
	srv, _ := fakeGitHub(t)
	ctx := context.Background()
	org := srv.World().Organizations()[0]
	repo := srv.World().Repositories(org)[0].GetName()
	_, d, err := srv.InstallApp(ctx, org, nil)
	mustOK(t, "install", d, err)
	_, d, err = srv.OpenIssue(ctx, org, repo, ghfake.NewIssue{Title: "once"})
	mustOK(t, "open", d, err)
	before := rowCounts(t, env.DB)
	again, err := redeliver(t, srv, d.ID)
	if err != nil || again.StatusCode != http.StatusOK || !strings.Contains(string(again.ResponseBody), "duplicate") {
		t.Fatalf("redelivery: %v %d %s", err, again.StatusCode, again.ResponseBody)
	}
	after := rowCounts(t, env.DB)
	for table, n := range before {
		if after[table] != n {
			t.Errorf("%s: %d rows before the redelivery, %d after", table, n, after[table])
		}
	}
	assertMatchesWorld(t, srv, org, repo)
}

// TestGhfakeTransferIssue: a transferred issue leaves its repository and
// appears in the other with its comments, whichever delivery comes first.
func TestGhfakeTransferIssue(t *testing.T) {
	for _, reversed := range []bool{false, true} {
		t.Run(fmt.Sprintf("opened first=%v", reversed), func(t *testing.T) {
			env.Truncate(t)
			srv, h := fakeGitHub(t)
			ctx := context.Background()
			org := srv.World().Organizations()[0]
			repos := srv.World().Repositories(org)
			from, to := repos[0].GetName(), repos[1].GetName()
			_, d, err := srv.InstallApp(ctx, org, nil)
			mustOK(t, "install", d, err)
			_, d, err = srv.OpenIssue(ctx, org, from, ghfake.NewIssue{Title: "wrong place"})
			mustOK(t, "open", d, err)
			_, d, err = srv.CreateIssueComment(ctx, org, from, 1, "should be over there")
			mustOK(t, "comment", d, err)

			// Deliver the two transfer events ourselves, in the order asked.
			srv.SetWebhookURL("")
			_, ds, err := srv.TransferIssue(ctx, org, from, 1, org, to)
			if err != nil || len(ds) != 2 {
				t.Fatalf("transfer: %v %v", err, ds)
			}
			if reversed {
				ds[0], ds[1] = ds[1], ds[0]
			}
			for _, d := range ds {
				h.mustDeliver(t, d.Event, d.Payload, http.StatusOK)
			}
			assertMatchesWorld(t, srv, org, from)
			assertMatchesWorld(t, srv, org, to)
			if n := count(t, env.DB, "github_issue_comment", ""); n != 1 {
				t.Fatalf("%d comments stored, want the one that moved", n)
			}
		})
	}
}

// TestRedeliveryMakesNoGitHubCalls: the inline file fetch of a pull request
// delivery is not repeated when the same GUID is delivered again, since the
// redelivery changes nothing.
func TestRedeliveryMakesNoGitHubCalls(t *testing.T) {
	env.Truncate(t)
	srv, _ := fakeGitHub(t)
	ctx := context.Background()
	org := srv.World().Organizations()[0]
	repo := srv.World().Repositories(org)[0].GetName()
	_, d, err := srv.InstallApp(ctx, org, nil)
	mustOK(t, "install", d, err)
	srv.ResetStats()
	_, d, err = srv.OpenPullRequest(ctx, org, repo, ghfake.NewPull{Title: "inline files", Files: 4})
	mustOK(t, "open", d, err)
	if n := srv.Stats().Total.Requests; n == 0 {
		t.Fatal("the first delivery fetched no files inline; the test proves nothing")
	}
	srv.ResetStats()
	again, err := redeliver(t, srv, d.ID)
	if err != nil || again.StatusCode != http.StatusOK {
		t.Fatalf("redelivery: %v %d %s", err, again.StatusCode, again.ResponseBody)
	}
	if n := srv.Stats().Total.Requests; n != 0 {
		t.Fatalf("the redelivery of a processed GUID made %d GitHub requests, want 0", n)
	}
}

// withoutIssueSyncs leaves out the syncs of a new pull request's issue row
// (queued for every pull request whose issue is not stored yet), for the
// tests about its other follow-up work.
func withoutIssueSyncs(queued []jobs.ScanRequest) []jobs.ScanRequest {
	var out []jobs.ScanRequest
	for _, q := range queued {
		if q.Kind != jobs.JobSyncIssue {
			out = append(out, q)
		}
	}
	return out
}
