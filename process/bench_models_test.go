package process_test

import (
	"context"
	"testing"
	"time"

	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// BenchmarkIssuesModelUpsert writes the page of BenchmarkIssues the way
// SQLBoiler's generated models would: one Upsert of the user and one of
// the issue per row. It is the reason process/ keeps its batched upserts
// hand-written (docs/design.md): compare its rows/s with BenchmarkIssues,
// which also keeps the newer-wins rule that Upsert has no way to express.
func BenchmarkIssuesModelUpsert(b *testing.B) {
	ctx := context.Background()
	b.Cleanup(func() { env.Truncate(b) })
	ev := issuesEvent(b, "opened.payload.json")
	page := issuesPage(b)
	userCols := boil.Whitelist(models.GithubUserColumns.ID, models.GithubUserColumns.Login,
		models.GithubUserColumns.Type, models.GithubUserColumns.SiteAdmin, models.GithubUserColumns.LastReplicatedViaAPIAt)
	issueCols := boil.Whitelist(models.GithubIssueColumns.ID, models.GithubIssueColumns.RepoID,
		models.GithubIssueColumns.Number, models.GithubIssueColumns.State, models.GithubIssueColumns.Title,
		models.GithubIssueColumns.Body, models.GithubIssueColumns.UserID, models.GithubIssueColumns.UserLogin,
		models.GithubIssueColumns.CommentsCount, models.GithubIssueColumns.Locked, models.GithubIssueColumns.HTMLURL,
		models.GithubIssueColumns.CreatedAt, models.GithubIssueColumns.UpdatedAt, models.GithubIssueColumns.LastReplicatedViaAPIAt)
	b.ResetTimer()
	rows := 0
	for i := 0; b.Loop(); i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		tx, err := env.DB.BeginTx(ctx, nil)
		must(b, err)
		_, err = process.Repository(ctx, tx, ev.Repo, api(t0))
		must(b, err)
		for _, is := range page {
			u := is.GetUser()
			user := models.GithubUser{ID: u.GetID(), Login: u.GetLogin(), Type: null.StringFrom(u.GetType()),
				SiteAdmin: null.BoolFrom(u.GetSiteAdmin()), LastReplicatedViaAPIAt: null.TimeFrom(t0)}
			must(b, user.Upsert(ctx, tx, true, []string{models.GithubUserColumns.ID}, userCols, userCols))
			row := models.GithubIssue{ID: is.GetID(), RepoID: ev.Repo.GetID(), Number: is.GetNumber(),
				State: is.GetState(), Title: is.GetTitle(), Body: null.StringFrom(is.GetBody()),
				UserID: null.Int64From(u.GetID()), UserLogin: null.StringFrom(u.GetLogin()),
				CommentsCount: null.IntFrom(is.GetComments()), Locked: null.BoolFrom(is.GetLocked()),
				HTMLURL: null.StringFrom(is.GetHTMLURL()), CreatedAt: null.TimeFrom(is.GetCreatedAt().Time),
				UpdatedAt: null.TimeFrom(at), LastReplicatedViaAPIAt: null.TimeFrom(t0)}
			must(b, row.Upsert(ctx, tx, true, []string{models.GithubIssueColumns.ID}, issueCols, issueCols))
			rows++
		}
		must(b, tx.Commit())
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
