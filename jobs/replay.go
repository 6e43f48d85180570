package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gocraft/work"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// Local replay of failed deliveries: a delivery stored as failed keeps its
// payload, so it can be processed again without GitHub, with backoff, until
// it is stored or given up.

// DefaultReplayBaseDelay is the first wait before a failed delivery is
// replayed; the handlers use it for the wait after the first failure.
const DefaultReplayBaseDelay = 30 * time.Second

const (
	// replayMaxDelay caps the doubling wait between replays.
	replayMaxDelay = time.Hour
	// replayBatch bounds one run, so a backlog is worked through run by
	// run instead of in one job that outlives its deadline.
	replayBatch = 100
	// replayLockKey is the advisory lock that keeps replay to one process
	// at a time ("webhookdb replay" in ASCII).
	replayLockKey int64 = 0x7265706c6179
)

// Delivery statuses as the handlers store them (the jobs package cannot
// import handlers).
const (
	deliveryFailed  = "failed"
	deliveryIgnored = "ignored"
)

func (e *engine) replayJob(ctx context.Context, _ *work.Job) error {
	_, err := e.replayFailed(ctx, time.Now())
	return err
}

// replayResult counts what one replay run did.
type replayResult struct {
	tried, stored, failed, gaveUp int
	// skipped is true when another process held the lock.
	skipped bool
}

// replayFailed replays the failed deliveries due at now, oldest first, one
// batch, under an advisory lock so that one process at a time does it.
// Each one goes through Deps.Replay; its bookkeeping (attempts, next try,
// give-up) is written after Replay returns, so the handler's own record of
// the failure never overwrites it.
func (e *engine) replayFailed(ctx context.Context, now time.Time) (replayResult, error) {
	var res replayResult
	if e.deps.Replay == nil {
		return res, nil
	}
	// The lock lives as long as this transaction, which only reads: if
	// the process dies, the connection ends and the lock with it.
	tx, err := e.deps.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return res, fmt.Errorf("begin replay: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to keep
	var locked bool
	if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, replayLockKey).Scan(&locked); err != nil {
		return res, fmt.Errorf("take replay lock: %w", err)
	}
	if !locked {
		e.deps.Logger.Debug().Msg("replay: another process is replaying; skipped")
		res.skipped = true
		return res, nil
	}
	// Without payloads: they are loaded one at a time (up to 25 MiB each).
	// The filter matches webhook_delivery_replay_idx. Rows without payload
	// are left to catch-up, which asks GitHub to redeliver them.
	w := models.WebhookDeliveryWhere
	due, err := models.WebhookDeliveries(
		qm.Select(models.WebhookDeliveryColumns.DeliveryID, models.WebhookDeliveryColumns.Event,
			models.WebhookDeliveryColumns.ReceivedAt, models.WebhookDeliveryColumns.ReplayAttempts),
		w.Status.EQ(deliveryFailed), w.GaveUpAt.IsNull(), w.Payload.IsNotNull(),
		qm.Expr(w.ReplayAfter.IsNull(), qm.Or2(w.ReplayAfter.LTE(null.TimeFrom(now)))),
		qm.OrderBy(models.WebhookDeliveryColumns.ReceivedAt+", "+models.WebhookDeliveryColumns.DeliveryID),
		qm.Limit(replayBatch),
	).All(ctx, tx)
	if err != nil {
		return res, fmt.Errorf("list failed deliveries due for replay: %w", err)
	}
	for _, row := range due {
		if err := ctx.Err(); err != nil {
			// The job's deadline: the rest stays due for the next run.
			return res, fmt.Errorf("replay stopped after %d of %d deliveries: %w", res.tried, len(due), err)
		}
		if err := e.replayOne(ctx, row, now, &res); err != nil {
			return res, err
		}
	}
	if res.tried > 0 {
		e.deps.Logger.Info().Int("tried", res.tried).Int("stored", res.stored).Int("failed", res.failed).
			Int("gave_up", res.gaveUp).Msg("replayed failed deliveries")
	}
	return res, nil
}

