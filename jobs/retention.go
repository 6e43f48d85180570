package jobs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/gocraft/work"

	"github.com/webhookdb/webhookdb/process"
)

// Retention (apply_retention) removes, every RetentionInterval, what no
// later work needs any more. Every statement is hand-written: the models'
// DeleteAll and UpdateAll cannot limit how many rows they touch, and each
// statement here touches at most one batch, commits on its own (the pool,
// no transaction) and is repeated until a batch comes back short, so no
// statement holds its locks for long while webhooks and pages write.
const (
	// retentionBatch is how many rows one statement touches.
	retentionBatch = 1000
	// retentionBudget stops a run with a big backlog (the first run on an
	// old database) before the job's own deadline; the next run goes on.
	retentionBudget = jobTimeout - time.Minute
	// scanPageRetention: a finished scan's pages (their seen_ids are the
	// bulk of the table) are only read by its own <collection>_scanned
	// job, which runs as the scan ends; a day leaves room for retries.
	scanPageRetention = 24 * time.Hour
	// githubLogWindow is how far back GitHub's delivery log (and so a
	// redelivery) reaches, with a day's margin.
	githubLogWindow = 4 * 24 * time.Hour
	// catchupRequestRetention: a catchup_request only matters while its
	// redelivery can still arrive (GitHub's log, 3 days); a week also
	// leaves it visible for a while to whoever looks into an outage.
	catchupRequestRetention = 7 * 24 * time.Hour
)

// retentionLockKey names the session advisory lock that keeps one run at
// a time across processes (hashtext of the name, so other jobs' locks with
// other names do not collide).
const retentionLockKey = "webhookdb.apply_retention"

// retentionPolicy is what one run removes: the cutoffs as of the run's
// start, and the batch size (a parameter so tests can make it small).
type retentionPolicy struct {
	// payloadsBefore: payloads of deliveries received before it are
	// dropped, except a failed delivery not given up (replay needs it).
	payloadsBefore time.Time
	// deliveriesBefore: delivery rows received before it are deleted.
	deliveriesBefore time.Time
	// scansBefore: finished scans before it are deleted unless a later
	// scan or a recent load's status still needs them.
	scansBefore time.Time
	// pagesBefore: the pages of scans finished before it are deleted.
	pagesBefore time.Time
	// etagsBefore: ETags not stored again since it are deleted.
	etagsBefore time.Time
	// tombstonesBefore: tombstones recorded before it are deleted.
	tombstonesBefore time.Time
	// catchupBefore: catch-up requests made before it are deleted.
	catchupBefore time.Time
	batch         int
	budget        time.Duration
}

// retentionPolicy is the policy of a run at now under the configured
// retentions.
func (e *engine) retentionPolicy(now time.Time) retentionPolicy {
	d := e.deps
	p := retentionPolicy{
		payloadsBefore:   now.Add(-d.DeliveryRetention),
		deliveriesBefore: now.Add(-d.DeliveryLogRetention),
		// A scan finished within the payload retention stays: the
		// /status of a recent load adds up its whole tree.
		scansBefore: now.Add(-d.DeliveryRetention),
		// An ETag that old is unlikely to match still; a miss costs one
		// full request, after which the page stores a fresh one.
		etagsBefore: now.Add(-d.DeliveryLogRetention),
		// A late delivery of a deleted object can only be GitHub's
		// (its 3-day log) or our replay of a stored payload.
		tombstonesBefore: now.Add(-max(d.DeliveryRetention, githubLogWindow)),
		catchupBefore:    now.Add(-max(catchupRequestRetention, githubLogWindow)),
		batch:            retentionBatch,
		budget:           retentionBudget,
	}
	// Pages go before their scan does, so deleting the scan cascades to
	// nothing (one batch of scans never drags thousands of pages along).
	p.pagesBefore = now.Add(-scanPageRetention)
	if p.scansBefore.After(p.pagesBefore) {
		p.pagesBefore = p.scansBefore
	}
	return p
}

// retentionJob removes what is kept no longer, as of now.
func (e *engine) retentionJob(ctx context.Context, _ *work.Job) error {
	_, err := e.applyRetention(ctx, e.retentionPolicy(time.Now()))
	return err
}

