package jobs

import (
	"sync"
	"time"

	"github.com/gocraft/work"
)

// The periodic jobs of "nothing lost". Their periods are Go durations from
// the configuration (catchup_interval, ...), which gocraft/work's cron
// specs cannot all express, so Periodic queues them on tickers. Several
// processes may each run a Periodic: EnqueueUnique keeps one of each job
// queued, and each job guards itself against a concurrent run (an advisory
// lock) and decides whether its work is due from what PostgreSQL records,
// so restarts neither skip nor repeat it.
const (
	// JobCatchUp reads GitHub's delivery log and asks for the deliveries
	// that never reached webhookdb (catchup.go).
	JobCatchUp = "catch_up_deliveries"
	// JobReplay processes failed deliveries again from their stored
	// payload (replay.go).
	JobReplay = "replay_failed_deliveries"
	// JobReconcile scans every installation when one is due, or at once
	// with the argument reason=outage (reconcile.go).
	JobReconcile = "reconcile_installations"
	// JobRetention removes what is kept no longer (retention.go).
	JobRetention = "apply_retention"
)

// periodicHandlers are the functions of the periodic jobs.
func (e *engine) periodicHandlers() map[string]jobFunc {
	return map[string]jobFunc{
		JobCatchUp:   e.catchUpJob,
		JobReplay:    e.replayJob,
		JobReconcile: e.reconcileJob,
		JobRetention: e.retentionJob,
	}
}

// periodicEvery is how often each periodic job is queued. Reconciliation
// is queued more often than it runs: the job itself checks whether a run
// is due, so a process restarted every hour still reconciles daily.
func (d Deps) periodicEvery() map[string]time.Duration {
	every := map[string]time.Duration{
		JobCatchUp:   d.CatchupInterval,
		JobRetention: d.RetentionInterval,
	}
	if d.Replay != nil {
		every[JobReplay] = d.ReplayInterval
	}
	if d.ReconcileInterval > 0 {
		every[JobReconcile] = min(d.ReconcileInterval, 10*time.Minute)
	}
	return every
}

// Periodic queues the periodic jobs of one process: each once at Start
// (catch-up at start-up), then every period.
type Periodic struct {
	enq   *work.Enqueuer
	every map[string]time.Duration
	deps  Deps

	stop chan struct{}
	wg   sync.WaitGroup
}

// NewPeriodic builds the queuer of the periodic jobs; Start starts it.
func NewPeriodic(d Deps) *Periodic {
	d = d.withDefaults()
	return &Periodic{enq: NewEnqueuer(d), every: d.periodicEvery(), deps: d}
}

// Start queues each periodic job now and then on its ticker, until Stop.
func (p *Periodic) Start() {
	p.stop = make(chan struct{})
	for name, every := range p.every {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				p.enqueue(name)
				select {
				case <-t.C:
				case <-p.stop:
					return
				}
			}
		}()
	}
}

// Stop ends the tickers and waits for them.
func (p *Periodic) Stop() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.stop = nil
}

// enqueue queues one run of name unless one is queued already. A failure
// (Redis away) is logged; the next tick tries again.
func (p *Periodic) enqueue(name string) {
	if _, err := p.enq.EnqueueUnique(name, nil); err != nil {
		p.deps.Logger.Warn().Err(err).Str("job", name).Msg("queue periodic job; the next tick tries again")
	}
}
