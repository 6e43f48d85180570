package process_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// buryRepository stores the payloads' repository with an issue, a comment,
// a pull request with a review and a review comment, a label, a milestone
// and a permission, then deletes and buries it as repository.deleted does.
func buryRepository(t *testing.T, x *sql.Tx) *github.Repository {
	t.Helper()
	ctx := context.Background()
	iev := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent)
	repoID := storeRepo(t, x, iev.Repo)
	mustOutcome(t, process.Written)(process.Issue(ctx, x, repoID, iev.Issue, webhook(t0)))
	mustOutcome(t, process.Written)(process.IssueComment(ctx, x, repoID, 0, iev.Comment, webhook(t0)))
	rev := payload(t, "pull_request_review_comment", "created.payload.json").(*github.PullRequestReviewCommentEvent)
	mustOutcome(t, process.Written)(process.PullRequest(ctx, x, rev.PullRequest, webhook(t0)))
	mustOutcome(t, process.Written)(process.PullRequestReviewComment(ctx, x, rev.PullRequest.GetID(), rev.Comment, webhook(t0)))
	must(t, process.UserRepositoryPermissionLevel(ctx, x, 1, repoID, "admin", webhook(t0)))
	must(t, process.DeleteRepository(ctx, x, repoID))
	must(t, process.Bury(ctx, x, process.KindRepository, repoID, webhook(t0)))
	return iev.Repo
}

// TestBuriedRepositoryStaysDeleted: after a repository is buried, no late
// write of it or of anything under it is stored, whether single, in a
// page or nested; a new repository under the same name is.
func TestBuriedRepositoryStaysDeleted(t *testing.T) {
	ctx := context.Background()
	late := t0.Add(time.Hour) // newer data than what was stored: only the tombstone refuses it
	iev := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent)
	rev := payload(t, "pull_request_review_comment", "created.payload.json").(*github.PullRequestReviewCommentEvent)
	sev := payload(t, "pull_request_review", "submitted.payload.json").(*github.PullRequestReviewEvent)
	repoID := iev.Repo.GetID()
	inst := installationEvent(t, "created.payload.json").Installation
	tests := []struct {
		name  string
		write func(x *sql.Tx) (process.Outcome, error)
		// want is the outcome; left counts rows that must stay 0.
		want process.Outcome
		left string
	}{
		{"repository", func(x *sql.Tx) (process.Outcome, error) {
			return process.Repository(ctx, x, iev.Repo, webhook(late))
		}, process.Stale, `SELECT count(*) FROM github_repository`},
		{"repository in a page", func(x *sql.Tx) (process.Outcome, error) {
			w, _, err := process.Repositories(ctx, x, []*github.Repository{iev.Repo}, api(late))
			return outcomeOf(w), err
		}, process.Stale, `SELECT count(*) FROM github_repository`},
		{"repository listed by its installation", func(x *sql.Tx) (process.Outcome, error) {
			mustOutcome(t, process.Written)(process.Installation(ctx, x, inst, webhook(late)))
			if err := process.SetInstallationRepositories(ctx, x, inst.GetID(), []*github.Repository{iev.Repo}, api(late)); err != nil {
				return 0, err
			}
			return process.Stale, process.LinkInstallationRepository(ctx, x, inst.GetID(), repoID)
		}, process.Stale, `SELECT (SELECT count(*) FROM github_repository) + (SELECT count(*) FROM github_installation_repository)`},
		{"issue", func(x *sql.Tx) (process.Outcome, error) {
			return process.Issue(ctx, x, repoID, iev.Issue, webhook(late))
		}, process.Stale, `SELECT (SELECT count(*) FROM github_issue) + (SELECT count(*) FROM github_issue_label) + (SELECT count(*) FROM github_milestone)`},
		{"issue comment", func(x *sql.Tx) (process.Outcome, error) {
			return process.IssueComment(ctx, x, repoID, iev.Issue.GetNumber(), iev.Comment, webhook(late))
		}, process.Stale, `SELECT count(*) FROM github_issue_comment`},
		{"pull request", func(x *sql.Tx) (process.Outcome, error) {
			return process.PullRequest(ctx, x, rev.PullRequest, webhook(late))
		}, process.Stale, `SELECT (SELECT count(*) FROM github_pull_request) + (SELECT count(*) FROM github_repository)`},
		{"review after its pull request", func(x *sql.Tx) (process.Outcome, error) {
			mustOutcome(t, process.Stale)(process.PullRequest(ctx, x, sev.PullRequest, webhook(late)))
			return process.PullRequestReview(ctx, x, sev.PullRequest.GetID(), sev.Review, webhook(late))
		}, process.Stale, `SELECT count(*) FROM github_pull_request_review`},
		{"review comment after its pull request", func(x *sql.Tx) (process.Outcome, error) {
			mustOutcome(t, process.Stale)(process.PullRequest(ctx, x, rev.PullRequest, webhook(late)))
			return process.PullRequestReviewComment(ctx, x, rev.PullRequest.GetID(), rev.Comment, webhook(late))
		}, process.Stale, `SELECT count(*) FROM github_pull_request_review_comment`},
		{"label", func(x *sql.Tx) (process.Outcome, error) {
			return process.Label(ctx, x, repoID, &github.Label{ID: ptr(int64(4242)), Name: ptr("late"), Color: ptr("ffffff")}, webhook(late))
		}, process.Stale, `SELECT count(*) FROM github_issue_label`},
		{"milestone", func(x *sql.Tx) (process.Outcome, error) {
			return process.Milestone(ctx, x, repoID, &github.Milestone{ID: ptr(int64(4343)), Number: ptr(9), Title: ptr("late")}, webhook(late))
		}, process.Stale, `SELECT count(*) FROM github_milestone`},
		{"permission", func(x *sql.Tx) (process.Outcome, error) {
			return process.Stale, process.UserRepositoryPermissionLevel(ctx, x, 1, repoID, "admin", webhook(late))
		}, process.Stale, `SELECT count(*) FROM github_user_repository_association`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := tx(t)
			buryRepository(t, x)
			mustOutcome(t, tc.want)(tc.write(x))
			if n := count(t, x, tc.left); n != 0 {
				t.Fatalf("a late write brought back %d rows (%s)", n, tc.left)
			}
		})
	}

	t.Run("a new repository under the same name", func(t *testing.T) {
		x := tx(t)
		buryRepository(t, x)
		again := *iev.Repo
		again.ID, again.NodeID = ptr(repoID+1), ptr("new-node")
		mustOutcome(t, process.Written)(process.Repository(ctx, x, &again, webhook(t0)))
		mustOutcome(t, process.Written)(process.Issue(ctx, x, again.GetID(), iev.Issue, webhook(t0)))
		pr := *rev.PullRequest
		pr.ID = ptr(rev.PullRequest.GetID() + 1)
		base := *pr.Base
		base.Repo = &again
		pr.Base, pr.Head = &base, &base
		mustOutcome(t, process.Written)(process.PullRequest(ctx, x, &pr, webhook(t0)))
		mustOutcome(t, process.Written)(process.PullRequestReview(ctx, x, pr.GetID(), sev.Review, webhook(t0)))
		if n := count(t, x, `SELECT count(*) FROM github_repository WHERE full_name = $1`, iev.Repo.GetFullName()); n != 1 {
			t.Fatalf("%d repositories named %s, want the new one", n, iev.Repo.GetFullName())
		}
	})
}

