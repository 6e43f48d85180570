package handlers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/internal/pgretry"
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

// delivery is one webhook delivery as recorded in webhook_delivery.
type delivery struct {
	event          string
	id             string
	action         string
	installationID int64
	repoID         int64
	payload        []byte
	// received is its arrival at the endpoint: the stored data is as of
	// then, before any inline fetch. Zero means now. A replay passes the
	// first arrival's.
	received time.Time
	// replay is true when the delivery is processed again from its stored
	// payload (jobs' replay), which then records it as recovered by replay.
	replay bool
	// wrapping is what the payload carries around its main object, for a
	// handler whose effect starts with storeEnvelope of exactly these: a
	// group commit then writes the envelopes of a batch together.
	wrapping *aroundObjects
}

// aroundObjects: see delivery.wrapping.
type aroundObjects struct {
	repo   *github.Repository
	inst   *github.Installation
	sender *github.User
}

// around names the envelope the delivery's effect stores first.
func (d delivery) around(repo *github.Repository, inst *github.Installation, sender *github.User) delivery {
	d.wrapping = &aroundObjects{repo: repo, inst: inst, sender: sender}
	return d
}

// outcome is what storing a delivery came to. run returns it as a value;
// the endpoint turns it into the answer, the log line and the metrics.
type outcome struct {
	delivery delivery
	// status is the stored status (processed, stale, failed) or duplicate;
	// empty when the delivery never reached the database.
	status string
}

// deliveryTx is the transaction of one delivery. Follow-up scans are
// recorded in it, and their jobs only queued after the commit, so a job
// never runs before the rows it refreshes exist, a rolled-back delivery
// queues nothing, and a committed one loses nothing.
type deliveryTx struct {
	*sql.Tx
	meta  process.Meta
	after []func(ctx context.Context) error
	// recovered is true for a delivery catch-up asked GitHub to send
	// again: see refreshRecovered.
	recovered bool
	// envelopeStored: its batch has written the delivery's envelope, so
	// storeEnvelope has nothing left to do.
	envelopeStored bool
	// later holds the users the transaction writes at its end, shared by
	// the deliveries of a batch.
	later *process.Later
}

// Later makes the delivery's transaction defer its user writes
// (process.LaterHolder).
func (t *deliveryTx) Later() *process.Later { return t.later }

