package jobs

// The fan-in jobs of a collection scan: spawn_<c> (page 1, the page
// count, the fan-out), sync_page_of_<c> (one page) and <c>_scanned (runs
// once after every page: sweep, stamp, end, chain the children).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gocraft/work"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// spawnJob starts a collection scan: page 1, the page count, the fan-out.
func (e *engine) spawnJob(ctx context.Context, job *work.Job) error {
	// Marked running and read in one statement (a redelivery of a
	// spawned scan keeps its start).
	sc, err := startAndLoad(ctx, e.deps.DB, job.ArgInt64("scan_id"))
	if err != nil || sc == nil || sc.finished() {
		return err
	}
	c := collectionsByName[sc.Kind]
	if c == nil {
		return e.failScan(ctx, sc, fmt.Errorf("unknown collection %q", sc.Kind))
	}
	if sc.PagesTotal.Valid {
		// Spawned already (this is a redelivery): make sure the fan-out
		// happened.
		return e.refanout(ctx, sc)
	}
	s, err := e.begin(ctx, job, sc)
	if err != nil {
		return e.spawnFailed(ctx, job, sc, err)
	}
	defer s.release()
	if sc.Kind == CollectionRepositories {
		if err := e.ensureInstallation(ctx, sc); err != nil {
			return e.spawnFailed(ctx, job, sc, err)
		}
	}
	if err := e.resolveParent(ctx, s, sc, c); err != nil {
		return e.spawnFailed(ctx, job, sc, err)
	}
	pf, err := e.fetchPage(ctx, s, sc, c, 1)
	if err != nil {
		e.addCounters(ctx, sc.ID, counters{}.of(pf), "")
		return e.spawnFailed(ctx, job, sc, err)
	}
	total := 1
	if !sc.Since.Valid {
		total = max(pf.f.lastPage, 1)
		if pf.f.notModified && pf.f.lastPage == 0 {
			// A 304 may come without Link: the last complete scan's count.
			// (Hand-written: an aggregate over a subquery.)
			if err := e.deps.DB.QueryRowContext(ctx, `
				SELECT coalesce(max(pages_total), 1) FROM scan
				WHERE id = (SELECT max(id) FROM scan WHERE scan_key = $1 AND status = 'done' AND pages_total IS NOT NULL)`,
				sc.Key).Scan(&total); err != nil {
				return fmt.Errorf("page count of the last scan of %s: %w", sc.target(), err)
			}
		}
	}
	var out pageOutcome
	var spawned bool
	err = e.withTx(ctx, "spawn "+sc.target(), func(tx *sql.Tx) error {
		spawned = false
		// Hand-written: the count, set only once, and all the pages in
		// one statement.
		var n int
		if err := tx.QueryRowContext(ctx, `
			WITH s AS (UPDATE scan SET pages_total = $2 WHERE id = $1 AND pages_total IS NULL RETURNING id),
			     p AS (INSERT INTO scan_page (scan_id, page) SELECT s.id, g FROM s, generate_series(1, $2) g ON CONFLICT DO NOTHING)
			SELECT count(*) FROM s`, sc.ID, total).Scan(&n); err != nil {
			return fmt.Errorf("record %d pages of scan %d: %w", total, sc.ID, err)
		}
		if n == 0 {
			return nil // another run spawned it meanwhile
		}
		spawned = true
		pf.fresh = true
		out, err = e.writePage(ctx, tx, sc, c, 1, pf)
		return err
	})
	if err != nil {
		e.addCounters(ctx, sc.ID, counters{}.of(pf), err.Error())
		return e.spawnFailed(ctx, job, sc, err)
	}
	if !spawned {
		e.addCounters(ctx, sc.ID, counters{}.of(pf), "")
		return e.refanout(ctx, sc)
	}
	if err := e.touch(ctx, sc.ID); err != nil {
		return err
	}
	pages := make([]int, 0, total)
	for p := 2; p <= total; p++ {
		pages = append(pages, p)
	}
	pages = append(pages, out.newPages...)
	if err := e.enqueuePages(ctx, sc, pages); err != nil {
		return err
	}
	return e.afterLastPage(ctx, sc, out)
}

// afterLastPage runs the fan-in of the scan whose last page this worker
// just wrote, in a transaction of its own (the page's row locks are
// already given back), saving the job, its queue trip and its reads; when
// the fan-in must ask GitHub first (finishesInPage) or fails, it queues
// the fan-in job instead. A worker killed in between leaves a scan with
// every page finished, which the sweeper gives its fan-in job.
func (e *engine) afterLastPage(ctx context.Context, sc *scanRow, out pageOutcome) error {
	if !out.complete {
		return nil
	}
	var fin finished
	err := e.withTx(ctx, fmt.Sprintf("finish scan %d", sc.ID), func(tx *sql.Tx) error {
		var err error
		fin, err = e.finishInTx(ctx, tx, sc.ID, true, sc)
		return err
	})
	if err != nil {
		e.deps.Logger.Warn().Err(err).Int64("scan", sc.ID).Msg("fan-in after the last page failed; queueing its job")
	}
	if err != nil || !fin.ended {
		return e.enqueueScanned(ctx, sc)
	}
	e.enqueueChildren(ctx, fin)
	return nil
}