func outcomeOf(written int) process.Outcome {
	if written > 0 {
		return process.Written
	}
	return process.Stale
}

// TestRevokedAccess: repositories that leave the last live installation
// are marked uncovered; the private ones (with their children) are removed
// at once or after the retention, the public ones stay marked, and one
// covered again is unmarked.
func TestRevokedAccess(t *testing.T) {
	ctx := context.Background()
	iev := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent)
	inst := installationEvent(t, "created.payload.json").Installation
	other := *inst
	other.ID = ptr(inst.GetID() + 1)
	public := iev.Repo
	private := otherRepo(iev.Repo, public.GetID()+1)
	private.Private = ptr(true)
	shared := otherRepo(iev.Repo, public.GetID()+2) // private, also in the other installation
	shared.Private, shared.FullName, shared.Name = ptr(true), ptr(public.GetOwner().GetLogin()+"/shared"), ptr("shared")
	// setup: both installations live, every repository with an issue and a
	// comment, the first installation covering all three.
	setup := func(t *testing.T) *sql.Tx {
		x := tx(t)
		for _, in := range []*github.Installation{inst, &other} {
			mustOutcome(t, process.Written)(process.Installation(ctx, x, in, webhook(t0)))
		}
		for i, r := range []*github.Repository{public, private, shared} {
			storeRepo(t, x, r)
			is := *iev.Issue
			is.ID = ptr(iev.Issue.GetID() + int64(i))
			is.Milestone, is.Labels = nil, nil // their ids are unique across repositories
			mustOutcome(t, process.Written)(process.Issue(ctx, x, r.GetID(), &is, webhook(t0)))
			c := *iev.Comment
			c.ID = ptr(iev.Comment.GetID() + int64(i))
			mustOutcome(t, process.Written)(process.IssueComment(ctx, x, r.GetID(), is.GetNumber(), &c, webhook(t0)))
		}
		must(t, process.SetInstallationRepositories(ctx, x, inst.GetID(), []*github.Repository{public, private, shared}, webhook(t0)))
		must(t, process.SetInstallationRepositories(ctx, x, other.GetID(), []*github.Repository{shared}, webhook(t0)))
		return x
	}
	uncoveredAt := t0.Add(time.Minute)
	revoke := map[string]func(t *testing.T, x *sql.Tx){
		"installation deleted": func(t *testing.T, x *sql.Tx) {
			must(t, process.DeleteInstallation(ctx, x, inst.GetID(), webhook(uncoveredAt)))
		},
		"repositories removed": func(t *testing.T, x *sql.Tx) {
			must(t, process.InstallationRepositories(ctx, x, inst.GetID(), nil, []*github.Repository{public, private, shared}, webhook(uncoveredAt)))
		},
		"left out of a complete list": func(t *testing.T, x *sql.Tx) {
			must(t, process.SetInstallationRepositories(ctx, x, inst.GetID(), nil, webhook(uncoveredAt)))
		},
	}
	// marked: repository id => uncovered_at is set.
	marked := func(t *testing.T, x *sql.Tx) map[int64]bool {
		t.Helper()
		out := map[int64]bool{}
		for _, r := range []*github.Repository{public, private, shared} {
			out[r.GetID()] = count(t, x, `SELECT count(*) FROM github_repository WHERE id = $1 AND uncovered_at = $2`, r.GetID(), uncoveredAt) == 1
		}
		return out
	}
	stored := func(t *testing.T, x *sql.Tx, id int64) int {
		t.Helper()
		return count(t, x, `SELECT (SELECT count(*) FROM github_repository WHERE id = $1)
			+ (SELECT count(*) FROM github_issue WHERE repo_id = $1) + (SELECT count(*) FROM github_issue_comment WHERE repo_id = $1)`, id)
	}
	for name, end := range revoke {
		t.Run(name, func(t *testing.T) {
			x := setup(t)
			end(t, x)
			want := map[int64]bool{public.GetID(): true, private.GetID(): true, shared.GetID(): false}
			if got := marked(t, x); got[public.GetID()] != want[public.GetID()] || got[private.GetID()] != want[private.GetID()] || got[shared.GetID()] != want[shared.GetID()] {
				t.Fatalf("uncovered %v, want %v", got, want)
			}

			// A retention not yet over removes nothing.
			n, err := process.DeleteRevokedPrivateRepositories(ctx, x, uncoveredAt, 1)
			must(t, err)
			if n != 0 || stored(t, x, private.GetID()) != 3 {
				t.Fatalf("removed %d repositories before the retention was over", n)
			}
			// Over: the private one goes, one row per statement.
			n, err = process.DeleteRevokedPrivateRepositories(ctx, x, uncoveredAt.Add(time.Second), 1)
			must(t, err)
			if n != 1 || stored(t, x, private.GetID()) != 0 {
				t.Fatalf("removed %d repositories, %d rows of the private one left; want 1, 0", n, stored(t, x, private.GetID()))
			}
			if stored(t, x, public.GetID()) != 3 || stored(t, x, shared.GetID()) != 3 {
				t.Fatal("the public repository or the one still covered lost rows")
			}
		})
	}

	t.Run("at once", func(t *testing.T) {
		x := setup(t)
		must(t, process.DeleteInstallation(ctx, x, inst.GetID(), webhook(uncoveredAt)))
		n, err := process.DeleteUncoveredPrivateRepositories(ctx, x, []int64{public.GetID(), private.GetID(), shared.GetID()})
		must(t, err)
		if n != 1 || stored(t, x, private.GetID()) != 0 || stored(t, x, public.GetID()) != 3 || stored(t, x, shared.GetID()) != 3 {
			t.Fatalf("removed %d; want only the private uncovered one", n)
		}
	})

	t.Run("covered again", func(t *testing.T) {
		x := setup(t)
		must(t, process.InstallationRepositories(ctx, x, inst.GetID(), nil, []*github.Repository{public, private}, webhook(uncoveredAt)))
		must(t, process.LinkInstallationRepository(ctx, x, other.GetID(), private.GetID()))
		must(t, process.InstallationRepositories(ctx, x, inst.GetID(), []*github.Repository{public}, nil, webhook(uncoveredAt)))
		if got := marked(t, x); got[public.GetID()] || got[private.GetID()] {
			t.Fatalf("uncovered %v after both were linked again", got)
		}
		n, err := process.DeleteRevokedPrivateRepositories(ctx, x, uncoveredAt.Add(time.Hour), 10)
		must(t, err)
		if n != 0 {
			t.Fatalf("removed %d repositories covered again", n)
		}
	})
}
