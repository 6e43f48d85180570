package jobs

import (
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// BenchmarkBackfill loads a seeded installation (3 repositories, pull
// requests with files, reviews and comments, issues, labels, milestones)
// through ghfake answering every request after 50 ms, and reports items
// written per second and requests per item.
//
//	go test -run '^$' -bench Backfill -benchtime 1x ./jobs/
func BenchmarkBackfill(b *testing.B) {
	sz := loadSize{repos: 3, pulls: 1000, issues: 2000, files: 150, comments: 1, labels: 12, milestones: 4, reviews: 1}
	var items, requests int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := newHarness(b, ghfake.Options{Seed: seedFor(sz), RateLimit: 1000000}, func(d *Deps) { d.InstallationConcurrency = 16 })
		h.gh.SetLatency(50*time.Millisecond, 0)
		h.start(16)
		b.StartTimer()
		start := time.Now()
		h.scan(ScanRequest{Kind: CollectionRepositories, InstallationID: h.inst, Children: true, RequestedBy: "bench"})
		h.waitIdle(30 * time.Minute)
		elapsed += time.Since(start)
		b.StopTimer()
		var n int
		if err := h.deps.DB.QueryRow(`SELECT coalesce(sum(items), 0) FROM scan`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		items += n
		requests += h.gh.Stats().ByInstallation[h.inst].Requests
		h.close()
	}
	b.ReportMetric(float64(items)/elapsed.Seconds(), "items/s")
	b.ReportMetric(float64(requests)/float64(items), "requests/item")
	b.ReportMetric(float64(items)/float64(b.N), "items/op")
}
