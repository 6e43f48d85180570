package process_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// Writes of whole pages, deletes, files, permissions, suspensions, errors.

// TestDeletes: every delete removes its row and what hangs off it, and is
// idempotent.
func TestDeletes(t *testing.T) {
	ctx := context.Background()
	// fill stores one of everything around the payloads' repository.
	fill := func(t *testing.T, exec *sql.Tx) (repoID int64, issue *github.Issue, pr *github.PullRequest) {
		iev := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent)
		repoID = storeRepo(t, exec, iev.Repo)
		mustOutcome(t, process.Written)(process.Issue(ctx, exec, repoID, iev.Issue, webhook(t0)))
		mustOutcome(t, process.Written)(process.IssueComment(ctx, exec, repoID, 0, iev.Comment, webhook(t0)))
		rev := payload(t, "pull_request_review_comment", "created.payload.json").(*github.PullRequestReviewCommentEvent)
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, rev.PullRequest, webhook(t0)))
		mustOutcome(t, process.Written)(process.PullRequestReviewComment(ctx, exec, rev.PullRequest.GetID(), rev.Comment, webhook(t0)))
		sev := payload(t, "pull_request_review", "submitted.payload.json").(*github.PullRequestReviewEvent)
		mustOutcome(t, process.Written)(process.PullRequestReview(ctx, exec, sev.PullRequest.GetID(), sev.Review, webhook(t0)))
		_, err := process.PullRequestFiles(ctx, exec, rev.PullRequest.GetID(), []*github.CommitFile{{Filename: ptr("README.md")}}, webhook(t0))
		must(t, err)
		must(t, process.UserRepositoryPermissionLevel(ctx, exec, 1, repoID, "admin", webhook(t0)))
		inst := payload(t, "installation", "created.payload.json").(*github.InstallationEvent)
		mustOutcome(t, process.Written)(process.Installation(ctx, exec, inst.Installation, webhook(t0)))
		must(t, process.SetInstallationRepositories(ctx, exec, inst.Installation.GetID(), []*github.Repository{iev.Repo}, webhook(t0)))
		return repoID, iev.Issue, rev.PullRequest
	}
	cases := []struct {
		name   string
		delete func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error
		gone   map[string]int // table => rows left
	}{
		{"issue", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeleteIssue(ctx, exec, is.GetID())
		}, map[string]int{"github_issue": 0, "github_issue_comment": 0, "github_issue_label_association": 0, "github_pull_request": 1}},
		{"issue comment", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeleteIssueComment(ctx, exec, payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent).Comment.GetID())
		}, map[string]int{"github_issue_comment": 0, "github_issue": 1}},
		{"label", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeleteLabel(ctx, exec, repoID, is.Labels[0].GetName())
		}, map[string]int{"github_issue_label": 0, "github_issue_label_association": 0, "github_pull_request_label_association": 0, "github_issue": 1}},
		{"milestone", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeleteMilestone(ctx, exec, repoID, is.Milestone.GetNumber())
		}, map[string]int{"github_milestone": 0, "github_issue WHERE milestone_number IS NOT NULL": 0, "github_issue": 1}},
		{"pull request", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeletePullRequest(ctx, exec, pr.GetID())
		}, map[string]int{"github_pull_request": 0, "github_pull_request_file": 0, "github_pull_request_review": 0, "github_pull_request_review_comment": 0, "github_pull_request_label_association": 0, "github_issue": 1}},
		{"review comment", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeletePullRequestReviewComment(ctx, exec, payload(t, "pull_request_review_comment", "created.payload.json").(*github.PullRequestReviewCommentEvent).Comment.GetID())
		}, map[string]int{"github_pull_request_review_comment": 0, "github_pull_request_review": 1}},
		{"review", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeletePullRequestReview(ctx, exec, payload(t, "pull_request_review", "submitted.payload.json").(*github.PullRequestReviewEvent).Review.GetID())
		}, map[string]int{"github_pull_request_review": 0, "github_pull_request_review_comment": 1}},
		{"permission", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeleteUserRepositoryAssociation(ctx, exec, 1, repoID, webhook(t0.Add(time.Minute)))
		}, map[string]int{"github_user_repository_association": 0, "github_repository": 1}},
		{"repository", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeleteRepository(ctx, exec, repoID)
		}, map[string]int{"github_repository WHERE id = " + fmt.Sprint(payloadRepoID): 0, "github_issue": 0, "github_issue_comment": 0,
			"github_issue_label": 0, "github_milestone": 0, "github_pull_request": 0, "github_pull_request_file": 0,
			"github_user_repository_association": 0, "github_installation_repository": 0, "github_user": 1}},
		{"installation", func(ctx context.Context, exec *sql.Tx, repoID int64, is *github.Issue, pr *github.PullRequest) error {
			return process.DeleteInstallation(ctx, exec, payload(t, "installation", "created.payload.json").(*github.InstallationEvent).Installation.GetID(), webhook(t0))
		}, map[string]int{"github_installation WHERE deleted_at IS NULL": 0, "github_installation": 1, "github_installation_repository": 0, "github_repository": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			repoID, is, pr := fill(t, exec)
			if len(is.Labels) == 0 || is.Milestone == nil {
				t.Fatal("the payload's issue should have a label and a milestone")
			}
			for table := range c.gone {
				if count(t, exec, `SELECT count(*) FROM `+table) == 0 {
					t.Fatalf("fill left %s empty", table)
				}
			}
			for range 2 {
				must(t, c.delete(ctx, exec, repoID, is, pr))
			}
			for table, want := range c.gone {
				if got := count(t, exec, `SELECT count(*) FROM `+table); (want == 0) != (got == 0) {
					t.Errorf("%s: %d rows after delete, want %d", table, got, want)
				}
			}
		})
	}
}

