package ghfake

import (
	"context"
	"fmt"
	"sync"
)

// Redeliveries are asynchronous, as on GitHub: POST
// /app/hook/deliveries/{id}/attempts answers 202 Accepted at once and the
// delivery is sent afterwards. Tests wait for it with Redelivery.Wait or
// WaitRedeliveries instead of sleeping.

// Redelivery is a redelivery asked for; Wait returns it once sent.
type Redelivery struct {
	done chan struct{}
	d    *Delivery
}

// Wait blocks until the redelivery has been sent and recorded, and returns
// it; it fails when ctx ends first.
func (r *Redelivery) Wait(ctx context.Context) (*Delivery, error) {
	select {
	case <-r.done:
		return r.d, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the redelivery: %w", ctx.Err())
	}
}

// redeliveryQueue counts the redeliveries asked for and not yet sent. The
// zero value is ready.
type redeliveryQueue struct {
	mu      sync.Mutex
	pending int
	changed chan struct{} // closed and replaced when pending drops
}

func (q *redeliveryQueue) add() {
	q.mu.Lock()
	q.pending++
	q.mu.Unlock()
}

func (q *redeliveryQueue) done() {
	q.mu.Lock()
	q.pending--
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
	q.mu.Unlock()
}

// state is how many are pending and a channel closed at the next change.
func (q *redeliveryQueue) state() (int, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.pending, q.changed
}

// Redeliver asks for a recorded delivery to be sent again with the same
// GUID and payload, marked as a redelivery, as POST
// /app/hook/deliveries/{id}/attempts does: it returns at once and the
// delivery is sent in the background (cancelled by Close). A delivery the
// log no longer keeps (see Options.DeliveryRetention) cannot be redelivered.
func (s *Server) Redeliver(id int64) (*Redelivery, error) {
	old := s.Delivery(id)
	if old == nil {
		return nil, fmt.Errorf("redeliver %d: %w", id, ErrNotFound)
	}
	d := &Delivery{GUID: old.GUID, Event: old.Event, Action: old.Action, InstallationID: old.InstallationID,
		RepositoryID: old.RepositoryID, Redelivery: true, Payload: old.Payload}
	r := &Redelivery{done: make(chan struct{}), d: d}
	s.redeliveries.add()
	go func() {
		defer s.redeliveries.done()
		defer close(r.done)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		s.send(ctx, d)
	}()
	return r, nil
}

// WaitRedeliveries blocks until every redelivery asked for so far has been
// sent and recorded; it fails when ctx ends first.
func (s *Server) WaitRedeliveries(ctx context.Context) error {
	for {
		n, changed := s.redeliveries.state()
		if n == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d redeliveries: %w", n, ctx.Err())
		}
	}
}

// pruneDeliveriesLocked drops the deliveries older than the retention by
// the server's clock; s.ctl.mu is held. Order (by id) is kept.
func (s *Server) pruneDeliveriesLocked() {
	if s.opts.DeliveryRetention < 0 {
		return
	}
	cutoff := s.ctl.nowLocked().Add(-s.opts.DeliveryRetention)
	kept := s.ctl.deliveries[:0]
	for _, d := range s.ctl.deliveries {
		if !d.DeliveredAt.Before(cutoff) {
			kept = append(kept, d)
		}
	}
	clear(s.ctl.deliveries[len(kept):])
	s.ctl.deliveries = kept
}