// refreshRecovered queues, for a delivery catch-up recovered, a fetch of
// its object from the API (joined when one is queued already). Such a
// redelivery can arrive out of order with others of the same second, and
// GitHub dates both the object (updated_at) and the delivery
// (delivered_at) to the second, so no time given to us orders them; the
// fetch, as of a later moment, does. A no-op for every other delivery.
func (t *deliveryTx) refreshRecovered(ctx context.Context, s Scheduler, req jobs.ScanRequest) error {
	if !t.recovered || req.InstallationID == 0 {
		return nil
	}
	req.RequestedBy = "catchup"
	return t.scan(ctx, req, s)
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
// recorded on its own. It reports what happened as an outcome, also on
// failure, and leaves answering to the endpoint.
func (b *Base) run(ctx context.Context, d delivery, apply effect) (outcome, error) {
	if d.received.IsZero() {
		d.received = time.Now()
	}
	out := outcome{delivery: d}
	// The dispatcher's logger already names the event and delivery.
	logger := zerolog.Ctx(ctx).With().
		Str("github_action", d.action).
		Int64(githubapp.LogKeyInstallationID, d.installationID).
		Int64("github_repository_id", d.repoID).
		Logger()
	ctx = logger.WithContext(ctx)

	if d.id == "" {
		return out, &PayloadError{Event: d.event, Err: errors.New("missing X-GitHub-Delivery header")}
	}

	var res commitResult
	if b.commits != nil {
		res = b.commits.commit(ctx, b, d, apply)
	} else {
		res = b.storeAlone(ctx, d, apply)
	}
	status, after, err := res.status, res.after, res.err
	if err != nil {
		out.status = StatusFailed
		recordFailure(ctx, b.DB, d, err)
		var pe *PayloadError
		if errors.As(err, &pe) {
			pe.recorded = true
		} else if errors.Is(err, process.ErrInvalid) || isDataError(err) {
			err = &PayloadError{Event: d.event, DeliveryID: d.id, Err: err, recorded: true}
		}
		return out, err
	}
	out.status = status
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
	return out, nil
}

// isDataError is true when PostgreSQL refused the values themselves (class
// 22, data exception: a \u0000 in a string, a number out of range). The
// same payload would fail again, so it is bad input, not a failure to store.
func isDataError(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && strings.HasPrefix(pg.Code, "22")
}

// storeAlone stores one delivery in its own transaction, run again when
// the database aborted it for a deadlock or a serialization conflict: such
// a transaction is rolled back whole and succeeds when run again; GitHub
// would not redeliver a 500 by itself.
func (b *Base) storeAlone(ctx context.Context, d delivery, apply effect) commitResult {
	var res commitResult
	// Back off a little, with jitter, so the transaction that won the
	// deadlock takes the rows first instead of meeting us again.
	res.err = pgretry.Run(ctx, maxStoreAttempts, 100*time.Millisecond, func(err error, attempt int) {
		zerolog.Ctx(ctx).Warn().Err(err).Int("attempt", attempt).Msg("delivery transaction aborted by the database; retrying")
	}, func() error {
		var err error
		res.status, res.after, err = b.store(ctx, d, apply)
		return err
	})
	return res
}

// maxStoreAttempts bounds the runs of a delivery's transaction that the
// database aborted to break a deadlock or a serialization conflict.
const maxStoreAttempts = 3

// duplicate is the status answered for a GUID already stored.
const duplicate = "duplicate"

// store runs one attempt of a delivery's transaction and returns its
// status and the follow-up work to queue now that it is committed.
func (b *Base) store(ctx context.Context, d delivery, apply effect) (string, []func(context.Context) error, error) {
	tx, err := b.DB.BeginTx(ctx, nil)
	if err != nil {
		return "", nil, fmt.Errorf("begin %s delivery %s: %w", d.event, d.id, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit

	claims, err := claimAll(ctx, tx, []delivery{d})
	if err != nil {
		return "", nil, err
	}
	c := claims[0]
	if !c.claimed {
		zerolog.Ctx(ctx).Info().Msg("delivery already stored; nothing to do")
		return duplicate, nil, nil
	}
	dtx := c.tx(tx, d, &process.Later{})
	status := StatusProcessed
	if c.skip(ctx, d) {
		status = StatusStale
	} else {
		mainObject, err := apply(ctx, dtx)
		if err != nil {
			return "", nil, fmt.Errorf("store %s.%s delivery %s: %w", d.event, d.action, d.id, err)
		}
		if mainObject == process.Stale {
			status = StatusStale
		}
	}
	if err := dtx.later.Flush(ctx, tx); err != nil {
		return "", nil, fmt.Errorf("store %s.%s delivery %s: %w", d.event, d.action, d.id, err)
	}
	if status != StatusProcessed {
		if err := markStale(ctx, tx, []string{d.id}); err != nil {
			return "", nil, err
		}
	}
	if err := b.beforeCommit(); err != nil {
		return "", nil, fmt.Errorf("before commit of %s delivery %s: %w", d.event, d.id, err)
	}
	if err := tx.Commit(); err != nil {
		return "", nil, fmt.Errorf("commit %s delivery %s: %w", d.event, d.id, err)
	}
	return status, dtx.after, nil
}

func (b *Base) beforeCommit() error {
	if b.hooks != nil && b.hooks.beforeCommit != nil {
		return b.hooks.beforeCommit()
	}
	return nil
}

// claimed is what the claim of a delivery's GUID found.
type claimed struct {
	claimed bool // false: the GUID is stored already (a redelivery)
	// installationGone: the delivery's installation is stored as deleted.
	installationGone bool
	// askedAt is when GitHub first sent a delivery catch-up asked it to
	// send again.
	askedAt sql.NullTime
}

// tx is the delivery's view of the transaction: its data is as of its
// first arrival (or of when GitHub first sent it, for one catch-up asked
// for again).
func (c claimed) tx(tx *sql.Tx, d delivery, later *process.Later) *deliveryTx {
	asOf := d.received
	if c.askedAt.Valid && c.askedAt.Time.Before(asOf) {
		asOf = c.askedAt.Time
	}
	return &deliveryTx{Tx: tx, meta: process.Meta{Via: process.ViaWebhook, FetchedAt: asOf}, recovered: c.askedAt.Valid, later: later}
}

// skip is true for a late delivery from an installation that was deleted:
// access has ended, so its data is not stored again (it may have been
// purged as private). Read in the claim, no extra round trip.
func (c claimed) skip(ctx context.Context, d delivery) bool {
	if c.installationGone && !aboutInstallation[d.event] {
		zerolog.Ctx(ctx).Info().Int64("installation_id", d.installationID).Msg("delivery from a deleted installation; nothing stored")
		return true
	}
	return false
}

// markStale records deliveries whose main object was stale (or that were
// not stored at all) as stale.
func markStale(ctx context.Context, tx *sql.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE webhook_delivery SET status = 'stale' WHERE delivery_id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("record %d deliveries as stale: %w", len(ids), err)
	}
	return nil
}

// aboutInstallation are the events about the installation itself, which
// its handlers judge even when the installation is deleted.
var aboutInstallation = map[string]bool{"installation": true, "installation_repositories": true}

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
