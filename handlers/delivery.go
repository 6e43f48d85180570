package handlers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/httpjson"
	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// Delivery statuses stored in webhook_delivery.status.
const (
	StatusProcessed = "processed"
	StatusStale     = "stale"
	StatusIgnored   = "ignored"
	StatusFailed    = "failed"
)

// PayloadError is a delivery whose payload cannot be parsed or stored as
// given. It is answered 400: redelivering the same bytes cannot succeed.
type PayloadError struct {
	Event      string
	DeliveryID string
	Err        error
	// recorded is set once the failure is in webhook_delivery.
	recorded bool
}

func (e *PayloadError) Error() string {
	return fmt.Sprintf("%s delivery %s: bad payload: %v", e.Event, e.DeliveryID, e.Err)
}

func (e *PayloadError) Unwrap() error { return e.Err }

// Scheduler is the part of *jobs.Scheduler the handlers use to queue
// follow-up work.
type Scheduler interface {
	// ScanInTx records a scan in the delivery's transaction (so a commit
	// never loses its follow-up work) and returns what queues it now.
	ScanInTx(ctx context.Context, tx *sql.Tx, req jobs.ScanRequest) (scanID int64, joined bool, enqueue func() error, err error)
	// CancelInstallationInTx ends an installation's queued and running
	// scans in the delivery's transaction.
	CancelInstallationInTx(ctx context.Context, tx *sql.Tx, installationID int64) error
}

// Base is embedded in every event handler: what a handler needs to store
// a delivery and queue its follow-up work.
type Base struct {
	DB        *sql.DB
	Scheduler Scheduler
	GitHub    githubapp.ClientCreator
	Logger    zerolog.Logger

	metrics *metrics
	// hooks lets tests act at a precise point of a delivery (the database
	// going away before commit) without sleeping.
	hooks *hooks
}

type hooks struct {
	// beforeCommit runs after the effect is written, before the commit;
	// an error fails the delivery there.
	beforeCommit func() error
}

// delivery is one webhook delivery as recorded in webhook_delivery.
type delivery struct {
	event          string
	id             string
	action         string
	installationID int64
	repoID         int64
	payload        []byte
}

// deliveryTx is the transaction of one delivery. Follow-up scans are
// recorded in it, and their jobs only queued after the commit, so a job
// never runs before the rows it refreshes exist, a rolled-back delivery
// queues nothing, and a committed one loses nothing.
type deliveryTx struct {
	*sql.Tx
	meta  process.Meta
	after []func(ctx context.Context) error
}

// scan records req in the delivery's transaction and queues its job after
// the commit. Failing to record it fails the delivery (GitHub redelivers);
// failing to queue it afterwards only delays it until the sweeper runs.
func (t *deliveryTx) scan(ctx context.Context, req jobs.ScanRequest, s Scheduler) error {
	if req.RequestedBy == "" {
		req.RequestedBy = "webhook"
	}
	if s == nil {
		return fmt.Errorf("record %s scan of %s/%s: no scheduler", req.Kind, req.Owner, req.Repo)
	}
	id, _, enqueue, err := s.ScanInTx(ctx, t.Tx, req)
	if err != nil {
		return fmt.Errorf("record %s scan of %s/%s #%d: %w", req.Kind, req.Owner, req.Repo, req.Number, err)
	}
	t.after = append(t.after, func(context.Context) error {
		if err := enqueue(); err != nil {
			return fmt.Errorf("queue scan %d (%s of %s/%s #%d); the sweeper will start it: %w", id, req.Kind, req.Owner, req.Repo, req.Number, err)
		}
		return nil
	})
	return nil
}

// cancelInstallation ends the queued work of an installation in the
// delivery's transaction, so an uninstall never commits without it.
func (t *deliveryTx) cancelInstallation(ctx context.Context, id int64, s Scheduler) error {
	if s == nil {
		return fmt.Errorf("cancel work of installation %d: no scheduler", id)
	}
	if err := s.CancelInstallationInTx(ctx, t.Tx, id); err != nil {
		return fmt.Errorf("cancel work of installation %d: %w", id, err)
	}
	return nil
}

// effect writes what a delivery means, inside its transaction, and reports
// what happened to the main object (Written or Stale; 0 when there is none).
type effect func(ctx context.Context, tx *deliveryTx) (process.Outcome, error)

// parsePayload decodes a payload into v, as a PayloadError when it is not
// the JSON of that event.
func parsePayload(eventType, deliveryID string, payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return &PayloadError{Event: eventType, DeliveryID: deliveryID, Err: fmt.Errorf("parse %s payload: %w", eventType, err)}
	}
	return nil
}

