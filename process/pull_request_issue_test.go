package process_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// TestPullRequestCarriesOverToItsIssue: GitHub sends only a pull_request
// event when a pull request is closed or labeled, so its write carries
// over to the pull request's issue row (state, title, labels, times), and
// an older pull request never overwrites a newer issue row.
func TestPullRequestCarriesOverToItsIssue(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// issueAge is how much older than the pull request the stored
		// issue row is (negative: newer).
		issueAge   time.Duration
		prLabels   []string // nil: the data carries no labels
		wantState  string
		wantLabels []string
	}{
		{name: "a closed pull request closes its issue", issueAge: time.Hour, prLabels: []string{"bug"},
			wantState: "closed", wantLabels: []string{"bug"}},
		{name: "labels removed on the pull request leave the issue", issueAge: time.Hour, prLabels: []string{},
			wantState: "closed", wantLabels: nil},
		{name: "without labels in the data the issue keeps its own", issueAge: time.Hour, prLabels: nil,
			wantState: "closed", wantLabels: []string{"stale-label"}},
		{name: "an older pull request leaves a newer issue alone", issueAge: -time.Hour, prLabels: []string{"bug"},
			wantState: "open", wantLabels: []string{"stale-label"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			pr := prEvent(t, "closed.payload.json").PullRequest
			repoID := storeRepo(t, exec, pr.Base.Repo)
			prAt := pr.GetUpdatedAt().Time
			issue := &github.Issue{
				ID: ptr(int64(990001)), Number: pr.Number, State: ptr("open"), Title: ptr("the old title"),
				User: pr.User, CreatedAt: pr.CreatedAt, UpdatedAt: stamp(prAt.Add(-c.issueAge)),
				PullRequestLinks: &github.PullRequestLinks{URL: pr.URL},
				Labels:           []*github.Label{{ID: ptr(int64(880001)), Name: ptr("stale-label"), Color: ptr("ffffff")}},
			}
			_, err := process.Issue(ctx, exec, repoID, issue, webhook(t0))
			must(t, err)
			pr.Labels = nil
			if c.prLabels != nil {
				pr.Labels = []*github.Label{}
				for i, name := range c.prLabels {
					pr.Labels = append(pr.Labels, &github.Label{ID: ptr(int64(880100 + i)), Name: ptr(name), Color: ptr("ff0000")})
				}
			}
			_, err = process.PullRequest(ctx, exec, pr, webhook(t0.Add(time.Minute)))
			must(t, err)

			row, err := models.FindGithubIssue(ctx, exec, issue.GetID())
			must(t, err)
			eq(t, "state", row.State, c.wantState)
			if c.wantState == "closed" {
				eq(t, "title", row.Title, pr.GetTitle())
				eqTime(t, "closed_at", row.ClosedAt, pr.ClosedAt)
				eqTime(t, "updated_at", row.UpdatedAt, pr.UpdatedAt)
			}
			links, err := models.GithubIssueLabelAssociations(
				models.GithubIssueLabelAssociationWhere.IssueID.EQ(issue.GetID())).All(ctx, exec)
			must(t, err)
			var got []string
			for _, l := range links {
				got = append(got, l.LabelName)
			}
			eq(t, "labels", len(got), len(c.wantLabels))
			for i := range got {
				eq(t, "label", got[i], c.wantLabels[i])
			}
		})
	}
}