const payloadRepoID = 186853002

// TestPullRequestFiles: a page of 300 files in one call, rewritten, then
// swept after a complete scan.
func TestPullRequestFiles(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	pr := prEvent(t, "opened.payload.json").PullRequest
	mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, pr, webhook(t0)))
	files := make([]*github.CommitFile, 300)
	for i := range files {
		files[i] = &github.CommitFile{
			Filename: ptr(fmt.Sprintf("dir%d/file%03d.go", i%7, i)), SHA: ptr(fmt.Sprintf("%040d", i)),
			Status: ptr("modified"), Additions: ptr(i), Deletions: ptr(300 - i), Changes: ptr(300),
			Patch: ptr("@@ -1 +1 @@\n-a\n+b"), BlobURL: ptr("https://blob"), RawURL: ptr("https://raw"),
			ContentsURL: ptr("https://contents"),
		}
	}
	files[5].Status, files[5].PreviousFilename = ptr("renamed"), ptr("old/name.go")
	files[6].Patch = nil // too large for GitHub to include
	n, err := process.PullRequestFiles(ctx, exec, pr.GetID(), files, api(t0))
	must(t, err)
	eq(t, "written", n, 300)
	eq(t, "stored", count(t, exec, `SELECT count(*) FROM github_pull_request_file WHERE pull_request_id = $1`, pr.GetID()), 300)
	for _, i := range []int{0, 5, 6, 299} {
		f := files[i]
		row, err := models.FindGithubPullRequestFile(ctx, exec, pr.GetID(), f.GetFilename())
		must(t, err)
		eqStr(t, "sha", row.Sha, f.SHA)
		eqStr(t, "status", row.Status, f.Status)
		eqInt(t, "additions", row.Additions, f.Additions)
		eqInt(t, "deletions", row.Deletions, f.Deletions)
		eqInt(t, "changes", row.Changes, f.Changes)
		eqStr(t, "patch", row.Patch, f.Patch)
		eqStr(t, "previous_filename", row.PreviousFilename, f.PreviousFilename)
		eqStr(t, "blob_url", row.BlobURL, f.BlobURL)
		eqStr(t, "raw_url", row.RawURL, f.RawURL)
		eqStr(t, "contents_url", row.ContentsURL, f.ContentsURL)
		eq(t, "api stamp", row.LastReplicatedViaAPIAt.Time.Equal(t0), true)
	}

	// A second scan: the first 200 files changed (one listed twice), the
	// other 100 are gone.
	keep := make([]string, 0, 200)
	for _, f := range files[:200] {
		f.Additions = ptr(1000)
		keep = append(keep, f.GetFilename())
	}
	n, err = process.PullRequestFiles(ctx, exec, pr.GetID(), append(files[:200:200], files[0]), api(t0.Add(time.Hour)))
	must(t, err)
	eq(t, "rewritten", n, 200)
	removed, err := process.DeletePullRequestFilesExcept(ctx, exec, pr.GetID(), keep)
	must(t, err)
	eq(t, "removed", removed, int64(100))
	eq(t, "files with the new additions", count(t, exec, `SELECT count(*) FROM github_pull_request_file WHERE pull_request_id = $1 AND additions = 1000`, pr.GetID()), 200)

	removed, err = process.DeletePullRequestFilesExcept(ctx, exec, pr.GetID(), nil)
	must(t, err)
	eq(t, "removed by an empty scan", removed, int64(200))

	_, err = process.PullRequestFiles(ctx, exec, 42, files[:1], api(t0))
	isErr(t, err, process.ErrMissingParent)
}

