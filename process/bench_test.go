package process_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// Benchmarks report rows/s; each iteration is one transaction, committed,
// as a delivery or a backfill page is. Run with:
//
//	go test ./process/ -run '^$' -bench . -benchtime 3s

func BenchmarkPullRequestFiles(b *testing.B) {
	ctx := context.Background()
	setup, err := env.DB.BeginTx(ctx, nil)
	must(b, err)
	pr := prEvent(b, "opened.payload.json").PullRequest
	_, err = process.PullRequest(ctx, setup, pr, webhook(t0))
	must(b, err)
	must(b, setup.Commit())
	b.Cleanup(func() { env.Truncate(b) })

	files := make([]*github.CommitFile, 300)
	for i := range files {
		files[i] = &github.CommitFile{
			Filename: ptr(fmt.Sprintf("src/pkg%d/file%03d.go", i%10, i)), SHA: ptr(fmt.Sprintf("%040d", i)),
			Status: ptr("modified"), Additions: ptr(i), Deletions: ptr(i), Changes: ptr(2 * i),
			Patch: ptr("@@ -1,3 +1,3 @@\n-old line\n+new line\n context"), BlobURL: ptr("https://github.com/blob"),
			RawURL: ptr("https://github.com/raw"), ContentsURL: ptr("https://api.github.com/contents"),
		}
	}
	b.ResetTimer()
	rows := 0
	for i := 0; b.Loop(); i++ {
		tx, err := env.DB.BeginTx(ctx, nil)
		must(b, err)
		n, err := process.PullRequestFiles(ctx, tx, pr.GetID(), files, api(t0.Add(time.Duration(i)*time.Second)))
		must(b, err)
		must(b, tx.Commit())
		rows += n
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkIssue is one webhook's worth of work: the repository, then the
// issue with its user, milestone and labels, each time a newer version.
func BenchmarkIssue(b *testing.B) {
	ctx := context.Background()
	b.Cleanup(func() { env.Truncate(b) })
	ev := issuesEvent(b, "opened.payload.json")
	b.ResetTimer()
	rows := 0
	for i := 0; b.Loop(); i++ {
		ev.Issue.ID, ev.Issue.Number = ptr(int64(100000+i%1000)), ptr(100000+i%1000)
		ev.Issue.UpdatedAt = stamp(t0.Add(time.Duration(i) * time.Second))
		tx, err := env.DB.BeginTx(ctx, nil)
		must(b, err)
		_, err = process.Repository(ctx, tx, ev.Repo, webhook(t0))
		must(b, err)
		o, err := process.Issue(ctx, tx, ev.Repo.GetID(), ev.Issue, webhook(t0))
		must(b, err)
		must(b, tx.Commit())
		if o == process.Written {
			rows++
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// issuesPage is a backfill page of 100 distinct issues of the real
// issues.opened example.
func issuesPage(b *testing.B) []*github.Issue {
	page := make([]*github.Issue, 100)
	for i := range page {
		is := issuesEvent(b, "opened.payload.json").Issue
		is.ID, is.Number = ptr(int64(200000+i)), ptr(200000+i)
		page[i] = is
	}
	return page
}

// BenchmarkIssues is a backfill page of 100 issues.
func BenchmarkIssues(b *testing.B) {
	ctx := context.Background()
	b.Cleanup(func() { env.Truncate(b) })
	ev := issuesEvent(b, "opened.payload.json")
	page := issuesPage(b)
	b.ResetTimer()
	rows := 0
	for i := 0; b.Loop(); i++ {
		for _, is := range page {
			is.UpdatedAt = stamp(t0.Add(time.Duration(i) * time.Second))
		}
		tx, err := env.DB.BeginTx(ctx, nil)
		must(b, err)
		_, err = process.Repository(ctx, tx, ev.Repo, api(t0))
		must(b, err)
		w, _, err := process.Issues(ctx, tx, ev.Repo.GetID(), page, api(t0))
		must(b, err)
		must(b, tx.Commit())
		rows += w
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPullRequests is a backfill page of 100 pull requests.
func BenchmarkPullRequests(b *testing.B) {
	ctx := context.Background()
	b.Cleanup(func() { env.Truncate(b) })
	page := make([]*github.PullRequest, 100)
	for i := range page {
		pr := prEvent(b, "opened.payload.json").PullRequest
		pr.ID, pr.Number = ptr(int64(300000+i)), ptr(300000+i)
		page[i] = pr
	}
	b.ResetTimer()
	rows := 0
	for i := 0; b.Loop(); i++ {
		for _, pr := range page {
			pr.UpdatedAt = stamp(t0.Add(time.Duration(i) * time.Second))
		}
		tx, err := env.DB.BeginTx(ctx, nil)
		must(b, err)
		w, _, err := process.PullRequests(ctx, tx, page, api(t0))
		must(b, err)
		must(b, tx.Commit())
		rows += w
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
