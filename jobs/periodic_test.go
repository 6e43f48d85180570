package jobs

import (
	"context"
	"testing"
	"time"
)

// TestPeriodicQueuesEachJobOnceAtStart: every periodic job is queued when
// the workers start (catch-up at start-up), reconciliation and replay only
// when turned on, and two processes' queuers leave one of each queued.
func TestPeriodicQueuesEachJobOnceAtStart(t *testing.T) {
	tests := []struct {
		name string
		deps func(Deps) Deps
		want map[string]int
	}{
		{"defaults: no replay func, reconciliation off", func(d Deps) Deps { return d },
			map[string]int{JobCatchUp: 1, JobRetention: 1, JobReplay: 0, JobReconcile: 0}},
		{"everything on", func(d Deps) Deps {
			d.ReconcileInterval = 24 * time.Hour
			d.Replay = func(context.Context, StoredDelivery) (string, error) { return "", nil }
			return d
		}, map[string]int{JobCatchUp: 1, JobRetention: 1, JobReplay: 1, JobReconcile: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.deps(testDeps(t))
			// Long periods: only the queueing at Start is seen.
			d.CatchupInterval, d.RetentionInterval, d.ReplayInterval = time.Hour, time.Hour, time.Hour
			first, second := NewPeriodic(d), NewPeriodic(d)
			first.Start()
			second.Start()
			// Each ticker goroutine queues its job before it first waits,
			// and Stop waits for the goroutines: after Stop, Start's
			// queueing is done.
			first.Stop()
			second.Stop()
			for name, want := range tt.want {
				if got := queueLen(t, d.Namespace, name); got != want {
					t.Errorf("%s queued %d times, want %d", name, got, want)
				}
			}
		})
	}
}

// TestPeriodicStopIsIdempotent: Stop without Start, and twice, returns.
func TestPeriodicStopIsIdempotent(t *testing.T) {
	p := NewPeriodic(testDeps(t))
	p.Stop()
	p.Start()
	p.Stop()
	p.Stop()
}