// TestInstallationSuspension: the suspend and unsuspend payloads carry
// the state; the explicit functions do the same from an id.
func TestInstallationSuspension(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	sus := payload(t, "installation", "suspend.payload.json").(*github.InstallationEvent).Installation
	uns := payload(t, "installation", "unsuspend.payload.json").(*github.InstallationEvent).Installation
	id := sus.GetID()
	if sus.SuspendedAt == nil || uns.SuspendedAt != nil || uns.GetID() != id {
		t.Fatal("payloads changed")
	}
	for i, in := range []*github.Installation{sus, uns} {
		in.UpdatedAt = stamp(t0.Add(time.Duration(i) * time.Minute)) // this test's order, not the payloads' clocks
		_, err := process.Installation(ctx, exec, in, webhook(t0))
		must(t, err)
		checkInstallation(t, exec, in)
	}
	must(t, process.SuspendInstallation(ctx, exec, id, t0, "admin", webhook(t0)))
	row, err := models.FindGithubInstallation(ctx, exec, id)
	must(t, err)
	eq(t, "suspended_at", row.SuspendedAt.Time.Equal(t0), true)
	eq(t, "suspended_by", row.SuspendedByLogin.String, "admin")
	must(t, process.UnsuspendInstallation(ctx, exec, id, webhook(t0)))
	row, err = models.FindGithubInstallation(ctx, exec, id)
	must(t, err)
	eq(t, "suspended_at valid", row.SuspendedAt.Valid, false)
	must(t, process.DeleteInstallation(ctx, exec, id, webhook(t0.Add(time.Hour))))
	row, err = models.FindGithubInstallation(ctx, exec, id)
	must(t, err)
	eq(t, "deleted_at", row.DeletedAt.Time.Equal(t0.Add(time.Hour)), true)
}