// replayOne replays one due delivery and records how it went. Its error
// is one of the database (the run stops); a failed replay is not an error.
func (e *engine) replayOne(ctx context.Context, row *models.WebhookDelivery, now time.Time, res *replayResult) error {
	logger := e.deps.Logger.With().Str(githubapp.LogKeyDeliveryID, row.DeliveryID).Str(githubapp.LogKeyEventType, row.Event).Logger()
	stored, err := models.FindWebhookDelivery(ctx, e.deps.DB, row.DeliveryID,
		models.WebhookDeliveryColumns.Status, models.WebhookDeliveryColumns.Payload, models.WebhookDeliveryColumns.GaveUpAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // removed meanwhile (retention)
	}
	if err != nil {
		return fmt.Errorf("load delivery %s for replay: %w", row.DeliveryID, err)
	}
	if stored.Status != deliveryFailed || stored.GaveUpAt.Valid || !stored.Payload.Valid {
		return nil // stored by a redelivery since it was listed
	}
	res.tried++
	status, replayErr := e.deps.Replay(ctx, StoredDelivery{
		GUID: row.DeliveryID, Event: row.Event, Payload: stored.Payload.JSON, ReceivedAt: row.ReceivedAt,
	})
	if replayErr == nil && status != deliveryIgnored {
		// processed or stale: the claim rewrote the row; duplicate: a
		// redelivery stored it meanwhile. Nothing more to record.
		res.stored++
		e.metrics.replays.WithLabelValues(status).Inc()
		logger.Info().Str("status", status).Int("attempt", row.ReplayAttempts+1).Msg("failed delivery replayed")
		return nil
	}
	if ctx.Err() != nil {
		// Cut by the job's deadline, not a failure of the delivery: it
		// stays due, its attempt uncounted.
		return fmt.Errorf("replay delivery %s: %w", row.DeliveryID, ctx.Err())
	}
	attempts := row.ReplayAttempts + 1
	set := models.M{models.WebhookDeliveryColumns.ReplayAttempts: attempts}
	giveUp := attempts >= e.deps.ReplayMaxAttempts
	if replayErr == nil {
		// No handler takes this event any more: nothing can store it.
		replayErr = fmt.Errorf("no handler for %s events; nothing to replay", row.Event)
		giveUp = true
	}
	set[models.WebhookDeliveryColumns.Error] = replayErr.Error()
	if giveUp {
		set[models.WebhookDeliveryColumns.GaveUpAt] = now
	} else {
		set[models.WebhookDeliveryColumns.ReplayAfter] = now.Add(e.replayDelay(attempts))
	}
	// Guarded by status: a copy stored meanwhile (a redelivery) is never
	// marked failed again. The handler's failure record (error,
	// processed_at, and gave_up_at for a payload that can never be stored)
	// is written before Replay returns, so this runs after it.
	n, err := models.WebhookDeliveries(
		models.WebhookDeliveryWhere.DeliveryID.EQ(row.DeliveryID),
		models.WebhookDeliveryWhere.Status.EQ(deliveryFailed),
	).UpdateAll(ctx, e.deps.DB, set)
	if err != nil {
		return fmt.Errorf("record failed replay of delivery %s: %w", row.DeliveryID, err)
	}
	if n == 0 {
		res.stored++
		e.metrics.replays.WithLabelValues("duplicate").Inc()
		return nil
	}
	res.failed++
	e.metrics.replays.WithLabelValues(deliveryFailed).Inc()
	if !giveUp {
		// The handler gives up itself on a payload that cannot be stored.
		after, err := models.FindWebhookDelivery(ctx, e.deps.DB, row.DeliveryID, models.WebhookDeliveryColumns.GaveUpAt)
		if err != nil {
			return fmt.Errorf("read delivery %s after a failed replay: %w", row.DeliveryID, err)
		}
		giveUp = after.GaveUpAt.Valid
	}
	if giveUp {
		res.gaveUp++
		e.metrics.replayGiveUps.Inc()
		logger.Warn().Err(replayErr).Int("attempts", attempts).Msg("failed delivery given up")
		return nil
	}
	logger.Warn().Err(replayErr).Int("attempts", attempts).Msg("failed delivery replayed and failed again; it is tried again later")
	return nil
}

// replayDelay is the wait after failed replay number attempts (from 1):
// the base delay, doubling each time, capped at an hour.
func (e *engine) replayDelay(attempts int) time.Duration {
	d := e.deps.ReplayBaseDelay
	for i := 1; i < attempts && d < replayMaxDelay; i++ {
		d *= 2
	}
	return min(d, replayMaxDelay)
}
