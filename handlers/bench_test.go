package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// benchBodies makes n distinct deliveries of one fixture: each its own
// object (id and number shifted), so the database does real inserts.
func benchBodies(b *testing.B, rel, objKey string, n int) [][]byte {
	b.Helper()
	base := fixture(b, rel)
	out := make([][]byte, n)
	for i := range out {
		out[i] = edit(b, base, func(m map[string]any) {
			o := obj(m, objKey)
			id, _ := o["id"].(json.Number).Int64()
			o["id"] = json.Number(fmt.Sprint(id + int64(i)))
			if num, ok := o["number"].(json.Number); ok {
				v, _ := num.Int64()
				o["number"] = json.Number(fmt.Sprint(v + int64(i)))
			}
		})
	}
	return out
}

// BenchmarkWebhookDelivery measures deliveries per second through the
// HTTP endpoint (signature, dispatch, one transaction) into PostgreSQL.
func BenchmarkWebhookDelivery(b *testing.B) {
	kinds := []struct {
		name, event, fixture, obj string
	}{
		{"issues.opened", "issues", "issues/opened.payload.json", "issue"},
		{"issue_comment.created", "issue_comment", "issue_comment/created.payload.json", "comment"},
		{"pull_request.closed", "pull_request", "pull_request/closed.payload.json", "pull_request"},
	}
	var run atomic.Int64
	for _, k := range kinds {
		for _, parallel := range []bool{false, true} {
			name := k.name
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				env.Truncate(b)
				h := newHarness(b, harnessOptions{quiet: true})
				bodies := benchBodies(b, k.fixture, k.obj, 500)
				prefix := fmt.Sprintf("bench-%d-", run.Add(1))
				var seq atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				send := func() {
					i := seq.Add(1)
					body := bodies[int(i)%len(bodies)]
					res, err := h.tryPost(k.event, prefix+fmt.Sprint(i), sign(testSecret, body), body)
					if err != nil || res.code != http.StatusOK {
						b.Errorf("delivery answered %d %s: %v", res.code, res.body, err)
					}
				}
				if parallel {
					// GitHub sends deliveries concurrently; the work waits
					// on the database more than on the CPU.
					b.SetParallelism(4)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							send()
						}
					})
				} else {
					for i := 0; i < b.N; i++ {
						send()
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			})
		}
	}
}

// BenchmarkBusyRepository: 16 senders delivering issue edits of one
// repository (its issues and sender shared, as a busy repository's are),
// with group commit and without, in one run.
func BenchmarkBusyRepository(b *testing.B) {
	for _, c := range []struct {
		name     string
		maxBatch int
	}{{"group-commit", 0}, {"alone", 1}} {
		b.Run(c.name, func(b *testing.B) {
			env.Truncate(b)
			h := newHarness(b, harnessOptions{quiet: true, maxBatch: c.maxBatch})
			base := fixture(b, "issues/edited.payload.json")
			bodies := make([][]byte, 400)
			start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			for i := range bodies {
				bodies[i] = edit(b, base, func(m map[string]any) {
					is := obj(m, "issue")
					id, _ := is["id"].(json.Number).Int64()
					is["id"] = json.Number(fmt.Sprint(id + int64(i%50)))
					is["number"] = json.Number(fmt.Sprint(1 + i%50))
					is["updated_at"] = start.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
				})
			}
			prefix := fmt.Sprintf("busy-%s-%d-", c.name, time.Now().UnixNano())
			var seq atomic.Int64
			b.SetParallelism(8) // 16 senders on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := seq.Add(1)
					body := bodies[int(i)%len(bodies)]
					res, err := h.tryPost("issues", prefix+fmt.Sprint(i), sign(testSecret, body), body)
					if err != nil || res.code != http.StatusOK {
						b.Errorf("delivery answered %d %s: %v", res.code, res.body, err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
