package jobs

// Reconciliation: an incremental scan of every live installation on a
// schedule (a full one now and then, which also removes what GitHub
// deleted), and at once after an outage longer than GitHub's delivery log,
// to catch what no delivery can bring back. Each run is a reconcile_run
// row holding its scans; its cost is added up once they all end.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gocraft/work"
	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"
	"github.com/volatiletech/sqlboiler/v4/types"

	"github.com/webhookdb/webhookdb/models"
)

// The reasons of a reconciliation run (reconcile_run.reason, the job's
// "reason" argument, the metric's label). Catch-up queues JobReconcile
// with work.Q{"reason": reconcileOutage}.
const (
	reconcileSchedule = "schedule"
	reconcileOutage   = "outage"
)

const (
	// reconcileRequester is the RequestedBy of the scans (and, through
	// them, of their children).
	reconcileRequester = "reconcile"
	// reconcileOutageGap is how long after an outage run another outage
	// run waits: several catch-up runs after one outage must not pile
	// them up.
	reconcileOutageGap = time.Hour
	// reconcileLockKey is the PostgreSQL advisory lock of the job (issue
	// 14, part 3): one process at a time decides and records a run.
	reconcileLockKey int64 = 14_0003
)

// reconcileStart is a run decided and recorded in the job's transaction.
type reconcileStart struct {
	id       int64
	full     bool
	reason   string
	scanIDs  []int64
	joined   int
	enqueues []func() error
}

// reconcileDone is a run whose scans have all ended, with their cost.
type reconcileDone struct {
	id                           int64
	full                         bool
	reason                       string
	installations, scans         int
	requests, notModified, items int
	startedAt, finishedAt        time.Time
}

func reconcileKind(full bool) string {
	if full {
		return "full"
	}
	return "incremental"
}