// run stores one delivery: the claim of its GUID, its effect and its final
// status in one transaction. A GUID already stored (other than failed)
// changes nothing. On failure the effect is rolled back and the failure is
// recorded on its own.
func (b *Base) run(ctx context.Context, d delivery, apply effect) error {
	info := requestInfoFrom(ctx)
	// The data is as of its arrival, before any inline fetch.
	start := info.received
	if start.IsZero() {
		start = time.Now()
	}
	info.setDelivery(d)
	// The dispatcher's logger already names the event and delivery.
	logger := zerolog.Ctx(ctx).With().
		Str("github_action", d.action).
		Int64(githubapp.LogKeyInstallationID, d.installationID).
		Int64("github_repository_id", d.repoID).
		Logger()
	ctx = logger.WithContext(ctx)

	if d.id == "" {
		return &PayloadError{Event: d.event, Err: errors.New("missing X-GitHub-Delivery header")}
	}

	status, after, err := b.store(ctx, d, start, apply)
	// A deadlock victim or serialization failure is rolled back whole and
	// succeeds when run again; GitHub would not redeliver a 500 by itself.
	for attempt := 2; err != nil && isRetryable(err) && attempt <= maxStoreAttempts && ctx.Err() == nil; attempt++ {
		logger.Warn().Err(err).Int("attempt", attempt).Msg("delivery transaction aborted by the database; retrying")
		// Back off a little, with jitter, so the transaction that won the
		// deadlock takes the rows first instead of meeting us again.
		if !waitRetry(ctx, attempt) {
			break
		}
		status, after, err = b.store(ctx, d, start, apply)
	}
	if err != nil {
		info.setStatus(StatusFailed)
		recordFailure(ctx, b.DB, d, start, err)
		var pe *PayloadError
		if errors.As(err, &pe) {
			pe.recorded = true
		} else if errors.Is(err, process.ErrInvalid) || isDataError(err) {
			err = &PayloadError{Event: d.event, DeliveryID: d.id, Err: err, recorded: true}
		}
		return err
	}
	info.setStatus(status)
	// The follow-up scans are committed with the delivery; queueing their
	// jobs now is only a shortcut past the sweeper, so an error here does
	// not fail the delivery. It is queued even if GitHub has stopped
	// waiting for the answer.
	if len(after) > 0 {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		for _, f := range after {
			if err := f(qctx); err != nil {
				logger.Warn().Err(err).Msg("queue follow-up work of delivery")
			}
		}
		cancel()
	}
	githubapp.SetResponder(ctx, func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusOK, map[string]string{"message": status})
	})
	return nil
}

// isDataError is true when PostgreSQL refused the values themselves (class
// 22, data exception: a \u0000 in a string, a number out of range). The
// same payload would fail again, so it is bad input, not a failure to store.
func isDataError(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && strings.HasPrefix(pg.Code, "22")
}

// maxStoreAttempts bounds the runs of a delivery's transaction that the
// database aborted to break a deadlock or a serialization conflict.
const maxStoreAttempts = 3

