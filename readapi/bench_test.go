package readapi

import (
	"testing"

	"github.com/webhookdb/webhookdb/ghfake"
)

// BenchmarkPullsList reads the pulls list at 100 per page through the
// whole read API (token confirmed once, rate limit counted in Redis,
// every query, JSON) over loopback HTTP, from a replica of 200 pull
// requests in one repository. For tuning; the headline figure is the
// bench's read part (docs/benchmarks.md).
func BenchmarkPullsList(b *testing.B) {
	busy := ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 1, PullsPerRepo: 200, IssuesPerRepo: 1, LabelsPerRepo: 4, MilestonesPerRepo: 2}
	r := newReplicaOf(b, busy, func(d *Deps) { d.RateLimit = 1 << 30 })
	tok := r.token("org-0")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		page := 0
		for pb.Next() {
			page = page%2 + 1
			in := *r
			in.t = b
			resp, body := in.get("/repos/org-0/repo-0/pulls?state=all&per_page=100&page="+itoa(page), tok)
			if resp.StatusCode != 200 || len(body) < 1000 {
				b.Fatalf("%d %.200s", resp.StatusCode, body)
			}
		}
	})
}
