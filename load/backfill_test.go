package load

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/jobs"
)

// TestInline: single objects with ?inline=true are stored before the
// answer: 200 when stored, 404 when GitHub has no such object, 503 with
// Retry-After while the installation's rate limit is spent.
func TestInline(t *testing.T) {
	h := newHarness(t, harnessOptions{seed: ghfake.SeedOptions{PullsPerRepo: 2, IssuesPerRepo: 2}})
	tok := h.gh.InstallationToken(h.inst0)
	pulls, issues, labels := h.numbers(t, "org-0", "repo-0", h.inst0)
	tests := []struct {
		path string
		code int
		// row selects the object's row, which the request must write
		// (a milestone or label may already be there, nested in an
		// earlier pull or issue: only a fresh API stamp proves the sync).
		row  string
		args []any
	}{
		{"/load/repos/org-0/repo-0?inline=true", http.StatusOK, `github_repository WHERE full_name = 'org-0/repo-0'`, nil},
		{fmt.Sprintf("/load/repos/org-0/repo-0/pulls/%d?inline=true", pulls[0]), http.StatusOK, `github_pull_request WHERE number = $2`, []any{pulls[0]}},
		{fmt.Sprintf("/load/repos/org-0/repo-0/issues/%d?inline=true", issues[0]), http.StatusOK, `github_issue WHERE number = $2`, []any{issues[0]}},
		{"/load/repos/org-0/repo-0/milestones/1?inline=true", http.StatusOK, `github_milestone WHERE number = 1`, nil},
		{"/load/repos/org-0/repo-0/labels/" + url.PathEscape(labels[0]) + "?inline=true", http.StatusOK, `github_issue_label WHERE name = $2`, []any{labels[0]}},
		{"/load/repos/org-0/repo-0/pulls/999?inline=true", http.StatusNotFound, "", nil},
		{"/load/repos/org-0/repo-0/issues/999?inline=true", http.StatusNotFound, "", nil},
		{"/load/repos/org-0/repo-0/milestones/999?inline=true", http.StatusNotFound, "", nil},
		{"/load/repos/org-0/repo-0/labels/no-such-label?inline=true", http.StatusNotFound, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			start := time.Now().Truncate(time.Microsecond)
			a := h.post(t, tc.path, tok)
			if a.code != tc.code {
				t.Fatalf("got %d %s, want %d", a.code, a.raw, tc.code)
			}
			// The token check is cached after the first request: the
			// rate-limit headers then come from the sync's own calls.
			if a.header.Get("X-RateLimit-Remaining") == "" || a.header.Get("X-RateLimit-Limit") == "" {
				t.Errorf("GitHub's rate-limit headers not passed back: %v", a.header)
			}
			if tc.code == http.StatusOK {
				if a.body["message"] != "success" {
					t.Errorf("body %s, want success", a.raw)
				}
				var n int
				args := append([]any{start}, tc.args...)
				q := `SELECT count(*) FROM ` + tc.row + ` AND last_replicated_via_api_at >= $1`
				if err := env.DB.QueryRow(q, args...).Scan(&n); err != nil || n != 1 {
					t.Errorf("%s: %d rows written by this request, want 1 (%v)", q, n, err)
				}
			}
			if tc.code == http.StatusNotFound && a.body["message"] == nil {
				t.Errorf("404 without a message")
			}
		})
	}

	t.Run("rate limit spent", func(t *testing.T) {
		h.gh.SpendRateLimit(h.gh.InstallationToken(h.inst0))
		a := h.post(t, fmt.Sprintf("/load/repos/org-0/repo-0/pulls/%d?inline=true", pulls[len(pulls)-1]), tok)
		if a.code != http.StatusServiceUnavailable {
			t.Fatalf("got %d %s, want 503", a.code, a.raw)
		}
		secs, err := strconv.Atoi(a.header.Get("Retry-After"))
		if err != nil || secs < 1 {
			t.Errorf("Retry-After %q, want seconds until the reset", a.header.Get("Retry-After"))
		}
		if a.body["retry_after"] == nil {
			t.Errorf("body %s does not say the seconds", a.raw)
		}
	})
}

// TestLoadWholeRepository: POST /load/repos/{o}/{r}?children=true with the
// job workers running, then /status/{id} until done, and the replica holds
// what GitHub has.
func TestLoadWholeRepository(t *testing.T) {
	seed := ghfake.SeedOptions{PullsPerRepo: 4, IssuesPerRepo: 3, LabelsPerRepo: 3, MilestonesPerRepo: 2,
		CommentsPerIssue: 2, ReviewsPerPull: 1, ReviewCommentsPerPull: 1}
	h := newHarness(t, harnessOptions{seed: seed})
	deps := h.deps
	deps.SweepSpec = "-"
	pool := jobs.NewWorkerPool(deps, 4)
	pool.Start()
	defer pool.Stop()

	tok := h.gh.InstallationToken(h.inst0)
	id := scanID(t, h.post(t, "/load/repos/org-0/repo-0?children=true", tok))

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last answer
	for {
		last = h.do(t, nil, http.MethodGet, "/status/"+strconv.FormatInt(id, 10), "Authorization", "Bearer "+tok)
		if last.code != http.StatusOK {
			t.Fatalf("status: %d %s", last.code, last.raw)
		}
		st, _ := last.body["status"].(string)
		if st == "done" || st == "failed" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the load did not finish: last status %s", last.raw)
		case <-tick.C:
		}
	}
	t.Logf("final status: %s", last.raw)
	if last.body["status"] != "done" {
		t.Fatalf("load ended %s", last.raw)
	}
	if scans, _ := last.body["scans"].(float64); scans < 2 {
		t.Errorf("status counts %v scans; the children's were not folded in: %s", last.body["scans"], last.raw)
	}
	if items, _ := last.body["items"].(float64); items < float64(seed.PullsPerRepo+seed.IssuesPerRepo) {
		t.Errorf("status counts %v items: %s", last.body["items"], last.raw)
	}
	if last.body["finished_at"] == nil {
		t.Errorf("done without finished_at: %s", last.raw)
	}

	// Field by field, files and review comments included (an empty table
	// fails too): counts alone would pass a load that stored stale rows.
	testutil.AssertReplicaMatches(t, env.DB, h.gh.World(), testutil.ReplicaScope{Repos: []string{"org-0/repo-0"}})
}
