package handlers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// The webhook_delivery bookkeeping done outside a delivery's transaction:
// one row at a time, off the hot path, through the generated models where
// they can state the statement exactly.

// alreadyStored says whether d's GUID was processed before (a redelivery),
// so that work done ahead of the transaction, such as an inline GitHub
// fetch, is not spent on a delivery that will change nothing. On doubt it
// says no: the transaction still decides.
func (b *Base) alreadyStored(ctx context.Context, d delivery) bool {
	stored, err := models.FindWebhookDelivery(ctx, b.DB, d.id, models.WebhookDeliveryColumns.Status)
	return err == nil && stored.Status != StatusFailed
}

// recordFailure stores a failed delivery in its own small transaction, best
// effort: when the database is what failed, this fails too and is logged.
// It never overwrites a copy of the same GUID that succeeded meanwhile.
//
// It also schedules the delivery's local replay (jobs' replay): a failure
// that can never succeed (a PayloadError, invalid data) is given up at once
// (gave_up_at), any other is due for replay after the first delay. A
// failure stored without its payload cannot be replayed; catch-up asks
// GitHub to redeliver it instead.
func recordFailure(ctx context.Context, db *sql.DB, d delivery, cause error) {
	logger := zerolog.Ctx(ctx)
	logger.Error().Err(cause).Msg("delivery failed")
	if d.id == "" {
		return
	}
	// The request may be canceled already; the record is still worth a try.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// Hand-written: the models' Upsert has no WHERE on its DO UPDATE (which
	// keeps a copy that succeeded), no COALESCE keeping a stored payload or
	// an earlier give-up, and no now() arithmetic.
	const q = `
INSERT INTO webhook_delivery (delivery_id, event, action, installation_id, repo_id, received_at, processed_at, status, error, payload,
  gave_up_at, replay_after)
VALUES ($1, $2, $3, $4, $5, $6, now(), 'failed', $7, $8::jsonb,
  CASE WHEN $9::boolean THEN now() END,
  CASE WHEN NOT $9::boolean THEN now() + make_interval(secs => $10::double precision) END)
ON CONFLICT (delivery_id) DO UPDATE SET
  received_at = EXCLUDED.received_at, processed_at = EXCLUDED.processed_at, error = EXCLUDED.error,
  payload = COALESCE(EXCLUDED.payload, webhook_delivery.payload),
  gave_up_at = COALESCE(webhook_delivery.gave_up_at, EXCLUDED.gave_up_at),
  replay_after = EXCLUDED.replay_after
WHERE webhook_delivery.status = 'failed'`
	args := []any{d.id, d.event, nullString(d.action), nullInt(d.installationID), nullInt(d.repoID), d.received, cause.Error(), jsonText(d.payload),
		permanentFailure(cause), jobs.DefaultReplayBaseDelay.Seconds()}
	_, err := db.ExecContext(ctx, q, args...)
	if err != nil && args[7] != nil {
		// The payload itself may be what PostgreSQL refused (jsonb has no
		// \u0000); the failure is still worth recording without it.
		args[7] = nil
		_, err = db.ExecContext(ctx, q, args...)
	}
	if err != nil {
		logger.Error().Err(err).Msg("record failed delivery")
	}
}

// permanentFailure is true for a failure that the same payload would meet
// again: a payload that cannot be parsed or that the database refuses.
func permanentFailure(err error) bool {
	var pe *PayloadError
	return errors.As(err, &pe) || errors.Is(err, process.ErrInvalid) || isDataError(err)
}

// ignoredColumns are the columns recordIgnored writes; received_at is left
// to its default, now(). No payload: no handler would ever read it.
var ignoredColumns = boil.Whitelist(
	models.WebhookDeliveryColumns.DeliveryID, models.WebhookDeliveryColumns.Event,
	models.WebhookDeliveryColumns.Action, models.WebhookDeliveryColumns.InstallationID,
	models.WebhookDeliveryColumns.RepoID, models.WebhookDeliveryColumns.ProcessedAt,
	models.WebhookDeliveryColumns.Status,
)

// recordIgnored stores a delivery of an event no handler takes, without
// its payload. It reports false when the GUID was stored already (a
// redelivery).
func recordIgnored(ctx context.Context, db *sql.DB, d delivery) (bool, error) {
	row := &models.WebhookDelivery{
		DeliveryID:     d.id,
		Event:          d.event,
		Action:         null.NewString(d.action, d.action != ""),
		InstallationID: null.NewInt64(d.installationID, d.installationID != 0),
		RepoID:         null.NewInt64(d.repoID, d.repoID != 0),
		// The app's clock where the SQL said now(): a bound value is all
		// a model can send.
		ProcessedAt: null.TimeFrom(time.Now()),
		Status:      StatusIgnored,
	}
	// INSERT ... ON CONFLICT (delivery_id) DO NOTHING RETURNING received_at,
	// error. Upsert turns DO NOTHING's empty answer into a nil error, so
	// the default received_at, read back only when the row was inserted,
	// is what tells the two apart. (The update columns only narrow the
	// RETURNING list; DO NOTHING updates nothing.)
	if err := row.Upsert(ctx, db, false, []string{models.WebhookDeliveryColumns.DeliveryID}, ignoredColumns, ignoredColumns); err != nil {
		return false, fmt.Errorf("record ignored %s delivery %s: %w", d.event, d.id, err)
	}
	return !row.ReceivedAt.IsZero(), nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
func nullInt(n int64) sql.NullInt64      { return sql.NullInt64{Int64: n, Valid: n != 0} }

// jsonText passes a payload as text for a ::jsonb parameter; nil when empty.
func jsonText(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
