package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// GitHub lists at most 3,000 files of a pull request. A backfill stores
// the 3,000, takes the totals from the pull request object (fetching an
// open pull request alone only when its list was cut) and marks it
// files_truncated; a re-scan never replaces those totals by a sum.
func TestBackfillOfTruncatedFiles(t *testing.T) {
	ctx := context.Background()
	seed := &ghfake.SeedOptions{Seed: 3, Accounts: 1, Users: 3, ReposPerAccount: 1, PullsPerRepo: -1, IssuesPerRepo: -1,
		CommentsPerIssue: -1, LabelsPerRepo: -1, MilestonesPerRepo: -1, ReviewsPerPull: -1, ReviewCommentsPerPull: -1}
	h := newHarness(t, ghfake.Options{Seed: seed}, nil)
	h.start(4)
	owner, name := h.repo()
	tests := []struct {
		name   string
		files  int
		merged bool
		// wantRows is what GitHub lists; wantSync: the backfill fetches
		// the pull request alone.
		wantRows      int
		wantTruncated bool
		wantSync      bool
	}{
		{name: "open, over the cap", files: 3200, wantRows: 3000, wantTruncated: true, wantSync: true},
		{name: "merged, over the cap", files: 3100, merged: true, wantRows: 3000, wantTruncated: true, wantSync: true},
		{name: "open, a few files", files: 10, wantRows: 10},
		{name: "merged, a few files", files: 12, merged: true, wantRows: 12, wantSync: true},
	}
	numbers := map[string]int{}
	for _, tt := range tests {
		pr, _, err := h.gh.OpenPullRequest(ctx, owner, name, ghfake.NewPull{Title: tt.name, Files: tt.files})
		if err != nil {
			t.Fatal(err)
		}
		if tt.merged {
			if _, _, err := h.gh.MergePullRequest(ctx, owner, name, pr.GetNumber()); err != nil {
				t.Fatal(err)
			}
		}
		numbers[tt.name] = pr.GetNumber()
	}
	check := func(t *testing.T, scanID int64, rescan bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				n := numbers[tt.name]
				want := h.gh.World().PullRequest(owner, name, n)
				var rows, files, adds, dels int
				var truncated bool
				if err := h.deps.DB.QueryRow(`
					SELECT (SELECT count(*) FROM github_pull_request_file WHERE pull_request_id = p.id),
					       coalesce(changed_files, -1), coalesce(additions, -1), coalesce(deletions, -1), files_truncated
					FROM github_pull_request p WHERE id = $1`, want.GetID()).Scan(&rows, &files, &adds, &dels, &truncated); err != nil {
					t.Fatal(err)
				}
				if rows != tt.wantRows || truncated != tt.wantTruncated {
					t.Errorf("%d file rows, files_truncated %v; want %d, %v", rows, truncated, tt.wantRows, tt.wantTruncated)
				}
				if files != want.GetChangedFiles() || adds != want.GetAdditions() || dels != want.GetDeletions() {
					t.Errorf("totals %d files +%d -%d, GitHub's pull request %d +%d -%d", files, adds, dels,
						want.GetChangedFiles(), want.GetAdditions(), want.GetDeletions())
				}
				// Every scan of this test descends from scanID.
				var syncs int
				if err := h.deps.DB.QueryRow(`
					WITH RECURSIVE tree AS (SELECT id FROM scan WHERE id = $1
					    UNION ALL SELECT s.id FROM scan s JOIN tree ON s.parent_scan_id = tree.id)
					SELECT count(*) FROM scan WHERE id IN (SELECT id FROM tree) AND kind = $2 AND number = $3`,
					scanID, JobSyncPullRequest, n).Scan(&syncs); err != nil {
					t.Fatal(err)
				}
				if wantSyncs := map[bool]int{true: 1}[tt.wantSync && !rescan]; syncs != wantSyncs {
					t.Errorf("fetched alone %d times, want %d", syncs, wantSyncs)
				}
			})
		}
	}
	for _, round := range []struct {
		name   string
		rescan bool
	}{{"backfill", false}, {"full re-scan", true}} {
		t.Run(round.name, func(t *testing.T) {
			h.t = t
			id := h.scan(ScanRequest{Kind: CollectionPullRequests, Owner: owner, Repo: name, Children: true, Full: true, RequestedBy: "test"})
			h.waitIdle(2 * time.Minute)
			h.assertAllDone()
			check(t, id, round.rescan)
		})
	}
}
