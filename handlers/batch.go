package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/pgretry"
	"github.com/webhookdb/webhookdb/process"
)

// batchTimeout bounds one group-commit transaction. It is not any one
// request's context: a sender that hangs up must not fail the others.
const batchTimeout = 30 * time.Second

// storeBatch stores the deliveries of a lane's batch and returns one
// result per delivery, in order. A batch of one is stored as a delivery
// alone always was. A larger one is one transaction; when it fails (a
// delivery's own fault, or the database's) nothing of it is kept and each
// delivery is stored again in a transaction of its own, so that one bad
// delivery fails alone and every rule of a single delivery holds.
func (b *Base) storeBatch(batch []*pending) []commitResult {
	if len(batch) == 1 {
		p := batch[0]
		b.metrics.batch(1, "")
		return []commitResult{b.storeAlone(p.ctx, p.d, p.apply)}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), batchTimeout)
	defer cancel()
	logger := b.Logger.With().Int("batch", len(batch)).Logger()
	var results []commitResult
	err := pgretry.Run(ctx, maxStoreAttempts, 100*time.Millisecond, func(err error, attempt int) {
		logger.Warn().Err(err).Int("attempt", attempt).Msg("batch of deliveries aborted by the database; retrying")
	}, func() error {
		var err error
		results, err = b.storeTogether(ctx, batch)
		return err
	})
	if err == nil {
		b.metrics.batch(len(batch), "committed")
		return results
	}
	logger.Warn().Err(err).Msg("batch of deliveries failed; storing each on its own")
	b.metrics.batch(len(batch), "alone")
	out := make([]commitResult, len(batch))
	for i, p := range batch {
		out[i] = b.storeAlone(p.ctx, p.d, p.apply)
	}
	return out
}

// storeTogether runs one attempt of a batch's transaction: the claims of
// all deliveries (claimAll), the envelopes of all of them
// (process.Envelopes), each effect in arrival order, the stale ones
// marked, one commit. Any error fails the
// whole attempt.
func (b *Base) storeTogether(ctx context.Context, batch []*pending) ([]commitResult, error) {
	tx, err := b.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin batch of %d deliveries: %w", len(batch), err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit

	results := make([]commitResult, len(batch))
	dtxs := make([]*deliveryTx, len(batch))
	var envs []process.Envelope
	later := &process.Later{}
	ds := make([]delivery, len(batch))
	for i, p := range batch {
		ds[i] = p.d
	}
	claims, err := claimAll(ctx, tx, ds)
	if err != nil {
		return nil, err
	}
	for i, p := range batch {
		c := claims[i]
		if !c.claimed {
			// Stored before, or earlier in this batch: the second copy of
			// one GUID changes nothing, as when they come one by one.
			zerolog.Ctx(p.ctx).Info().Msg("delivery already stored; nothing to do")
			results[i].status = duplicate
			continue
		}
		results[i].status = StatusProcessed
		if c.skip(p.ctx, p.d) {
			results[i].status = StatusStale
			continue
		}
		dtx := c.tx(tx, p.d, later)
		dtxs[i] = dtx
		// An envelope with a full installation object (only the
		// installation's own events carry one) is left to its effect.
		if e := p.d.wrapping; e != nil && (e.inst == nil || e.inst.Account == nil) {
			envs = append(envs, process.Envelope{Sender: e.sender, Repository: e.repo, InstallationID: e.inst.GetID(), Meta: dtx.meta})
			dtx.envelopeStored = true
		}
	}
	if err := process.Envelopes(ctx, &deliveryTx{Tx: tx, later: later}, envs); err != nil {
		return nil, fmt.Errorf("store the envelopes of a batch of %d deliveries: %w", len(batch), err)
	}
	var stale []string
	for i, p := range batch {
		dtx := dtxs[i]
		if dtx == nil {
			if results[i].status == StatusStale {
				stale = append(stale, p.d.id)
			}
			continue
		}
		mainObject, err := applyInBatch(ctx, p, dtx)
		if err != nil {
			return nil, fmt.Errorf("store %s.%s delivery %s (in a batch of %d): %w", p.d.event, p.d.action, p.d.id, len(batch), err)
		}
		if mainObject == process.Stale {
			results[i].status = StatusStale
			stale = append(stale, p.d.id)
		}
	}
	if err := later.Flush(ctx, tx); err != nil {
		return nil, fmt.Errorf("store the users of a batch of %d deliveries: %w", len(batch), err)
	}
	if err := markStale(ctx, tx, stale); err != nil {
		return nil, err
	}
	if err := b.beforeCommit(); err != nil {
		return nil, fmt.Errorf("before commit of a batch of %d deliveries: %w", len(batch), err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit a batch of %d deliveries: %w", len(batch), err)
	}
	for i, dtx := range dtxs {
		if dtx != nil {
			results[i].after = dtx.after
		}
	}
	return results, nil
}

// applyInBatch runs a delivery's effect with its own request's values (its
// logger) but the batch's deadline and without its request's cancelation.
func applyInBatch(batchCtx context.Context, p *pending, dtx *deliveryTx) (process.Outcome, error) {
	ctx := context.WithoutCancel(p.ctx)
	if deadline, ok := batchCtx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	return p.apply(ctx, dtx)
}