// applyRetention runs the policy under the advisory lock, and reports
// what it removed by kind (the labels of the retained metric). When
// another process holds the lock it does nothing: that run does the
// same work. (Every statement is idempotent, so two runs would only
// split the work; the lock just saves the second its queries.)
func (e *engine) applyRetention(ctx context.Context, p retentionPolicy) (map[string]int64, error) {
	conn, err := e.deps.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("retention: take a connection for the lock: %w", err)
	}
	defer conn.Close()
	var locked bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, retentionLockKey).Scan(&locked); err != nil {
		return nil, fmt.Errorf("retention: take the advisory lock: %w", err)
	}
	if !locked {
		e.deps.Logger.Debug().Msg("retention already running in another process; skipped")
		return map[string]int64{}, nil
	}
	defer func() {
		// A background context: the lock must go even when ctx ended,
		// or the connection would return to the pool still holding it.
		if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, retentionLockKey); err != nil {
			e.deps.Logger.Warn().Err(err).Msg("retention: release the advisory lock; closing its connection instead")
			// ErrBadConn makes database/sql close the connection rather
			// than pool it, which ends the session and with it the lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return e.retain(ctx, p)
}

// retentionStep removes one kind of row in batches.
type retentionStep struct {
	what string
	run  func(ctx context.Context, p retentionPolicy, more func() bool) (int64, error)
}

func (e *engine) retain(ctx context.Context, p retentionPolicy) (map[string]int64, error) {
	start := time.Now()
	// Delivery rows before their payloads (no point in dropping the
	// payload of a row about to go); pages before scans (see above).
	steps := []retentionStep{
		{"delivery", e.loopExec(deleteDeliveries, func(p retentionPolicy) time.Time { return p.deliveriesBefore })},
		{"delivery_payload", e.loopExec(dropPayloads, func(p retentionPolicy) time.Time { return p.payloadsBefore })},
		{"scan_page", e.pruneScanPages},
		{"scan", e.pruneScans},
		{"api_etag", e.loopExec(deleteETags, func(p retentionPolicy) time.Time { return p.etagsBefore })},
		{"tombstone", e.pruneTombstones},
		{"collaborator_removal", e.pruneRemovals},
		{"reconcile_run", e.loopExec(deleteReconcileRuns, func(p retentionPolicy) time.Time { return p.deliveriesBefore })},
		{"catchup_request", e.loopExec(deleteCatchupRequests, func(p retentionPolicy) time.Time { return p.catchupBefore })},
	}
	counts := map[string]int64{}
	spent := false
	// more says whether another batch may run (not past the budget); an
	// ended ctx ends the run through the error of the next statement.
	more := func() bool {
		if time.Since(start) > p.budget {
			spent = true
			return false
		}
		return true
	}
	var errs []error
	for _, s := range steps {
		if spent {
			break
		}
		n, err := s.run(ctx, p, more)
		counts[s.what] += n
		if n > 0 {
			e.metrics.retained.WithLabelValues(s.what).Add(float64(n))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("retention of %s: %w", s.what, err))
			if ctx.Err() != nil {
				break
			}
			// One failing kind does not keep the others from their
			// retention; the next run tries it again.
		}
	}
	ev := e.deps.Logger.Info()
	if len(errs) > 0 {
		ev = e.deps.Logger.Warn().Err(errors.Join(errs...))
	}
	for _, s := range steps {
		ev = ev.Int64(s.what, counts[s.what])
	}
	msg := "retention applied"
	if spent {
		msg = "retention stopped at its time budget; the next run goes on"
	}
	ev.Dur("took", time.Since(start)).Msg(msg)
	return counts, errors.Join(errs...)
}

// loopExec repeats stmt (with $1 the cutoff, $2 the batch) until it
// touches fewer rows than a batch.
func (e *engine) loopExec(stmt string, cutoff func(retentionPolicy) time.Time) func(context.Context, retentionPolicy, func() bool) (int64, error) {
	return func(ctx context.Context, p retentionPolicy, more func() bool) (int64, error) {
		return loopBatches(p.batch, more, func() (int64, error) {
			res, err := e.deps.DB.ExecContext(ctx, stmt, cutoff(p), p.batch)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		})
	}
}

// loopBatches runs batch until it removes fewer than size rows, it fails,
// or more says stop; it returns the total removed.
func loopBatches(size int, more func() bool, batch func() (int64, error)) (int64, error) {
	var total int64
	for more() {
		n, err := batch()
		total += n
		if err != nil {
			return total, err
		}
		if n < int64(size) {
			break
		}
	}
	return total, nil
}