// waitRetry waits before run attempt of a delivery: about 100 ms per
// earlier attempt, with jitter. It is false when ctx ends first.
func waitRetry(ctx context.Context, attempt int) bool {
	d := time.Duration(attempt-1)*100*time.Millisecond + time.Duration(rand.Int64N(int64(50*time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// isRetryable is true when PostgreSQL aborted the transaction only because
// of concurrent ones (class 40: deadlock, serialization failure).
func isRetryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// duplicate is the status answered for a GUID already stored.
const duplicate = "duplicate"

func (b *Base) store(ctx context.Context, d delivery, start time.Time, apply effect) (string, []func(context.Context) error, error) {
	tx, err := b.DB.BeginTx(ctx, nil)
	if err != nil {
		return "", nil, fmt.Errorf("begin %s delivery %s: %w", d.event, d.id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit

	// Claiming the GUID first serializes two copies of one delivery: the
	// second waits on the primary key until the first commits, then finds
	// it done.
	var claimed string
	err = tx.QueryRowContext(ctx, `
INSERT INTO webhook_delivery (delivery_id, event, action, installation_id, repo_id, received_at, status, error, payload)
VALUES ($1, $2, $3, $4, $5, $6, 'processed', NULL, $7::jsonb)
ON CONFLICT (delivery_id) DO UPDATE SET
  event = EXCLUDED.event, action = EXCLUDED.action, installation_id = EXCLUDED.installation_id,
  repo_id = EXCLUDED.repo_id, received_at = EXCLUDED.received_at, status = 'processed',
  error = NULL, processed_at = NULL, payload = EXCLUDED.payload
WHERE webhook_delivery.status = 'failed'
RETURNING delivery_id`,
		d.id, d.event, nullString(d.action), nullInt(d.installationID), nullInt(d.repoID), start, jsonText(d.payload),
	).Scan(&claimed)
	if errors.Is(err, sql.ErrNoRows) {
		zerolog.Ctx(ctx).Info().Msg("delivery already stored; nothing to do")
		return duplicate, nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("claim %s delivery %s: %w", d.event, d.id, err)
	}

	dtx := &deliveryTx{Tx: tx, meta: process.Meta{Via: process.ViaWebhook, FetchedAt: start}}
	outcome, err := apply(ctx, dtx)
	if err != nil {
		return "", nil, fmt.Errorf("store %s.%s delivery %s: %w", d.event, d.action, d.id, err)
	}
	status := StatusProcessed
	if outcome == process.Stale {
		status = StatusStale
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_delivery SET status = $2, processed_at = now() WHERE delivery_id = $1`, d.id, status); err != nil {
		return "", nil, fmt.Errorf("record %s delivery %s as %s: %w", d.event, d.id, status, err)
	}
	if b.hooks != nil && b.hooks.beforeCommit != nil {
		if err := b.hooks.beforeCommit(); err != nil {
			return "", nil, fmt.Errorf("before commit of %s delivery %s: %w", d.event, d.id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", nil, fmt.Errorf("commit %s delivery %s: %w", d.event, d.id, err)
	}
	return status, dtx.after, nil
}

// recordFailure stores a failed delivery in its own small transaction, best
// effort: when the database is what failed, this fails too and is logged.
// It never overwrites a copy of the same GUID that succeeded meanwhile.
func recordFailure(ctx context.Context, db *sql.DB, d delivery, start time.Time, cause error) {
	logger := zerolog.Ctx(ctx)
	logger.Error().Err(cause).Msg("delivery failed")
	if d.id == "" {
		return
	}
	// The request may be canceled already; the record is still worth a try.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	const q = `
INSERT INTO webhook_delivery (delivery_id, event, action, installation_id, repo_id, received_at, processed_at, status, error, payload)
VALUES ($1, $2, $3, $4, $5, $6, now(), 'failed', $7, $8::jsonb)
ON CONFLICT (delivery_id) DO UPDATE SET
  received_at = EXCLUDED.received_at, processed_at = EXCLUDED.processed_at, error = EXCLUDED.error,
  payload = COALESCE(EXCLUDED.payload, webhook_delivery.payload)
WHERE webhook_delivery.status = 'failed'`
	args := []any{d.id, d.event, nullString(d.action), nullInt(d.installationID), nullInt(d.repoID), start, cause.Error(), jsonText(d.payload)}
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

// recordIgnored stores a delivery of an event no handler takes. It reports
// false when the GUID was stored already (a redelivery).
func recordIgnored(ctx context.Context, db *sql.DB, d delivery) (bool, error) {
	res, err := db.ExecContext(ctx, `
INSERT INTO webhook_delivery (delivery_id, event, action, installation_id, repo_id, processed_at, status, payload)
VALUES ($1, $2, $3, $4, $5, now(), 'ignored', $6::jsonb)
ON CONFLICT (delivery_id) DO NOTHING`,
		d.id, d.event, nullString(d.action), nullInt(d.installationID), nullInt(d.repoID), jsonText(d.payload))
	if err != nil {
		return false, fmt.Errorf("record ignored %s delivery %s: %w", d.event, d.id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record ignored %s delivery %s: %w", d.event, d.id, err)
	}
	return n == 1, nil
}

// envelope holds the fields every event payload may carry.
type envelope struct {
	Action       string `json:"action"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Repository struct {
		ID int64 `json:"id"`
	} `json:"repository"`
}

// newDelivery describes a delivery from its headers and the common fields
// of its payload. A payload that is not a JSON object is a PayloadError.
func newDelivery(eventType, deliveryID string, payload []byte) (delivery, error) {
	var env envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return delivery{}, &PayloadError{Event: eventType, DeliveryID: deliveryID, Err: fmt.Errorf("parse %s payload: %w", eventType, err)}
	}
	return delivery{
		event:          eventType,
		id:             deliveryID,
		action:         env.Action,
		installationID: env.Installation.ID,
		repoID:         env.Repository.ID,
		payload:        payload,
	}, nil
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
