package jobs

import (
	"fmt"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/webhookdb/webhookdb/ghfake"
)

// GitHub binds an ETag to the token that received it and installation
// tokens live an hour: after a rotation every stored ETag misses. An
// unchanged re-scan must still cost at most one full answer per collection
// (the first page of an incremental list answers 304 to If-Modified-Since,
// which stops the scan; a swept list pays its first page) and nothing per
// object (If-Modified-Since). Within one token's hour it costs nothing.
func TestUnchangedRescanAcrossTokenRotations(t *testing.T) {
	seed := &ghfake.SeedOptions{Seed: 13, Accounts: 1, Users: 5, ReposPerAccount: 2, PullsPerRepo: 30,
		IssuesPerRepo: 40, MaxFilesPerPull: 5, CommentsPerIssue: 1, LabelsPerRepo: 4, MilestonesPerRepo: 2,
		ReviewsPerPull: 1, ReviewCommentsPerPull: 1}
	tests := []struct {
		name string
		// ttl of installation tokens; under a minute, ghinstallation mints
		// a new one for every request: tokens rotate during both scans.
		ttl time.Duration
		// newTokens replaces the client creator between the scans (a
		// restart, or the hour running out): the re-scan has new tokens.
		newTokens bool
		// maxPerCollection is the most full answers a collection scan may
		// pay in the re-scan.
		maxPerCollection int
	}{
		{name: "within one token's hour", maxPerCollection: 0},
		{name: "new token between the scans", newTokens: true, maxPerCollection: 1},
		{name: "tokens rotating during the scans", ttl: 30 * time.Second, maxPerCollection: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ghfake.Options{Seed: seed, RateLimit: 100000, TokenTTL: tt.ttl}, nil)
			h.start(4)
			owner, repo := h.repo()
			w := h.gh.World()
			var merged int
			for _, pr := range w.PullRequests(owner, repo) {
				if pr.MergedAt != nil {
					merged = pr.GetNumber()
					break
				}
			}
			var issue int
			for _, is := range w.Issues(owner, repo) {
				if !is.IsPullRequest() {
					issue = is.GetNumber()
					break
				}
			}
			if merged == 0 || issue == 0 {
				t.Fatalf("the seed has no merged pull request (%d) or no issue (%d)", merged, issue)
			}
			// Objects are synced one by one too; labels are left out: they
			// have no updated_at, so GitHub sends no Last-Modified for them.
			objects := []ScanRequest{
				{Kind: JobSyncPullRequest, Owner: owner, Repo: repo, Number: merged},
				{Kind: JobSyncIssue, Owner: owner, Repo: repo, Number: issue},
				{Kind: JobSyncRepository, Owner: owner, Repo: repo},
				{Kind: JobSyncMilestone, Owner: owner, Repo: repo, Number: w.Milestones(owner, repo)[0].GetNumber()},
			}
			load := func() {
				t.Helper()
				h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, RequestedBy: "test"})
				h.waitIdle(2 * time.Minute)
				for _, o := range objects {
					o.InstallationID, o.RequestedBy = h.inst, "test"
					h.scan(o)
				}
				h.waitIdle(time.Minute)
				h.assertAllDone()
			}
			h.t = t
			load()
			h.assertMatchesWorld()
			if tt.newTokens {
				for _, p := range h.pools {
					p.Stop()
				}
				cc, err := githubapp.NewDefaultCachingClientCreator(h.gh.GitHubConfig(), githubapp.WithClientUserAgent("webhookdb-test"))
				if err != nil {
					t.Fatal(err)
				}
				h.deps.GitHub = cc
				h.sched = NewScheduler(h.deps)
				h.start(4)
			}
			var last int64
			if err := h.deps.DB.QueryRow(`SELECT max(id) FROM scan`).Scan(&last); err != nil {
				t.Fatal(err)
			}
			before := h.gh.Stats().ByToken
			h.gh.ResetStats()
			load()
			h.assertMatchesWorld()

			st := h.gh.Stats()
			c := st.ByInstallation[h.inst]
			// Installation tokens the re-scan used that the first load had not.
			fresh := 0
			for k := range st.ByToken {
				if _, seen := before[k]; !seen && k != "jwt" && k != "" {
					fresh++
				}
			}
			t.Logf("re-scan: %d requests, %d not modified, %d primary spent; %d new installation tokens",
				c.Requests, c.NotModified, c.Requests-c.NotModified, fresh)
			if rotates := tt.newTokens || tt.ttl > 0; rotates != (fresh > 0) || (tt.ttl > 0 && fresh < 2) {
				t.Errorf("the re-scan used %d new installation tokens; rotating: %v", fresh, rotates)
			}
			rows, err := h.deps.DB.Query(`SELECT kind, scan_key, requests, not_modified FROM scan WHERE id > $1 ORDER BY id`, last)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			recorded, collections := 0, 0
			for rows.Next() {
				var kind, key string
				var requests, notModified int
				if err := rows.Scan(&kind, &key, &requests, &notModified); err != nil {
					t.Fatal(err)
				}
				recorded += requests
				want := tt.maxPerCollection
				if isSingle(kind) {
					want = 0
				} else {
					collections++
				}
				if full := requests - notModified; full > want {
					t.Errorf("%s: %d full answers of %d requests, want at most %d", key, full, requests, want)
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			// Nothing changed, so nothing below the lists is scanned again:
			// the installation's repositories and five lists per repository.
			if want := 1 + 5*len(w.InstallationRepositories(h.inst)); collections != want {
				t.Errorf("the re-scan ran %d collection scans, want %d: an unchanged list chained its children", collections, want)
			}
			if recorded != c.Requests {
				t.Errorf("the scans recorded %d requests, ghfake served %d", recorded, c.Requests)
			}
			if spent := c.Requests - c.NotModified; spent > collections*tt.maxPerCollection {
				t.Errorf("re-scan spent %d of the primary rate limit over %d collection scans, want at most %d",
					spent, collections, collections*tt.maxPerCollection)
			}
			for route, rc := range st.ByRoute {
				if isObjectRoute(route) && rc.Requests != rc.NotModified {
					t.Errorf("%s: %d full answers (%+v), want 0", route, rc.Requests-rc.NotModified, rc)
				}
			}
		})
	}
}

// isObjectRoute says whether a ghfake route serves one object (a pull
// request, an issue, a repository, a milestone, a user).
func isObjectRoute(route string) bool {
	for _, p := range []string{"/repos/{owner}/{repo}", "/repositories/{id}"} {
		for _, rest := range []string{"", "/pulls/{number}", "/issues/{number}", "/milestones/{number}"} {
			if route == fmt.Sprintf("GET %s%s", p, rest) {
				return true
			}
		}
	}
	return route == "GET /users/{username}"
}