// TestPermissions: member events carry a level, the collaborators API a
// permissions object.
func TestPermissions(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	repoID := storeRepo(t, exec, payload(t, "member", "added.payload.json").(*github.MemberEvent).Repo)
	for _, c := range []struct {
		level                               string
		pull, triage, push, maintain, admin bool
	}{
		{"admin", true, true, true, true, true},
		{"maintain", true, true, true, true, false},
		{"write", true, true, true, false, false},
		{"triage", true, true, false, false, false},
		{"read", true, false, false, false, false},
		{"none", false, false, false, false, false},
	} {
		must(t, process.UserRepositoryPermissionLevel(ctx, exec, 9, repoID, c.level, webhook(t0)))
		row, err := models.FindGithubUserRepositoryAssociation(ctx, exec, 9, repoID)
		must(t, err)
		got := [5]bool{row.CanPull, row.CanTriage, row.CanPush, row.CanMaintain, row.CanAdmin}
		if got != [5]bool{c.pull, c.triage, c.push, c.maintain, c.admin} {
			t.Errorf("%s: %v", c.level, got)
		}
		eq(t, "role_name", row.RoleName.String, c.level)
	}
	must(t, process.UserRepositoryPermission(ctx, exec, 9, repoID, map[string]bool{"pull": true, "push": true}, api(t0.Add(time.Minute))))
	row, err := models.FindGithubUserRepositoryAssociation(ctx, exec, 9, repoID)
	must(t, err)
	eq(t, "push", row.CanPush, true)
	eq(t, "admin", row.CanAdmin, false)
	// An older fetch does not undo it.
	must(t, process.UserRepositoryPermission(ctx, exec, 9, repoID, map[string]bool{"admin": true}, api(t0)))
	row, err = models.FindGithubUserRepositoryAssociation(ctx, exec, 9, repoID)
	must(t, err)
	eq(t, "admin after an older fetch", row.CanAdmin, false)
	isErr(t, process.UserRepositoryPermissionLevel(ctx, exec, 9, repoID, "owner", webhook(t0)), process.ErrInvalid)
}

// TestBatches: a page of issues, pull requests and comments in one call,
// duplicates included, newer-wins per row.
func TestBatches(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	base := issuesEvent(t, "opened.payload.json")
	repoID := storeRepo(t, exec, base.Repo)
	var page []*github.Issue
	for i := range 100 {
		is := issuesEvent(t, "opened.payload.json").Issue
		is.ID, is.Number = ptr(int64(1000+i)), ptr(1000+i)
		is.Title = ptr(fmt.Sprintf("issue %d", i))
		if i%2 == 0 {
			is.Labels = append(is.Labels, &github.Label{ID: ptr(int64(5000 + i%3)), Name: ptr(fmt.Sprintf("batch-%d", i%3)), Color: ptr("aaaaaa")})
		}
		page = append(page, is)
	}
	dup := *page[0]
	dup.Title = ptr("older duplicate")
	dup.UpdatedAt = stamp(dup.UpdatedAt.Add(-time.Hour))
	page = append(page, &dup)
	w, s, err := process.Issues(ctx, exec, repoID, page, api(t0))
	must(t, err)
	eq(t, "written", w, 100)
	eq(t, "stale", s, 0)
	for _, i := range []int{0, 1, 99} {
		checkIssue(t, exec, repoID, page[i])
	}

	// Half the page again, older: all stale.
	var older []*github.Issue
	for _, is := range page[:50] {
		c := *is
		c.UpdatedAt = stamp(c.UpdatedAt.Add(-time.Minute))
		c.Title = ptr("older")
		older = append(older, &c)
	}
	w, s, err = process.Issues(ctx, exec, repoID, older, api(t0))
	must(t, err)
	eq(t, "written", w, 0)
	eq(t, "stale", s, 50)
	eq(t, "titles kept", count(t, exec, `SELECT count(*) FROM github_issue WHERE title = 'older'`), 0)

	var comments []*github.IssueComment
	for i := range 100 {
		c := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent).Comment
		c.ID = ptr(int64(7000 + i))
		c.IssueURL = ptr(fmt.Sprintf("https://api.github.com/repos/o/r/issues/%d", 1000+i))
		comments = append(comments, c)
	}
	w, _, err = process.IssueComments(ctx, exec, repoID, 0, comments, api(t0))
	must(t, err)
	eq(t, "comments written", w, 100)
	checkIssueComment(t, exec, repoID, 1042, comments[42])

	var prs []*github.PullRequest
	for i := range 50 {
		pr := prEvent(t, "opened.payload.json").PullRequest
		pr.ID, pr.Number = ptr(int64(9000+i)), ptr(2000+i)
		prs = append(prs, pr)
	}
	w, s, err = process.PullRequests(ctx, exec, prs, api(t0))
	must(t, err)
	eq(t, "prs written", w, 50)
	eq(t, "prs stale", s, 0)
	checkPullRequest(t, exec, prs[17])

	var labels []*github.Label
	for i := range 30 {
		labels = append(labels, &github.Label{ID: ptr(int64(8000 + i)), Name: ptr(fmt.Sprintf("l%d", i)), Color: ptr("bbbbbb")})
	}
	w, _, err = process.Labels(ctx, exec, repoID, labels, api(t0))
	must(t, err)
	eq(t, "labels written", w, 30)
	checkLabel(t, exec, repoID, labels[29])
}

