package process_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// totals are a pull request row's counts as the test compares them.
type totals struct {
	files, adds, dels int
	truncated         bool
}

func storedTotals(t *testing.T, exec *sql.Tx, id int64) totals {
	t.Helper()
	pr, err := models.FindGithubPullRequest(context.Background(), exec, id)
	must(t, err)
	return totals{pr.ChangedFiles.Int, pr.Additions.Int, pr.Deletions.Int, pr.FilesTruncated}
}

// someFiles are n files of 2 additions and 1 deletion each, named by tag.
func someFiles(tag string, n int) []*github.CommitFile {
	out := make([]*github.CommitFile, n)
	for i := range out {
		out[i] = &github.CommitFile{Filename: ptr(fmt.Sprintf("%s/f%d.go", tag, i)), Status: ptr("modified"),
			Additions: ptr(2), Deletions: ptr(1), Changes: ptr(3)}
	}
	return out
}

// listed is pull request pr as the list endpoint gives it: no counts.
func listed(pr *github.PullRequest) *github.PullRequest {
	l := *pr
	l.Comments, l.ReviewComments, l.Commits, l.Additions, l.Deletions, l.ChangedFiles = nil, nil, nil, nil, nil, nil
	l.Merged, l.MergedBy, l.Mergeable, l.MergeableState, l.Rebaseable = nil, nil, nil, nil, nil
	return &l
}

// withCounts is pull request pr as GET of it gives it, with these totals.
func withCounts(pr *github.PullRequest, files, adds, dels int) *github.PullRequest {
	o := *pr
	o.ChangedFiles, o.Additions, o.Deletions = ptr(files), ptr(adds), ptr(dels)
	return &o
}

// GitHub lists at most 3,000 files: the totals are the pull request
// object's, the sum of the files serves only a pull request that was never
// fetched alone, and a list cut at the cap is marked.
func TestFilesScanTotalsAndTruncation(t *testing.T) {
	ctx := context.Background()
	base := prEvent(t, "opened.payload.json").PullRequest
	scan := func(t *testing.T, exec *sql.Tx, id int64, files []*github.CommitFile, at time.Time) {
		t.Helper()
		_, err := process.PullRequestFiles(ctx, exec, id, files, api(at))
		must(t, err)
		keep := make([]string, 0, len(files))
		for _, f := range files {
			keep = append(keep, f.GetFilename())
		}
		_, err = process.DeletePullRequestFilesExceptSince(ctx, exec, id, keep, at)
		must(t, err)
		must(t, process.StampFilesScanned(ctx, exec, id, at))
	}
	tests := []struct {
		name string
		// pr is written before the files scan.
		pr    *github.PullRequest
		files int
		want  totals
		// wantFetch: only GET of the pull request can give its totals.
		wantFetch bool
	}{
		{"over the cap: the object's totals, truncated", withCounts(base, 3200, 9000, 800), 3000,
			totals{3200, 9000, 800, true}, false},
		{"a few files: the object's totals", withCounts(base, 10, 5, 7), 10, totals{10, 5, 7, false}, false},
		{"exactly the cap is complete", withCounts(base, 3000, 6000, 3000), 3000, totals{3000, 6000, 3000, false}, false},
		{"listed only: the sum of the files", listed(base), 10, totals{10, 20, 10, false}, false},
		{"listed only at the cap: a lower bound, truncated", listed(base), 3000, totals{3000, 6000, 3000, true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec := tx(t)
			mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, tt.pr, api(t0)))
			scan(t, exec, tt.pr.GetID(), someFiles("a", tt.files), t0.Add(time.Minute))
			eq(t, "file rows", count(t, exec, `SELECT count(*) FROM github_pull_request_file WHERE pull_request_id = $1`, tt.pr.GetID()), tt.files)
			eq(t, "totals", storedTotals(t, exec, tt.pr.GetID()), tt.want)
			fetch, err := process.TruncatedWithoutTotals(ctx, exec, tt.pr.GetID())
			must(t, err)
			eq(t, "needs a fetch", fetch, tt.wantFetch)
		})
	}

	t.Run("a re-scan keeps the object's totals", func(t *testing.T) {
		exec := tx(t)
		pr := withCounts(base, 3200, 9000, 800)
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, pr, webhook(t0)))
		scan(t, exec, pr.GetID(), someFiles("a", 3000), t0.Add(time.Minute))
		// A newer list page (no counts) and a re-scan with other files.
		l := listed(pr)
		l.UpdatedAt = stamp(l.UpdatedAt.Add(time.Hour))
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, l, api(t0.Add(time.Hour))))
		scan(t, exec, pr.GetID(), someFiles("b", 40), t0.Add(2*time.Hour))
		eq(t, "totals", storedTotals(t, exec, pr.GetID()), totals{3200, 9000, 800, false})
	})
	t.Run("a re-scan refreshes a sum", func(t *testing.T) {
		exec := tx(t)
		l := listed(base)
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, l, api(t0)))
		scan(t, exec, l.GetID(), someFiles("a", 10), t0.Add(time.Minute))
		scan(t, exec, l.GetID(), someFiles("b", 4), t0.Add(time.Hour))
		eq(t, "totals", storedTotals(t, exec, l.GetID()), totals{4, 8, 4, false})
	})
	t.Run("the object arriving after the scan brings the totals", func(t *testing.T) {
		tests := []struct {
			name  string
			files int
			want  totals
		}{
			{"over the cap", 3200, totals{3200, 9000, 800, true}},
			{"exactly the cap", 3000, totals{3000, 9000, 800, false}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				exec := tx(t)
				l := listed(base)
				mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, l, api(t0)))
				scan(t, exec, l.GetID(), someFiles("a", 3000), t0.Add(time.Minute))
				// The single fetch of the pull request, same updated_at.
				mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, withCounts(base, tt.files, 9000, 800), api(t0.Add(time.Hour))))
				eq(t, "totals", storedTotals(t, exec, l.GetID()), tt.want)
			})
		}
	})
	t.Run("a complete inline list clears the mark", func(t *testing.T) {
		exec := tx(t)
		pr := withCounts(base, 3200, 9000, 800)
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, pr, webhook(t0)))
		scan(t, exec, pr.GetID(), someFiles("a", 3000), t0.Add(time.Minute))
		// Pushed down to 5 files: the webhook's object, then its files.
		small := withCounts(base, 5, 10, 5)
		small.UpdatedAt = stamp(small.UpdatedAt.Add(time.Hour))
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, small, webhook(t0.Add(time.Hour))))
		_, removed, err := process.SetPullRequestFiles(ctx, exec, pr.GetID(), someFiles("c", 5), webhook(t0.Add(time.Hour)))
		must(t, err)
		eq(t, "removed", removed, int64(3000))
		eq(t, "totals", storedTotals(t, exec, pr.GetID()), totals{5, 10, 5, false})
	})
}
