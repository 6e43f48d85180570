package load

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/jobs"
)

// waitDone polls /status/{id} until the load ends and returns its answer.
func (h *harness) waitDone(t *testing.T, id int64) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	// The status answers only a caller who may load the scan's target.
	tok := h.gh.InstallationToken(h.inst0)
	for {
		a := h.do(t, nil, http.MethodGet, "/status/"+strconv.FormatInt(id, 10), "Authorization", "Bearer "+tok)
		if st, _ := a.body["status"].(string); st == "done" || st == "failed" {
			return a
		}
		select {
		case <-ctx.Done():
			t.Fatalf("scan %d did not finish: %s", id, a.raw)
		case <-tick.C:
		}
	}
}

// TestFullLoadRemovesWhatGitHubDeleted: after a complete scan, the next
// scans of issues are incremental and never remove anything, so an issue
// deleted on GitHub while its webhook was lost stays in the replica for
// ever unless a load can ask for a complete listing: ?full=true.
func TestFullLoadRemovesWhatGitHubDeleted(t *testing.T) {
	h := newHarness(t, harnessOptions{seed: ghfake.SeedOptions{PullsPerRepo: 2, IssuesPerRepo: 3}})
	deps := h.deps
	deps.SweepSpec = "-"
	pool := jobs.NewWorkerPool(deps, 4)
	pool.Start()
	defer pool.Stop()
	tok := h.gh.InstallationToken(h.inst0)
	_, issues, _ := h.numbers(t, "org-0", "repo-0", h.inst0)
	countIssue := func(n int) int {
		t.Helper()
		var c int
		if err := env.DB.QueryRow(`SELECT count(*) FROM github_issue i JOIN github_repository r ON r.id = i.repo_id
			WHERE r.full_name = 'org-0/repo-0' AND i.number = $1`, n).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}

	first := h.waitDone(t, scanID(t, h.post(t, "/load/repos/org-0/repo-0/issues", tok)))
	if first.body["status"] != "done" || countIssue(issues[0]) != 1 {
		t.Fatalf("first load: %s, issue #%d stored %d times", first.raw, issues[0], countIssue(issues[0]))
	}
	// Deleted on GitHub; its webhook goes nowhere (lost).
	if _, err := h.gh.DeleteIssue(context.Background(), "org-0", "repo-0", issues[0]); err != nil {
		t.Fatalf("delete issue: %v", err)
	}
	a := h.post(t, "/load/repos/org-0/repo-0/issues?full=true", tok)
	st := h.waitDone(t, scanID(t, a))
	if st.body["status"] != "done" {
		t.Fatalf("full load: %s", st.raw)
	}
	if n := countIssue(issues[0]); n != 0 {
		t.Errorf("issue #%d deleted on GitHub is still stored after a full load", issues[0])
	}
	if n := countIssue(issues[1]); n != 1 {
		t.Errorf("issue #%d GitHub still has was removed", issues[1])
	}
}