// reconcileJob finishes the runs whose scans have ended, then starts a run
// when one is due (or asked for after an outage). One transaction under an
// advisory lock decides and records the run with its scans (an outbox:
// the sweeper starts scans whose job was not queued); their jobs are
// queued after the commit.
func (e *engine) reconcileJob(ctx context.Context, job *work.Job) error {
	outage := job != nil && job.Args["reason"] == reconcileOutage
	var (
		locked   bool
		finished []reconcileDone
		started  *reconcileStart
	)
	err := e.withTx(ctx, "reconcile installations", func(tx *sql.Tx) error {
		finished, started = nil, nil
		if err := tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1)`, reconcileLockKey).Scan(&locked); err != nil {
			return fmt.Errorf("reconcile: take the lock: %w", err)
		}
		if !locked {
			return nil
		}
		var err error
		if finished, err = finishReconcileRuns(ctx, tx); err != nil {
			return err
		}
		full, reason, due, err := e.reconcileDue(ctx, tx, outage)
		if err != nil || !due {
			return err
		}
		started, err = e.startReconcile(ctx, tx, full, reason)
		return err
	})
	if err != nil {
		return err
	}
	if !locked {
		e.deps.Logger.Debug().Msg("reconciliation: another process holds the lock")
		return nil
	}
	for _, r := range finished {
		kind := reconcileKind(r.full)
		e.metrics.reconcileRequests.WithLabelValues(kind).Add(float64(r.requests))
		e.metrics.reconcileNotModified.WithLabelValues(kind).Add(float64(r.notModified))
		e.deps.Logger.Info().Int64("run", r.id).Str("kind", kind).Str("reason", r.reason).
			Int("installations", r.installations).Int("scans", r.scans).Int("requests", r.requests).
			Int("not_modified", r.notModified).Int("items", r.items).
			Dur("duration", r.finishedAt.Sub(r.startedAt)).Msg("reconciliation finished")
	}
	if started == nil {
		return nil
	}
	kind := reconcileKind(started.full)
	e.metrics.reconcileRuns.WithLabelValues(kind, started.reason).Inc()
	e.deps.Logger.Info().Int64("run", started.id).Str("kind", kind).Str("reason", started.reason).
		Int("installations", len(started.scanIDs)).Int("joined", started.joined).Msg("reconciliation started")
	var errs []error
	for _, enqueue := range started.enqueues {
		if err := enqueue(); err != nil {
			// The scan is recorded; the sweeper queues its job later.
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		e.deps.Logger.Warn().Err(err).Int64("run", started.id).Msg("reconciliation: queue scans; the sweeper starts them later")
	}
	return nil
}

// reconcileDue decides whether a run starts now, whether it is full, and
// why. It reads the time of the database, the clock of started_at, so
// processes with skewed clocks agree.
func (e *engine) reconcileDue(ctx context.Context, tx *sql.Tx, outage bool) (full bool, reason string, due bool, err error) {
	var now time.Time
	if err := tx.QueryRowContext(ctx, `SELECT now()`).Scan(&now); err != nil {
		return false, "", false, fmt.Errorf("reconcile: read the time: %w", err)
	}
	last := func(mods ...qm.QueryMod) (*time.Time, error) {
		mods = append(mods, qm.Select(models.ReconcileRunColumns.StartedAt),
			qm.OrderBy(models.ReconcileRunColumns.StartedAt+" DESC"), qm.Limit(1))
		r, err := models.ReconcileRuns(mods...).One(ctx, tx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reconcile: read the last run: %w", err)
		}
		return &r.StartedAt, nil
	}
	ago := func(t *time.Time, d time.Duration) bool { return t == nil || now.Sub(*t) >= d }
	if outage {
		lastOutage, err := last(models.ReconcileRunWhere.Reason.EQ(reconcileOutage))
		if err != nil {
			return false, "", false, err
		}
		if ago(lastOutage, reconcileOutageGap) {
			return false, reconcileOutage, true, nil
		}
		e.deps.Logger.Debug().Time("last_outage_run", *lastOutage).
			Msg("reconciliation: an outage run started within the hour; the schedule decides")
	}
	if e.deps.ReconcileInterval <= 0 {
		return false, "", false, nil
	}
	lastRun, err := last()
	if err != nil || !ago(lastRun, e.deps.ReconcileInterval) {
		return false, "", false, err
	}
	if e.deps.FullReconcileInterval > 0 {
		// Without a full run yet, the first run of all is the baseline:
		// the first run itself is incremental (an upgrade or a new
		// deployment does not start with a full scan of everything; the
		// installation's own backfill already read it), and the first
		// full one comes a full interval later.
		lastFull, err := last(models.ReconcileRunWhere.FullScan.EQ(true))
		if err != nil {
			return false, "", false, err
		}
		if lastFull == nil {
			first, err := models.ReconcileRuns(qm.Select(models.ReconcileRunColumns.StartedAt),
				qm.OrderBy(models.ReconcileRunColumns.StartedAt), qm.Limit(1)).One(ctx, tx)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return false, "", false, fmt.Errorf("reconcile: read the first run: %w", err)
			default:
				lastFull = &first.StartedAt
			}
		}
		full = lastFull != nil && ago(lastFull, e.deps.FullReconcileInterval)
	}
	return full, reconcileSchedule, true, nil
}

// startReconcile records a repositories scan with children of every live
// installation (joining one already queued or running) and the run that
// holds them.
func (e *engine) startReconcile(ctx context.Context, tx *sql.Tx, full bool, reason string) (*reconcileStart, error) {
	insts, err := models.GithubInstallations(
		qm.Select(models.GithubInstallationColumns.ID),
		models.GithubInstallationWhere.DeletedAt.IsNull(),
		models.GithubInstallationWhere.SuspendedAt.IsNull(),
		qm.OrderBy(models.GithubInstallationColumns.ID),
	).All(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: list the live installations: %w", err)
	}
	sched := &Scheduler{e: e}
	st := &reconcileStart{full: full, reason: reason}
	for _, in := range insts {
		id, joined, enqueue, err := sched.ScanInTx(ctx, tx, ScanRequest{Kind: CollectionRepositories,
			InstallationID: in.ID, Children: true, Full: full, RequestedBy: reconcileRequester})
		if err != nil {
			return nil, fmt.Errorf("reconcile installation %d: %w", in.ID, err)
		}
		st.scanIDs = append(st.scanIDs, id)
		st.enqueues = append(st.enqueues, enqueue)
		if joined {
			st.joined++
		}
	}
	run := &models.ReconcileRun{FullScan: full, Reason: reason, ScanIds: types.Int64Array(st.scanIDs)}
	if st.scanIDs == nil {
		run.ScanIds = types.Int64Array{}
	}
	if err := run.Insert(ctx, tx, boil.Whitelist(models.ReconcileRunColumns.FullScan,
		models.ReconcileRunColumns.Reason, models.ReconcileRunColumns.ScanIds)); err != nil {
		return nil, fmt.Errorf("reconcile: record the run: %w", err)
	}
	st.id = run.ID
	return st, nil
}

// finishReconcileRuns ends the unfinished runs whose scans, and every scan
// descending from them, are done or failed, storing what they cost.
// Hand-written: a recursive walk down scan.parent_scan_id and its sums,
// which the models cannot state. A run finishes when its last scan did (or
// at its start, with no scans).
func finishReconcileRuns(ctx context.Context, tx *sql.Tx) ([]reconcileDone, error) {
	rows, err := tx.QueryContext(ctx, `
		WITH RECURSIVE open_run AS (
			SELECT id, scan_ids FROM reconcile_run WHERE finished_at IS NULL
		), tree AS (
			SELECT r.id AS run_id, s.id, s.status, s.requests, s.not_modified, s.items, s.finished_at
			FROM open_run r JOIN scan s ON s.id = ANY (r.scan_ids)
			UNION ALL
			SELECT t.run_id, s.id, s.status, s.requests, s.not_modified, s.items, s.finished_at
			FROM tree t JOIN scan s ON s.parent_scan_id = t.id
		), cost AS (
			SELECT run_id, count(*) AS scans, sum(requests) AS requests, sum(not_modified) AS not_modified,
				sum(items) AS items, bool_and(status IN ('done', 'failed')) AS ended, max(finished_at) AS last
			FROM tree GROUP BY run_id
		)
		UPDATE reconcile_run r SET
			finished_at = greatest(r.started_at, coalesce(c.last, r.started_at)),
			requests = coalesce(c.requests, 0), not_modified = coalesce(c.not_modified, 0),
			items = coalesce(c.items, 0)
		FROM open_run o LEFT JOIN cost c ON c.run_id = o.id
		WHERE r.id = o.id AND coalesce(c.ended, true)
		RETURNING r.id, r.full_scan, r.reason, cardinality(r.scan_ids), coalesce(c.scans, 0),
			r.requests, r.not_modified, r.items, r.started_at, r.finished_at`)
	if err != nil {
		return nil, fmt.Errorf("reconcile: finish the runs whose scans ended: %w", err)
	}
	defer rows.Close()
	var out []reconcileDone
	for rows.Next() {
		var d reconcileDone
		if err := rows.Scan(&d.id, &d.full, &d.reason, &d.installations, &d.scans, &d.requests,
			&d.notModified, &d.items, &d.startedAt, &d.finishedAt); err != nil {
			return nil, fmt.Errorf("reconcile: read a finished run: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: read the finished runs: %w", err)
	}
	return out, nil
}