// TestCommentCountOfAPullRequest: a comment on a pull request comes as an
// issue_comment event carrying the issue: the count reaches the pull
// request row too, and a later write of the pull request within the same
// second (updated_at equal) does not put its older count back on the
// issue.
func TestCommentCountOfAPullRequest(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	pr := prEvent(t, "closed.payload.json").PullRequest
	repoID := storeRepo(t, exec, pr.Base.Repo)
	at := pr.GetUpdatedAt()
	pr.Comments = ptr(4)
	_, err := process.PullRequest(ctx, exec, pr, webhook(t0))
	must(t, err)
	issue := &github.Issue{
		ID: ptr(int64(990002)), Number: pr.Number, State: ptr("closed"), Title: pr.Title,
		User: pr.User, CreatedAt: pr.CreatedAt, UpdatedAt: &at, Comments: ptr(4),
		PullRequestLinks: &github.PullRequestLinks{URL: pr.URL},
	}
	_, err = process.Issue(ctx, exec, repoID, issue, webhook(t0))
	must(t, err)

	// The comment, in the same second.
	issue.Comments = ptr(5)
	mustOutcome(t, process.Written)(process.Issue(ctx, exec, repoID, issue, webhook(t0.Add(time.Second))))
	prRow, err := models.FindGithubPullRequest(ctx, exec, pr.GetID())
	must(t, err)
	eqInt(t, "pull request comments_count", prRow.CommentsCount, ptr(5))

	// A later pull request write of that second whose data has no count
	// (a review's payload) keeps it on both rows.
	pr.Comments = nil
	_, err = process.PullRequest(ctx, exec, pr, webhook(t0.Add(2*time.Second)))
	must(t, err)
	row, err := models.FindGithubIssue(ctx, exec, issue.GetID())
	must(t, err)
	eqInt(t, "issue comments_count", row.CommentsCount, ptr(5))
	prRow, err = models.FindGithubPullRequest(ctx, exec, pr.GetID())
	must(t, err)
	eqInt(t, "pull request comments_count", prRow.CommentsCount, ptr(5))

	// One sent before the comment but processed after (as of an earlier
	// moment, the same second) is stale: the count stays.
	pr.Comments = ptr(4)
	mustOutcome(t, process.Stale)(process.PullRequest(ctx, exec, pr, webhook(t0.Add(500*time.Millisecond))))
	row, err = models.FindGithubIssue(ctx, exec, issue.GetID())
	must(t, err)
	eqInt(t, "issue comments_count after a stale pull request", row.CommentsCount, ptr(5))
}

// TestCommentCountWhicheverComesFirst: a pull request listed without its
// comment count (the API's list) and its issue row with the count (an
// issue_comment delivery), written in either order, leave the count on
// both rows.
func TestCommentCountWhicheverComesFirst(t *testing.T) {
	ctx := context.Background()
	for _, issueFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("issue first %v", issueFirst), func(t *testing.T) {
			exec := tx(t)
			pr := prEvent(t, "closed.payload.json").PullRequest
			repoID := storeRepo(t, exec, pr.Base.Repo)
			at := pr.GetUpdatedAt()
			pr.Comments = nil
			issue := &github.Issue{
				ID: ptr(int64(990003)), Number: pr.Number, State: ptr("closed"), Title: pr.Title,
				User: pr.User, CreatedAt: pr.CreatedAt, UpdatedAt: &at, Comments: ptr(3),
				PullRequestLinks: &github.PullRequestLinks{URL: pr.URL},
			}
			writeIssue := func() {
				_, err := process.Issue(ctx, exec, repoID, issue, webhook(t0))
				must(t, err)
			}
			writePull := func() {
				_, _, err := process.PullRequests(ctx, exec, []*github.PullRequest{pr}, api(t0.Add(time.Second)))
				must(t, err)
			}
			if issueFirst {
				writeIssue()
				writePull()
			} else {
				writePull()
				writeIssue()
			}
			prRow, err := models.FindGithubPullRequest(ctx, exec, pr.GetID())
			must(t, err)
			eqInt(t, "pull request comments_count", prRow.CommentsCount, ptr(3))
		})
	}
}

// TestPullRequestIssueRowWhicheverComesFirst: a pull request closed at T2
// and its issue row read open at T1 (an issue read that began before the
// close), written in either order, leave the issue row closed as of T2.
func TestPullRequestIssueRowWhicheverComesFirst(t *testing.T) {
	ctx := context.Background()
	for _, issueFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("issue first %v", issueFirst), func(t *testing.T) {
			exec := tx(t)
			pr := prEvent(t, "closed.payload.json").PullRequest
			repoID := storeRepo(t, exec, pr.Base.Repo)
			closed := pr.GetUpdatedAt()
			opened := github.Timestamp{Time: closed.Add(-time.Hour)}
			issue := &github.Issue{
				ID: ptr(int64(990004)), Number: pr.Number, State: ptr("open"), Title: pr.Title,
				User: pr.User, CreatedAt: pr.CreatedAt, UpdatedAt: &opened,
				PullRequestLinks: &github.PullRequestLinks{URL: pr.URL},
			}
			writeIssue := func() {
				_, err := process.Issue(ctx, exec, repoID, issue, api(t0))
				must(t, err)
			}
			writePull := func() {
				_, err := process.PullRequest(ctx, exec, pr, webhook(t0.Add(time.Second)))
				must(t, err)
			}
			if issueFirst {
				writeIssue()
				writePull()
			} else {
				writePull()
				writeIssue()
			}
			row, err := models.FindGithubIssue(ctx, exec, issue.GetID())
			must(t, err)
			eq(t, "issue state", row.State, pr.GetState())
			eqTime(t, "issue closed_at", row.ClosedAt, pr.ClosedAt)
			eqTime(t, "issue updated_at", row.UpdatedAt, pr.UpdatedAt)
		})
	}
}
