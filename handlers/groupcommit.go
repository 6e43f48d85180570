package handlers

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/rs/zerolog"
)

// Group commit: deliveries that arrive while a lane's transaction is
// running wait, and the next transaction stores all of them at once (one
// commit, one WAL flush, the shared sender and repository rows written
// once). Each is answered when the transaction holding it has committed;
// nothing is answered before.
//
// The deliveries of one repository always go to the same lane (by id), so
// lanes never wait on each other's locks of that repository's rows, and
// the deliveries of one repository keep their arrival order within a
// lane. Several lanes let several repositories commit in parallel.
//
// There is no lane goroutine and no timer: the delivery that finds its lane
// idle leads, runs its batch in its own request goroutine, and on finishing
// hands the lane to the first delivery that queued meanwhile, together
// with everything queued (up to the batch cap). A lone delivery therefore
// never waits for company.

const (
	// defaultCommitLanes: a few repositories busy at once commit in
	// parallel; each lane holds at most one database connection.
	defaultCommitLanes = 8
	// defaultMaxBatch bounds one transaction's deliveries, so that one
	// batch's locks and its retry stay small.
	defaultMaxBatch = 32
)

// pending is one delivery waiting in a lane.
type pending struct {
	// base is the handler's Base that queued it; a batch is stored by its
	// leader's (every handler's copy shares the database and hooks).
	base  *Base
	ctx   context.Context
	d     delivery
	apply effect
	// wake receives either this delivery's result (another leader stored
	// it) or the batch this delivery now leads.
	wake chan wakeup
}

type wakeup struct {
	res  commitResult
	lead []*pending // non-nil: run this batch (it starts with this delivery)
}

// commitResult is what storing one delivery came to.
type commitResult struct {
	status string
	after  []func(context.Context) error
	err    error
}

type lane struct {
	mu    sync.Mutex
	busy  bool
	queue []*pending
}

// committer routes deliveries to lanes.
type committer struct {
	lanes    []lane
	maxBatch int
}

func newCommitter(lanes, maxBatch int) *committer {
	if lanes <= 0 {
		lanes = defaultCommitLanes
	}
	if maxBatch <= 0 {
		maxBatch = defaultMaxBatch
	}
	return &committer{lanes: make([]lane, lanes), maxBatch: maxBatch}
}

// laneOf picks the lane of a delivery: by repository, else by installation.
func (c *committer) laneOf(d delivery) *lane {
	key := d.repoID
	if key == 0 {
		key = d.installationID
	}
	if key < 0 {
		key = -key
	}
	return &c.lanes[key%int64(len(c.lanes))]
}

// commit stores one delivery, alone or with the others of its lane that
// arrive together, and returns once its transaction has ended.
func (c *committer) commit(ctx context.Context, b *Base, d delivery, apply effect) commitResult {
	p := &pending{base: b, ctx: ctx, d: d, apply: apply, wake: make(chan wakeup, 1)}
	l := c.laneOf(d)
	l.mu.Lock()
	if l.busy {
		l.queue = append(l.queue, p)
		l.mu.Unlock()
		if b.hooks != nil && b.hooks.queued != nil {
			b.hooks.queued()
		}
		// Not abandoned when the request is canceled: once queued, the
		// delivery is stored (or fails) with its batch like the others.
		w := <-p.wake
		if w.lead == nil {
			return w.res
		}
		return c.lead(l, w.lead)
	}
	l.busy = true
	l.mu.Unlock()
	return c.lead(l, []*pending{p})
}

// lead runs batch (whose first delivery is the caller's), answers the
// others, and hands the lane on. It returns the caller's result.
func (c *committer) lead(l *lane, batch []*pending) commitResult {
	results := storeGuarded(batch)
	for i := 1; i < len(batch); i++ {
		batch[i].wake <- wakeup{res: results[i]}
	}
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.busy = false
		l.mu.Unlock()
		return results[0]
	}
	n := min(len(l.queue), c.maxBatch)
	next := make([]*pending, n)
	copy(next, l.queue)
	rest := copy(l.queue, l.queue[n:])
	clear(l.queue[rest:])
	l.queue = l.queue[:rest]
	l.mu.Unlock()
	next[0].wake <- wakeup{lead: next}
	return results[0]
}

// storeGuarded stores a batch; a panic while storing it (a bug) fails
// every delivery of the batch with an error instead of leaving the others
// waiting for an answer that never comes and the lane taken for good.
func storeGuarded(batch []*pending) (results []commitResult) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		zerolog.Ctx(batch[0].ctx).Error().Str("stack", string(debug.Stack())).Msgf("panic storing a batch of %d deliveries: %v", len(batch), r)
		results = make([]commitResult, len(batch))
		for i := range results {
			results[i].err = fmt.Errorf("store a batch of %d deliveries: panic: %v", len(batch), r)
		}
	}()
	return batch[0].base.storeBatch(batch)
}
