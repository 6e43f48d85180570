package jobs

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/webhookdb/webhookdb/ghfake"
)

// benchLatency is GitHub's answer time in the backfill benchmarks, and
// benchConcurrency the calls allowed at once for the installation (also
// the workers).
const (
	benchLatency     = 50 * time.Millisecond
	benchConcurrency = 16
)

// BenchmarkBackfill loads the acceptance load (3 repositories, 1,000 pull
// requests with up to 300 files, reviews and comments, 2,000 issues,
// labels, milestones) through ghfake answering every request after 50 ms,
// and reports items written per second, requests per item, the requests
// made beside the design's minimum, and the wall time beside the ideal
// (requests × latency ÷ calls allowed at once).
//
//	go test -run '^$' -bench 'Backfill$' -benchtime 1x ./jobs/
func BenchmarkBackfill(b *testing.B) {
	benchBackfill(b, acceptanceLoad)
}

// busyRepository is the world of issue 12: one repository with 250 pull
// requests and their children, where each pull request's files, reviews
// and review comments are a scan of one page, so the run is made of many
// short chained jobs rather than long pages.
var busyRepository = loadSize{repos: 1, pulls: 250, issues: 50, maxFiles: 20, comments: 1, labels: 5, milestones: 2, reviews: 1}

// BenchmarkBackfillBusyRepository loads busyRepository the same way.
//
//	go test -run '^$' -bench BackfillBusyRepository -benchtime 1x ./jobs/
func BenchmarkBackfillBusyRepository(b *testing.B) {
	benchBackfill(b, busyRepository)
}

func benchBackfill(b *testing.B, sz loadSize) {
	var items, requests, minimum, limited int
	var elapsed, busy time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		reg := prometheus.NewRegistry()
		h := newHarness(b, ghfake.Options{Seed: seedFor(sz), RateLimit: 1000000}, func(d *Deps) {
			d.InstallationConcurrency = benchConcurrency
			d.Metrics = reg
		})
		h.gh.SetLatency(benchLatency, 0)
		h.start(benchConcurrency)
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
		st := h.gh.Stats()
		requests += st.ByInstallation[h.inst].Requests
		limited += st.Total.RateLimited
		minimum += h.gh.World().MinimumRequests(h.inst)
		busy += jobTime(b, reg)
		h.close()
	}
	ideal := time.Duration(requests) * benchLatency / benchConcurrency
	b.ReportMetric(float64(items)/elapsed.Seconds(), "items/s")
	b.ReportMetric(float64(requests)/float64(items), "requests/item")
	b.ReportMetric(float64(items)/float64(b.N), "items/op")
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(minimum)/float64(b.N), "min-requests/op")
	b.ReportMetric(float64(requests)/float64(minimum), "requests/min")
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "wall-s/op")
	b.ReportMetric(ideal.Seconds()/float64(b.N), "ideal-s/op")
	b.ReportMetric(elapsed.Seconds()/ideal.Seconds(), "wall/ideal")
	b.ReportMetric(float64(limited)/float64(b.N), "rate-limited/op")
	// The share of the workers' time spent inside jobs: low means they
	// waited for work (queue polling), high that the jobs themselves
	// (GitHub, PostgreSQL) set the pace.
	b.ReportMetric(busy.Seconds()/(elapsed.Seconds()*benchConcurrency), "worker-busy")
}

// jobTime is the time every job run took, from the jobs' duration metric.
func jobTime(b *testing.B, reg *prometheus.Registry) time.Duration {
	b.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var s float64
	for _, mf := range mfs {
		if mf.GetName() != "webhookdb_job_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			hg := m.GetHistogram()
			s += hg.GetSampleSum()
			if n := hg.GetSampleCount(); n > 0 {
				b.Logf("%s: %d runs, %.1f ms each", m.GetLabel()[0].GetValue(), n, 1000*hg.GetSampleSum()/float64(n))
			}
		}
	}
	return time.Duration(s * float64(time.Second))
}