// TestErrors: bad objects wrap ErrInvalid, writes needing a missing parent
// wrap ErrMissingParent and name it.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	m := webhook(t0)
	invalid := []struct {
		name string
		call func(exec *sql.Tx) error
	}{
		{"nil user", func(e *sql.Tx) error { _, err := process.User(ctx, e, nil, m); return err }},
		{"user without id", func(e *sql.Tx) error { _, err := process.User(ctx, e, &github.User{Login: ptr("x")}, m); return err }},
		{"nil installation", func(e *sql.Tx) error { _, err := process.Installation(ctx, e, nil, m); return err }},
		{"installation without account", func(e *sql.Tx) error {
			_, err := process.Installation(ctx, e, &github.Installation{ID: ptr(int64(1))}, m)
			return err
		}},
		{"nil repository", func(e *sql.Tx) error { _, err := process.Repository(ctx, e, nil, m); return err }},
		{"repository without name", func(e *sql.Tx) error {
			_, err := process.Repository(ctx, e, &github.Repository{ID: ptr(int64(1))}, m)
			return err
		}},
		{"nil label", func(e *sql.Tx) error { _, err := process.Label(ctx, e, 1, nil, m); return err }},
		{"nil milestone", func(e *sql.Tx) error { _, err := process.Milestone(ctx, e, 1, nil, m); return err }},
		{"nil issue", func(e *sql.Tx) error { _, err := process.Issue(ctx, e, 1, nil, m); return err }},
		{"issue without number", func(e *sql.Tx) error {
			_, err := process.Issue(ctx, e, 1, &github.Issue{ID: ptr(int64(1))}, m)
			return err
		}},
		{"nil comment", func(e *sql.Tx) error { _, err := process.IssueComment(ctx, e, 1, 1, nil, m); return err }},
		{"comment without issue", func(e *sql.Tx) error {
			_, err := process.IssueComment(ctx, e, 1, 0, &github.IssueComment{ID: ptr(int64(1))}, m)
			return err
		}},
		{"nil pull request", func(e *sql.Tx) error { _, err := process.PullRequest(ctx, e, nil, m); return err }},
		{"pull request without base", func(e *sql.Tx) error {
			_, err := process.PullRequest(ctx, e, &github.PullRequest{ID: ptr(int64(1)), Number: ptr(1)}, m)
			return err
		}},
		{"file without name", func(e *sql.Tx) error {
			_, err := process.PullRequestFiles(ctx, e, 1, []*github.CommitFile{{}}, m)
			return err
		}},
		{"nil review", func(e *sql.Tx) error { _, err := process.PullRequestReview(ctx, e, 1, nil, m); return err }},
		{"nil review comment", func(e *sql.Tx) error { _, err := process.PullRequestReviewComment(ctx, e, 1, nil, m); return err }},
		{"no via", func(e *sql.Tx) error {
			_, err := process.User(ctx, e, &github.User{ID: ptr(int64(1)), Login: ptr("x")}, process.Meta{FetchedAt: t0})
			return err
		}},
		{"no fetched_at", func(e *sql.Tx) error {
			_, err := process.User(ctx, e, &github.User{ID: ptr(int64(1)), Login: ptr("x")}, process.Meta{Via: process.ViaAPI})
			return err
		}},
	}
	for _, c := range invalid {
		t.Run(c.name, func(t *testing.T) { isErr(t, c.call(tx(t)), process.ErrInvalid) })
	}

	ev := issuesEvent(t, "opened.payload.json")
	missing := []struct {
		name string
		call func(exec *sql.Tx) error
	}{
		{"issue", func(e *sql.Tx) error { _, err := process.Issue(ctx, e, 31337, ev.Issue, m); return err }},
		{"label", func(e *sql.Tx) error { _, err := process.Label(ctx, e, 31337, ev.Issue.Labels[0], m); return err }},
		{"milestone", func(e *sql.Tx) error { _, err := process.Milestone(ctx, e, 31337, ev.Issue.Milestone, m); return err }},
		{"comment", func(e *sql.Tx) error {
			_, err := process.IssueComment(ctx, e, 31337, 1, &github.IssueComment{ID: ptr(int64(1))}, m)
			return err
		}},
		{"review", func(e *sql.Tx) error {
			_, err := process.PullRequestReview(ctx, e, 31337, &github.PullRequestReview{ID: ptr(int64(1))}, m)
			return err
		}},
		{"permission", func(e *sql.Tx) error { return process.UserRepositoryPermissionLevel(ctx, e, 1, 31337, "read", m) }},
	}
	for _, c := range missing {
		t.Run("missing parent of "+c.name, func(t *testing.T) {
			err := c.call(tx(t))
			isErr(t, err, process.ErrMissingParent)
			if !strings.Contains(err.Error(), "31337") {
				t.Errorf("error %q does not name the missing parent 31337", err)
			}
		})
	}
}

