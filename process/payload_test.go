package process_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// apply does with a parsed webhook what a handler does: the payload's
// repository first, then the event's object. It returns a check that reads
// the rows back and compares them with the payload.
func apply(t *testing.T, exec *sql.Tx, ev any, m process.Meta) func() {
	t.Helper()
	ctx := context.Background()
	repo := func(r *github.Repository) int64 {
		t.Helper()
		if _, err := process.Repository(ctx, exec, r, m); err != nil {
			t.Fatal(err)
		}
		return r.GetID()
	}
	switch e := ev.(type) {
	case *github.InstallationEvent:
		if _, err := process.Installation(ctx, exec, e.Installation, m); err != nil {
			t.Fatal(err)
		}
		if e.GetAction() == "created" || e.Repositories != nil {
			must(t, process.SetInstallationRepositories(ctx, exec, e.Installation.GetID(), e.Repositories, m))
		}
		return func() {
			checkInstallation(t, exec, e.Installation)
			for _, r := range e.Repositories {
				row, err := models.FindGithubRepository(ctx, exec, r.GetID())
				if err != nil {
					t.Fatalf("listed repository %d: %v", r.GetID(), err)
				}
				eq(t, "repo.full_name", row.FullName, r.GetFullName())
				eq(t, "repo.name", row.Name, r.GetName())
				eqBool(t, "repo.private", row.Private, r.Private)
				eq(t, "repo.owner_login", row.OwnerLogin, strings.Split(r.GetFullName(), "/")[0])
			}
			eq(t, "installation repositories", count(t, exec, `SELECT count(*) FROM github_installation_repository WHERE installation_id = $1`, e.Installation.GetID()), len(e.Repositories))
		}
	case *github.InstallationRepositoriesEvent:
		if _, err := process.Installation(ctx, exec, e.Installation, m); err != nil {
			t.Fatal(err)
		}
		// Listed before, so that "removed" has something to remove.
		must(t, process.SetInstallationRepositories(ctx, exec, e.Installation.GetID(), e.RepositoriesRemoved, m))
		must(t, process.InstallationRepositories(ctx, exec, e.Installation.GetID(), e.RepositoriesAdded, e.RepositoriesRemoved, m))
		return func() {
			checkInstallation(t, exec, e.Installation)
			for _, r := range e.RepositoriesAdded {
				if _, err := models.FindGithubInstallationRepository(ctx, exec, e.Installation.GetID(), r.GetID()); err != nil {
					t.Errorf("added repository %d not linked: %v", r.GetID(), err)
				}
				row, err := models.FindGithubRepository(ctx, exec, r.GetID())
				if err != nil {
					t.Fatalf("added repository %d: %v", r.GetID(), err)
				}
				eq(t, "repo.full_name", row.FullName, r.GetFullName())
			}
			for _, r := range e.RepositoriesRemoved {
				eq(t, "removed link", count(t, exec, `SELECT count(*) FROM github_installation_repository WHERE installation_id = $1 AND repo_id = $2`, e.Installation.GetID(), r.GetID()), 0)
			}
		}
	case *github.RepositoryEvent:
		repo(e.Repo)
		return func() {
			checkRepository(t, exec, e.Repo)
			checkStamp(t, exec, "github_repository", "id = $1", m, e.Repo.GetID())
		}
	case *github.IssuesEvent:
		id := repo(e.Repo)
		mustOutcome(t, process.Written)(process.Issue(ctx, exec, id, e.Issue, m))
		return func() {
			checkIssue(t, exec, id, e.Issue)
			checkStamp(t, exec, "github_issue", "id = $1", m, e.Issue.GetID())
		}
	case *github.IssueCommentEvent:
		id := repo(e.Repo)
		mustOutcome(t, process.Written)(process.Issue(ctx, exec, id, e.Issue, m))
		// 0: the number comes from the comment's issue_url.
		mustOutcome(t, process.Written)(process.IssueComment(ctx, exec, id, 0, e.Comment, m))
		return func() {
			checkIssue(t, exec, id, e.Issue)
			checkIssueComment(t, exec, id, e.Issue.GetNumber(), e.Comment)
			checkStamp(t, exec, "github_issue_comment", "id = $1", m, e.Comment.GetID())
		}
	case *github.LabelEvent:
		id := repo(e.Repo)
		mustOutcome(t, process.Written)(process.Label(ctx, exec, id, e.Label, m))
		return func() {
			checkLabel(t, exec, id, e.Label)
			checkStamp(t, exec, "github_issue_label", "id = $1", m, e.Label.GetID())
		}
	case *github.MilestoneEvent:
		id := repo(e.Repo)
		mustOutcome(t, process.Written)(process.Milestone(ctx, exec, id, e.Milestone, m))
		return func() {
			checkMilestone(t, exec, id, e.Milestone)
			checkUser(t, exec, e.Milestone.Creator)
			checkStamp(t, exec, "github_milestone", "id = $1", m, e.Milestone.GetID())
		}
	case *github.PullRequestEvent:
		repo(e.Repo)
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, e.PullRequest, m))
		return func() {
			checkPullRequest(t, exec, e.PullRequest)
			checkStamp(t, exec, "github_pull_request", "id = $1", m, e.PullRequest.GetID())
		}
	case *github.PullRequestReviewEvent:
		repo(e.Repo)
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, e.PullRequest, m))
		mustOutcome(t, process.Written)(process.PullRequestReview(ctx, exec, e.PullRequest.GetID(), e.Review, m))
		return func() {
			checkPullRequest(t, exec, e.PullRequest)
			checkReview(t, exec, e.PullRequest.GetID(), e.Review)
			checkUser(t, exec, e.Review.User)
			checkStamp(t, exec, "github_pull_request_review", "id = $1", m, e.Review.GetID())
		}
	case *github.PullRequestReviewCommentEvent:
		repo(e.Repo)
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, e.PullRequest, m))
		mustOutcome(t, process.Written)(process.PullRequestReviewComment(ctx, exec, e.PullRequest.GetID(), e.Comment, m))
		return func() {
			checkPullRequest(t, exec, e.PullRequest)
			checkReviewComment(t, exec, e.PullRequest.GetID(), e.Comment)
			checkUser(t, exec, e.Comment.User)
			checkStamp(t, exec, "github_pull_request_review_comment", "id = $1", m, e.Comment.GetID())
		}
	case *github.MemberEvent:
		id := repo(e.Repo)
		mustOutcome(t, process.Written)(process.User(ctx, exec, e.Member, m))
		must(t, process.UserRepositoryPermissionLevel(ctx, exec, e.Member.GetID(), id, "write", m))
		return func() {
			checkUser(t, exec, e.Member)
			row, err := models.FindGithubUserRepositoryAssociation(ctx, exec, e.Member.GetID(), id)
			if err != nil {
				t.Fatalf("permission: %v", err)
			}
			eq(t, "can_pull", row.CanPull, true)
			eq(t, "can_push", row.CanPush, true)
			eq(t, "can_admin", row.CanAdmin, false)
			eq(t, "role_name", row.RoleName.String, "write")
		}
	}
	t.Fatalf("no apply for %T", ev)
	return nil
}