// spawnFailed decides what a failed spawn does: wait for a rate limit,
// retry, or end the scan as failed.
func (e *engine) spawnFailed(ctx context.Context, job *work.Job, sc *scanRow, err error) error {
	if errors.Is(err, errRescheduled) {
		return nil
	}
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		if err := e.onLimit(ctx, job, sc, rl); !errors.Is(err, errRescheduled) {
			return err
		}
		return nil
	}
	if permanent(err) || e.lastAttempt(job) {
		return e.failScan(ctx, sc, err)
	}
	e.addCounters(ctx, sc.ID, counters{}, err.Error())
	return err
}

// permanent says retrying will not help.
func permanent(err error) bool {
	var pe *permanentError
	return errors.As(err, &pe) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoInstallation) ||
		errors.Is(err, process.ErrInvalid)
}

// pageJob reads and writes one page.
func (e *engine) pageJob(ctx context.Context, job *work.Job) error {
	sc, err := loadScan(ctx, e.deps.DB, job.ArgInt64("scan_id"), false)
	if err != nil || sc == nil || sc.finished() {
		return err
	}
	page := int(job.ArgInt64("page"))
	if err := job.ArgError(); err != nil {
		return e.failScan(ctx, sc, fmt.Errorf("bad page job arguments: %w", err))
	}
	c := collectionsByName[sc.Kind]
	if c == nil {
		return e.failScan(ctx, sc, fmt.Errorf("unknown collection %q", sc.Kind))
	}
	sp, err := models.FindScanPage(ctx, e.deps.DB, sc.ID, page, models.ScanPageColumns.Status)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sp.Status != "pending") {
		return nil // done by an earlier run
	}
	if err != nil {
		return fmt.Errorf("read page %d of scan %d: %w", page, sc.ID, err)
	}
	s, err := e.begin(ctx, job, sc)
	if err != nil {
		return e.pageFailed(ctx, job, sc, page, nil, err)
	}
	defer s.release()
	if err := e.resolveParent(ctx, s, sc, c); err != nil {
		return e.pageFailed(ctx, job, sc, page, nil, err)
	}
	pf, err := e.fetchPage(ctx, s, sc, c, page)
	if err != nil {
		return e.pageFailed(ctx, job, sc, page, pf, err)
	}
	var out pageOutcome
	err = e.withTx(ctx, fmt.Sprintf("page %d of %s", page, sc.target()), func(tx *sql.Tx) error {
		out, err = e.writePage(ctx, tx, sc, c, page, pf)
		return err
	})
	if err != nil {
		return e.pageFailed(ctx, job, sc, page, pf, err)
	}
	if !out.done {
		e.addCounters(ctx, sc.ID, counters{}.of(pf), "")
		return nil
	}
	if err := e.touch(ctx, sc.ID); err != nil {
		return err
	}
	if err := e.enqueuePages(ctx, sc, out.newPages); err != nil {
		return err
	}
	return e.afterLastPage(ctx, sc, out)
}