// TestOtherBatches: users, repositories and milestones pages.
func TestOtherBatches(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	var users []*github.User
	var repos []*github.Repository
	for i := range 20 {
		u := &github.User{ID: ptr(int64(600 + i)), Login: ptr(fmt.Sprintf("u%d", i)), Name: ptr("n"), UpdatedAt: stamp(t0)}
		users = append(users, u)
		repos = append(repos, &github.Repository{ID: ptr(int64(700 + i)), Name: ptr(fmt.Sprintf("r%d", i)),
			FullName: ptr(fmt.Sprintf("u%d/r%d", i, i)), Owner: u, UpdatedAt: stamp(t0), Description: ptr("d")})
	}
	w, s, err := process.Users(ctx, exec, users, api(t0))
	must(t, err)
	eq(t, "users written", w, 20)
	eq(t, "users stale", s, 0)
	w, s, err = process.Repositories(ctx, exec, repos, api(t0))
	must(t, err)
	eq(t, "repos written", w, 20)
	checkRepository(t, exec, repos[3])
	for _, r := range repos {
		r.UpdatedAt = stamp(t0.Add(-time.Hour))
	}
	w, s, err = process.Repositories(ctx, exec, repos, api(t0))
	must(t, err)
	eq(t, "older repos written", w, 0)
	eq(t, "older repos stale", s, 20)

	var ms []*github.Milestone
	for i := range 10 {
		m := payload(t, "milestone", "created.payload.json").(*github.MilestoneEvent).Milestone
		m.ID, m.Number = ptr(int64(800+i)), ptr(800+i)
		ms = append(ms, m)
	}
	w, _, err = process.Milestones(ctx, exec, 700, ms, api(t0))
	must(t, err)
	eq(t, "milestones written", w, 10)
	checkMilestone(t, exec, 700, ms[9])
}
