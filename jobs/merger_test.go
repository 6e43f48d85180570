package jobs

import (
	"sort"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// The pull request list has no merged_by: a load with children fetches
// each merged pull request once (never an open one), and a pull request
// fetched before is asked again with its ETag, which costs nothing.
func TestMergedPullRequestsFetchedForTheirMerger(t *testing.T) {
	seed := &ghfake.SeedOptions{Seed: 11, Accounts: 1, Users: 5, ReposPerAccount: 1, PullsPerRepo: 40,
		IssuesPerRepo: -1, MaxFilesPerPull: 5, CommentsPerIssue: -1, LabelsPerRepo: 1, MilestonesPerRepo: -1,
		ReviewsPerPull: -1, ReviewCommentsPerPull: -1}
	h := newHarness(t, ghfake.Options{Seed: seed}, nil)
	h.start(4)
	owner, name := h.repo()
	var merged, open []int
	for _, pr := range h.gh.World().PullRequests(owner, name) {
		switch {
		case pr.MergedAt != nil:
			merged = append(merged, pr.GetNumber())
		case pr.GetState() == "open":
			open = append(open, pr.GetNumber())
		}
	}
	sort.Ints(merged)
	if len(merged) == 0 || len(open) == 0 {
		t.Fatalf("the seed has %d merged and %d open pull requests; want some of each", len(merged), len(open))
	}

	tests := []struct {
		name string
		// before runs ahead of the scan.
		before func(t *testing.T)
		full   bool
		// wantSyncs are the pull requests this scan fetches one by one.
		wantSyncs []int
		// wantSpent is the rate limit the scan may spend; -1: not checked.
		wantSpent int
	}{
		{name: "first load fetches every merged pull request", wantSyncs: merged, wantSpent: -1},
		{name: "a re-scan fetches none: their mergers are stored", full: true, wantSyncs: nil, wantSpent: 0},
		{
			name: "a merger GitHub does not give is asked again for free",
			before: func(t *testing.T) {
				// As if GitHub had answered merged_by null (a deleted account).
				if _, err := h.deps.DB.Exec(`UPDATE github_pull_request SET merged_by_id = NULL, merged_by_login = NULL`); err != nil {
					t.Fatal(err)
				}
			},
			full: true, wantSyncs: merged, wantSpent: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			if tt.before != nil {
				tt.before(t)
			}
			h.gh.ResetStats()
			id := h.scan(ScanRequest{Kind: CollectionPullRequests, Owner: owner, Repo: name, Children: true, Full: tt.full, RequestedBy: "test"})
			h.waitIdle(2 * time.Minute)
			h.assertAllDone()
			rows, err := h.deps.DB.Query(`SELECT number, requests FROM scan WHERE kind = $1 AND parent_scan_id = $2 ORDER BY number`,
				JobSyncPullRequest, id)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for rows.Next() {
				var n, requests int
				if err := rows.Scan(&n, &requests); err != nil {
					t.Fatal(err)
				}
				if requests != 1 {
					t.Errorf("sync of #%d made %d requests, want 1", n, requests)
				}
				got = append(got, n)
			}
			rows.Close()
			if len(got) != len(tt.wantSyncs) {
				t.Fatalf("fetched pull requests %v, want %v", got, tt.wantSyncs)
			}
			for i := range got {
				if got[i] != tt.wantSyncs[i] {
					t.Fatalf("fetched pull requests %v, want %v", got, tt.wantSyncs)
				}
			}
			c := h.gh.Stats().ByInstallation[h.inst]
			if spent := c.Requests - c.NotModified; tt.wantSpent >= 0 && spent != tt.wantSpent {
				t.Errorf("spent %d requests of the rate limit (%+v), want %d", spent, c, tt.wantSpent)
			}
			var recorded int
			if err := h.deps.DB.QueryRow(`SELECT coalesce(sum(requests), 0) FROM scan WHERE id = $1 OR parent_scan_id = $1`, id).Scan(&recorded); err != nil {
				t.Fatal(err)
			}
			if recorded != c.Requests {
				t.Errorf("the scans recorded %d requests, ghfake served %d", recorded, c.Requests)
			}
			if tt.before == nil {
				h.assertMergers()
			}
		})
	}
}
