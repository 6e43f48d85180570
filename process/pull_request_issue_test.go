package process_test

import (
	"context"
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