// The batched statements. SKIP LOCKED leaves rows that a webhook, a
// replay or a page holds to the next batch or run instead of waiting.
const (
	// Every delivery past the log retention goes, a failed one too: by
	// then nothing replays it.
	deleteDeliveries = `
		DELETE FROM webhook_delivery WHERE delivery_id IN (
			SELECT delivery_id FROM webhook_delivery WHERE received_at < $1
			ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)`
	// A failed delivery not given up keeps its payload past the payload
	// retention: replay processes it from that payload, and dropping it
	// would turn a delivery that may still succeed into a lost one. It
	// keeps it until replay gives it up (the next run then drops it) or
	// the log retention deletes the row. Such rows are few (replay's tries
	// are bounded), so skipping them in every batch costs little.
	dropPayloads = `
		UPDATE webhook_delivery SET payload = NULL WHERE delivery_id IN (
			SELECT delivery_id FROM webhook_delivery
			WHERE payload IS NOT NULL AND received_at < $1
			  AND NOT (status = 'failed' AND gave_up_at IS NULL)
			ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)`
	// updated_at is when the page last stored its ETag (a new answer).
	deleteETags = `
		DELETE FROM api_etag WHERE url IN (
			SELECT url FROM api_etag WHERE updated_at < $1
			ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)`
	// A finished reconciliation run past the log retention goes, except
	// the newest of each kind: the schedule is decided from those.
	deleteReconcileRuns = `
		DELETE FROM reconcile_run WHERE id IN (
			SELECT id FROM reconcile_run r WHERE r.finished_at < $1
			  AND r.id <> (SELECT max(n.id) FROM reconcile_run n WHERE n.full_scan = r.full_scan)
			ORDER BY r.started_at LIMIT $2 FOR UPDATE SKIP LOCKED)`
	deleteCatchupRequests = `
		DELETE FROM catchup_request WHERE guid IN (
			SELECT guid FROM catchup_request WHERE requested_at < $1
			ORDER BY requested_at LIMIT $2 FOR UPDATE SKIP LOCKED)`
)

// pruneTombstones removes the tombstones past their retention through
// process/ (the only writer of github_* tables).
func (e *engine) pruneTombstones(ctx context.Context, p retentionPolicy, more func() bool) (int64, error) {
	before, err := e.lateWritesBefore(ctx, p)
	if err != nil {
		return 0, err
	}
	return loopBatches(p.batch, more, func() (int64, error) {
		return process.PruneTombstones(ctx, e.deps.DB, before, p.batch)
	})
}

// lateWritesBefore is the time before which no late write can come any
// more: tombstones and removals older than it guard nothing. A failed
// delivery still waiting for replay may be older than the retention: its
// payload could bring back an object deleted (or a collaborator removed)
// after it was received, so the guards newer than the oldest such delivery
// stay until replay is done with it.
func (e *engine) lateWritesBefore(ctx context.Context, p retentionPolicy) (time.Time, error) {
	var oldest sql.NullTime
	if err := e.deps.DB.QueryRowContext(ctx, `
		SELECT min(received_at) FROM webhook_delivery
		WHERE status = 'failed' AND gave_up_at IS NULL AND payload IS NOT NULL`).Scan(&oldest); err != nil {
		return time.Time{}, fmt.Errorf("oldest delivery waiting for replay: %w", err)
	}
	before := p.tombstonesBefore
	if oldest.Valid && oldest.Time.Before(before) {
		before = oldest.Time
	}
	return before, nil
}

// pruneRemovals removes the collaborator removals past the tombstones'
// retention, for the same reason (a late member.added can only come from
// GitHub's log or a stored payload), through process/.
func (e *engine) pruneRemovals(ctx context.Context, p retentionPolicy, more func() bool) (int64, error) {
	before, err := e.lateWritesBefore(ctx, p)
	if err != nil {
		return 0, err
	}
	return loopBatches(p.batch, more, func() (int64, error) {
		return process.PruneUserRepositoryRemovals(ctx, e.deps.DB, before, p.batch)
	})
}

