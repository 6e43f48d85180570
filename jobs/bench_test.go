package jobs

import (
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
)

// BenchmarkBackfill loads the acceptance load (3 repositories, 1,000 pull
// requests with up to 300 files, reviews and comments, 2,000 issues,
// labels, milestones) through ghfake answering every request after 50 ms,
// and reports items written per second, requests per item, and the
// requests made beside the design's minimum.
//
//	go test -run '^$' -bench Backfill -benchtime 1x ./jobs/
func BenchmarkBackfill(b *testing.B) {
	sz := acceptanceLoad
	var items, requests, minimum int
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
		minimum += minimumRequests(h.gh.World(), h.inst)
		h.close()
	}
	b.ReportMetric(float64(items)/elapsed.Seconds(), "items/s")
	b.ReportMetric(float64(requests)/float64(items), "requests/item")
	b.ReportMetric(float64(items)/float64(b.N), "items/op")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(minimum)/float64(b.N), "min-requests/op")
}