// TestPayloads writes every real payload, reads the rows back field by
// field, then writes it again (a redelivery) and checks nothing changed.
func TestPayloads(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(payloadDir(), "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no payloads in %s: %v", payloadDir(), err)
	}
	tested := 0
	for _, f := range files {
		event := filepath.Base(filepath.Dir(f))
		if event == "ping" {
			continue // nothing to store
		}
		name := event + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			tested++
			exec := tx(t)
			for _, m := range []process.Meta{webhook(t0), api(t0.Add(1))} {
				check := apply(t, exec, payload(t, event, filepath.Base(f)), m)
				check()
			}
			before := snapshot(t, exec)
			check := apply(t, exec, payload(t, event, filepath.Base(f)), api(t0.Add(1)))
			check()
			if after := snapshot(t, exec); after != before {
				t.Errorf("writing the same payload again changed the database:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	if tested < 40 {
		t.Errorf("only %d payloads tested", tested)
	}
}

// snapshot is a digest of every replica table, to compare before and after.
func snapshot(t testing.TB, exec *sql.Tx) string {
	t.Helper()
	tables := []string{"github_user", "github_installation", "github_installation_repository",
		"github_repository", "github_user_repository_association", "github_milestone",
		"github_issue_label", "github_issue", "github_issue_label_association", "github_issue_comment",
		"github_pull_request", "github_pull_request_label_association", "github_pull_request_file",
		"github_pull_request_review", "github_pull_request_review_comment"}
	var b strings.Builder
	for _, table := range tables {
		var digest sql.NullString
		q := `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM ` + table + ` t`
		if err := exec.QueryRow(q).Scan(&digest); err != nil {
			t.Fatalf("snapshot %s: %v", table, err)
		}
		b.WriteString(table + "=" + digest.String + " ")
	}
	return b.String()
}