// pageFailed decides what a failed page does: wait for a rate limit,
// retry, or fail the page for good (it still counts, so the scan ends).
func (e *engine) pageFailed(ctx context.Context, job *work.Job, sc *scanRow, page int, pf *pageFetch, err error) error {
	if errors.Is(err, errRescheduled) {
		return nil
	}
	cnt := counters{}.of(pf)
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		e.addCounters(ctx, sc.ID, cnt, "")
		if err := e.onLimit(ctx, job, sc, rl); !errors.Is(err, errRescheduled) {
			return err
		}
		return nil
	}
	if !permanent(err) && !e.lastAttempt(job) {
		e.addCounters(ctx, sc.ID, cnt, err.Error())
		// Best effort, hand-written (attempts incremented in place): the
		// retry reads the page again whatever this records.
		_, _ = e.deps.DB.ExecContext(ctx, `UPDATE scan_page SET attempts = attempts + 1, error = $3 WHERE scan_id = $1 AND page = $2`,
			sc.ID, page, err.Error())
		return err
	}
	e.deps.Logger.Warn().Err(err).Int64("scan", sc.ID).Int("page", page).Str("target", sc.target()).Msg("page failed for good")
	cause := err.Error()
	var out pageOutcome
	ferr := e.withTx(ctx, fmt.Sprintf("fail page %d of scan %d", page, sc.ID), func(tx *sql.Tx) error {
		// Hand-written: the counters are incremented in place (see
		// writePage) and only a pending page fails.
		res, err := tx.ExecContext(ctx, `
			UPDATE scan_page SET status = 'failed', attempts = attempts + 1, error = $3, finished_at = now()
			WHERE scan_id = $1 AND page = $2 AND status = 'pending'`, sc.ID, page, cause)
		if err != nil {
			return fmt.Errorf("mark page %d of scan %d failed: %w", page, sc.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		out.done = true
		err2 := tx.QueryRowContext(ctx, `
			UPDATE scan SET pages_failed = pages_failed + 1, incomplete = true, error = $2,
				requests = requests + $3, not_modified = not_modified + $4,
				params = jsonb_set(params, '{errors}', to_jsonb(coalesce((params->>'errors')::int, 0) + 1))
			WHERE id = $1
			RETURNING pages_done, pages_failed, coalesce(pages_total, 0)`,
			sc.ID, cause, cnt.requests, cnt.notModified).Scan(&out.pagesDone, &out.pagesFailed, &out.pagesTotal)
		if err2 != nil {
			return fmt.Errorf("count the failed page %d of scan %d: %w", page, sc.ID, err2)
		}
		out.complete = out.pagesDone+out.pagesFailed >= out.pagesTotal
		return nil
	})
	if ferr != nil {
		return ferr
	}
	if out.complete {
		return e.enqueueScanned(ctx, sc)
	}
	return nil
}

// scannedJob is the fan-in: once every page is finished it sweeps what
// GitHub no longer lists (complete, non-incremental scans only), stamps
// the parent, ends the scan and chains the children scans.
func (e *engine) scannedJob(ctx context.Context, job *work.Job) error {
	id := job.ArgInt64("scan_id")
	sc, err := loadScan(ctx, e.deps.DB, id, false)
	if err != nil || sc == nil || sc.finished() {
		return err
	}
	stable := true
	if c := collectionsByName[sc.Kind]; c != nil && needsRecheck(sc, c) {
		stable, err = e.recheck(ctx, job, sc, c)
		if errors.Is(err, errRescheduled) {
			return nil
		}
		if err != nil {
			if !e.lastAttempt(job) {
				return err
			}
			stable = false
		}
	}
	var fin finished
	err = e.withTx(ctx, fmt.Sprintf("finish scan %d", id), func(tx *sql.Tx) error {
		var err error
		fin, err = e.finishInTx(ctx, tx, id, stable, nil)
		sc = fin.sc
		return err
	})
	if err != nil {
		if e.lastAttempt(job) && sc != nil {
			return e.failScan(ctx, sc, err)
		}
		return err
	}
	e.enqueueChildren(ctx, fin)
	return nil
}

// finished is what finishInTx did: the scan as it read it (nil when gone)
// and the children scans it recorded, to queue after commit (0: joined).
type finished struct {
	sc       *scanRow
	children []ScanRequest
	childIDs []int64
	// ended says the scan ended here.
	ended bool
}

// finishInTx is the fan-in of scan id in tx, once every page is finished:
// sweep (when stable), stamp, record the children scans, end the scan. It
// does nothing to a scan already ended or with pages still pending.
//
// page is the scan as the page job that completed it read it, when that
// job runs the fan-in (afterLastPage); nil in the fan-in job.
func (e *engine) finishInTx(ctx context.Context, tx *sql.Tx, id int64, stable bool, page *scanRow) (finished, error) {
	var fin finished
	sc, err := loadScan(ctx, tx, id, true)
	fin.sc = sc
	if err != nil || sc == nil || sc.finished() {
		return fin, err
	}
	inPage := page != nil
	if inPage && page.PullID.Valid {
		sc.PullID = page.PullID // resolved by the page, for the same number
	}
	if !sc.PagesTotal.Valid || sc.PagesDone+sc.PagesFailed < int(sc.PagesTotal.Int32) {
		return fin, nil // not yet: the last page queues the fan-in
	}
	c := collectionsByName[sc.Kind]
	if c == nil {
		return fin, fmt.Errorf("scan %d: unknown collection %q", sc.ID, sc.Kind)
	}
	if inPage && !finishesInPage(sc, c) {
		return fin, nil // the caller queues the fan-in
	}
	if err := e.resolveStored(ctx, tx, sc, c); err != nil {
		return fin, err
	}
	if sc.PagesFailed == 0 {
		if sweepable(sc, c) && stable {
			seen, err := scanSeen(ctx, tx, sc.ID, false)
			if err != nil {
				return fin, err
			}
			n, err := c.sweep(ctx, tx, sc, seen)
			if err != nil {
				return fin, err
			}
			if n > 0 {
				e.deps.Logger.Info().Int64("scan", sc.ID).Str("target", sc.target()).Int64("removed", n).
					Str("collection", sc.Kind).Msg("removed rows GitHub no longer lists")
			}
		}
		if c.finish != nil && sc.StartedAt.Valid {
			if err := c.finish(ctx, tx, sc); err != nil {
				return fin, err
			}
		}
	}
	if sc.Params.Children && c.children != nil {
		fin.children, err = c.children(ctx, tx, sc)
		if err != nil {
			return fin, err
		}
		for _, ch := range fin.children {
			cid, joined, err := e.startScan(ctx, tx, ch, sc.ID)
			if err != nil {
				return fin, err
			}
			if joined {
				cid = 0
			}
			fin.childIDs = append(fin.childIDs, cid)
		}
	}
	if err := setScan(ctx, tx, sc.ID, models.M{models.ScanColumns.Status: "done", models.ScanColumns.FinishedAt: time.Now()}); err != nil {
		return fin, fmt.Errorf("end scan %d: %w", sc.ID, err)
	}
	sc.Status = "done"
	fin.ended = true
	return fin, nil
}

// enqueueChildren queues the first jobs of the children scans a fan-in
// recorded.
func (e *engine) enqueueChildren(ctx context.Context, fin finished) {
	for i, cid := range fin.childIDs {
		if cid == 0 {
			continue
		}
		if err := e.enqueueFirst(ctx, fin.children[i].Kind, cid); err != nil {
			// The child's row is queued; the sweeper queues its job.
			e.deps.Logger.Warn().Err(err).Int64("scan", cid).Msg("queue a child scan")
		}
	}
}

// finishesInPage says whether the worker that wrote the last page of sc
// also runs its fan-in (afterLastPage): most scans of a backfill are one
// page (a pull request's files, reviews, comments). Not when the fan-in
// must first ask GitHub whether the list held still (recheck), nor for
// pull requests, whose fan-in records a scan per pull request: a job of
// its own, with its own tries.
func finishesInPage(sc *scanRow, c *collection) bool {
	return !needsRecheck(sc, c) && c.name != CollectionPullRequests
}

// needsRecheck says whether the fan-in asks for page 1 again before it
// sweeps (see recheck).
func needsRecheck(sc *scanRow, c *collection) bool {
	return sweepable(sc, c) && c.incremental && sc.PagesTotal.Int32 > 1
}

// sweepable says whether a finished scan may remove what it did not see:
// a complete listing (not incremental, every state) of a swept collection.
func sweepable(sc *scanRow, c *collection) bool {
	all := sc.Params.State == "" || sc.Params.State == "all"
	return c.sweep != nil && !sc.Since.Valid && all && sc.StartedAt.Valid && sc.PagesFailed == 0
}

// recheck asks for page 1 again with the ETag this scan stored. Lists
// sorted by update, newest first, change page 1 on every update or
// creation, and such a change during the scan can shift an item past the
// pages read; then the scan must not sweep. A 304 (free) says the
// listing held still.
func (e *engine) recheck(ctx context.Context, job *work.Job, sc *scanRow, c *collection) (bool, error) {
	s, err := e.begin(ctx, job, sc)
	if err != nil {
		var rl *RateLimitedError
		if errors.As(err, &rl) {
			return false, e.onLimit(ctx, job, sc, rl)
		}
		return false, err
	}
	defer s.release()
	u := pageURL(c.path(sc), 1)
	prev, err := e.loadETag(ctx, etagKey(sc, u))
	if err != nil || prev.etag == "" {
		return false, err
	}
	var discard []json.RawMessage
	f, err := get(ctx, s.client, s.inst, u, prev.etag, &discard)
	e.addCounters(ctx, sc.ID, counters{}.of(&pageFetch{f: f}), "")
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return false, e.onLimit(ctx, job, sc, rl)
	}
	if err != nil {
		return false, err
	}
	if !f.notModified {
		e.deps.Logger.Info().Int64("scan", sc.ID).Str("target", sc.target()).Str("collection", sc.Kind).
			Msg("the list changed during the scan: not removing unseen rows this time")
	}
	return f.notModified, nil
}

func pageArgs(scanID int64, page int) work.Q { return work.Q{"scan_id": scanID, "page": page} }

func (e *engine) enqueuePages(ctx context.Context, sc *scanRow, pages []int) error {
	for _, p := range pages {
		if err := e.enqueue(ctx, PageJob(sc.Kind), pageArgs(sc.ID, p)); err != nil {
			return fmt.Errorf("queue page %d of scan %d: %w", p, sc.ID, err)
		}
	}
	return nil
}

func (e *engine) enqueueScanned(ctx context.Context, sc *scanRow) error {
	if err := e.enqueue(ctx, ScannedJob(sc.Kind), work.Q{"scan_id": sc.ID}); err != nil {
		return fmt.Errorf("queue %s of scan %d: %w", ScannedJob(sc.Kind), sc.ID, err)
	}
	return nil
}