// pruneScanPages deletes the pages of scans finished before
// p.pagesBefore, a batch of pages at a time, walking the finished scans
// oldest first from where the previous batch stopped (so the scans kept
// without pages are passed once per run, not once per batch).
func (e *engine) pruneScanPages(ctx context.Context, p retentionPolicy, more func() bool) (int64, error) {
	from := time.Time{}
	return loopBatches(p.batch, more, func() (int64, error) {
		var n int64
		var last sql.NullTime
		// Hand-written: a delete through a join, limited, that says where
		// it stopped.
		err := e.deps.DB.QueryRowContext(ctx, `
			WITH victims AS (
				SELECT pg.scan_id, pg.page, s.finished_at
				FROM scan s JOIN scan_page pg ON pg.scan_id = s.id
				WHERE s.status IN ('done', 'failed') AND s.finished_at < $1 AND s.finished_at >= $3
				ORDER BY s.finished_at LIMIT $2
			), gone AS (
				DELETE FROM scan_page pg USING victims v
				WHERE pg.scan_id = v.scan_id AND pg.page = v.page
				RETURNING v.finished_at
			)
			SELECT count(*), max(finished_at) FROM gone`, p.pagesBefore, p.batch, from).Scan(&n, &last)
		if err != nil {
			return 0, err
		}
		if last.Valid {
			from = last.Time
		}
		return n, nil
	})
}

// pruneScans deletes the finished scans older than p.scansBefore that
// nothing needs, walking them oldest first by (finished_at, id) from where
// the previous batch stopped: the kept ones (up to two per scan_key) are
// passed once per run. A scan stays when it is
//   - the newest complete scan of its scan_key: incremental scans start
//     from its started_at (startScan's since);
//   - the newest done scan of its key with a page count: a spawn answered
//     304 without a Link header reads its page count (fanin.go), and a
//     wrong count would sweep rows the other pages listed;
//   - the child of a scan that is running or finished within the
//     retention: /status of that load adds up its whole tree;
//   - one of the scans of an unfinished reconcile_run, whose cost is
//     added up from them.
//
// Deleting a scan cascades to its pages (already pruned) and sets its
// children's parent_scan_id to NULL.
func (e *engine) pruneScans(ctx context.Context, p retentionPolicy, more func() bool) (int64, error) {
	var fromAt time.Time
	var fromID int64
	var total int64
	for more() {
		var candidates, n int64
		var lastAt sql.NullTime
		var lastID sql.NullInt64
		// Hand-written: "the newest of its key" is an aggregate over the
		// keys of the batch the models cannot state, and the delete is
		// limited. The aggregates are computed once per batch for the
		// batch's keys (a hash join), not once per scan: scan has no index
		// on scan_key outside running scans.
		err := e.deps.DB.QueryRowContext(ctx, `
			WITH candidates AS (
				SELECT id, finished_at, scan_key FROM scan
				WHERE status IN ('done', 'failed') AND finished_at < $1
				  AND finished_at >= $3 AND (finished_at, id) > ($3, $4)
				ORDER BY finished_at, id LIMIT $2
			), keys AS (
				SELECT DISTINCT scan_key FROM candidates
			), complete AS (
				SELECT scan_key, max(started_at) AS started_at FROM scan
				WHERE status = 'done' AND NOT incomplete AND scan_key IN (SELECT scan_key FROM keys)
				GROUP BY scan_key
			), counted AS (
				SELECT max(id) AS id FROM scan
				WHERE status = 'done' AND pages_total IS NOT NULL AND scan_key IN (SELECT scan_key FROM keys)
				GROUP BY scan_key
			), gone AS (
				DELETE FROM scan s USING candidates c
				WHERE s.id = c.id
				  AND NOT EXISTS (SELECT 1 FROM complete k WHERE k.scan_key = s.scan_key
				      AND s.status = 'done' AND NOT s.incomplete
				      AND (s.started_at IS NULL OR k.started_at IS NULL OR s.started_at >= k.started_at))
				  AND NOT EXISTS (SELECT 1 FROM counted k WHERE k.id = s.id)
				  AND NOT EXISTS (SELECT 1 FROM scan ps WHERE ps.id = s.parent_scan_id
				      AND (ps.finished_at IS NULL OR ps.finished_at >= $1))
				  AND NOT EXISTS (SELECT 1 FROM reconcile_run r WHERE r.finished_at IS NULL AND s.id = ANY (r.scan_ids))
				RETURNING s.id
			), last AS (
				SELECT finished_at, id FROM candidates ORDER BY finished_at DESC, id DESC LIMIT 1
			)
			SELECT (SELECT count(*) FROM candidates), (SELECT count(*) FROM gone),
			       (SELECT finished_at FROM last), (SELECT id FROM last)`,
			p.scansBefore, p.batch, fromAt, fromID).Scan(&candidates, &n, &lastAt, &lastID)
		total += n
		if err != nil {
			return total, err
		}
		if candidates < int64(p.batch) || !lastAt.Valid {
			break
		}
		fromAt, fromID = lastAt.Time, lastID.Int64
	}
	return total, nil
}
