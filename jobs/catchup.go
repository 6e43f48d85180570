package jobs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gocraft/work"
	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// Catch-up from GitHub's delivery log. GitHub does not retry a failed
// delivery and keeps its log for 3 days, so a delivery webhookdb missed
// (down, or answering 5xx with nothing stored) is only found by reading
// that log and asking GitHub to send it again.
const (
	// catchUpWindow is how far back GitHub's log goes.
	catchUpWindow = 3 * 24 * time.Hour
	// catchUpOverlap re-reads a little before the newest delivery seen:
	// GitHub records a delivery once its attempt ends, so one that began
	// earlier can appear after a newer one was listed.
	catchUpOverlap = time.Minute
	// catchUpPerPage is GitHub's largest page; catchUpMaxPages bounds one
	// run (30,000 deliveries) so a huge backlog cannot hold the job.
	catchUpPerPage  = 100
	catchUpMaxPages = 300
	// catchUpPatience is how long a redelivery asked for may take to be
	// stored before it is asked again; catchUpMaxAsks bounds the asks of
	// one GUID in all.
	catchUpPatience = 15 * time.Minute
	catchUpMaxAsks  = 3
	// catchUpSweepLimit bounds the requests past their patience that one
	// run asks again without seeing them listed.
	catchUpSweepLimit = 500
	// catchUpGone starts the error of a request whose log entry GitHub no
	// longer has (404): it cannot be redelivered, so it is not asked again.
	catchUpGone = "gone: "
	// catchUpLockKey is the advisory lock that keeps catch-up to one run
	// at a time across every process sharing the database.
	catchUpLockKey int64 = 0x7768_6462_6375_7031 // "whdbcup1"
)

// catchUpJob reads GitHub's delivery log and asks for what never reached
// webhookdb.
func (e *engine) catchUpJob(ctx context.Context, _ *work.Job) error {
	return e.catchUp(ctx, time.Now())
}

// catchUpRun is what one run did, for its log line and metrics.
type catchUpRun struct {
	listed, asked, recovered, pages int
	complete, outage                bool
	cursor                          *models.CatchupCursor // as stored at the end
}

// catchUp runs catch-up once at now, unless another process is running it.
func (e *engine) catchUp(ctx context.Context, now time.Time) error {
	conn, locked, err := e.catchUpLock(ctx)
	if err != nil {
		e.metrics.catchupRuns.WithLabelValues("error").Inc()
		return err
	}
	if !locked {
		e.metrics.catchupRuns.WithLabelValues("skipped").Inc()
		e.deps.Logger.Info().Msg("catch-up: another process is running it; skipped")
		return nil
	}
	defer e.catchUpUnlock(ctx, conn)

	run, err := e.catchUpLocked(ctx, now)
	e.metrics.catchupListed.Add(float64(run.listed))
	e.metrics.catchupAsked.Add(float64(run.asked))
	e.metrics.catchupRecovered.Add(float64(run.recovered))
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	e.metrics.catchupRuns.WithLabelValues(outcome).Inc()
	ev := e.deps.Logger.Info().Int("listed", run.listed).Int("asked", run.asked).Int("recovered", run.recovered).
		Int("pages", run.pages).Bool("complete", run.complete).Bool("outage", run.outage)
	if c := run.cursor; c != nil {
		ev = ev.Int64("cursor_delivery_id", c.DeliveryID).Time("cursor_delivered_at", c.DeliveredAt)
	}
	if err != nil {
		ev = ev.AnErr("error", err)
	}
	ev.Msg("catch-up from GitHub's delivery log")
	return err
}

// catchUpLock takes the advisory lock on a connection of its own, held
// for the run: a session lock, so no transaction stays open meanwhile.
func (e *engine) catchUpLock(ctx context.Context) (*sql.Conn, bool, error) {
	conn, err := e.deps.DB.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("catch-up: connection for the lock: %w", err)
	}
	var locked bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, catchUpLockKey).Scan(&locked); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("catch-up: take the lock: %w", err)
	}
	if !locked {
		conn.Close()
		return nil, false, nil
	}
	return conn, true, nil
}

// catchUpUnlock releases the lock. A connection whose unlock failed is
// discarded rather than returned to the pool still holding it: closing
// the session is what frees the lock then.
func (e *engine) catchUpUnlock(ctx context.Context, conn *sql.Conn) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var released bool
	err := conn.QueryRowContext(uctx, `SELECT pg_advisory_unlock($1)`, catchUpLockKey).Scan(&released)
	if err != nil || !released {
		e.deps.Logger.Warn().Err(err).Msg("catch-up: release the lock; closing its connection instead")
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	conn.Close()
}

// catchUpLocked is one run, the lock held. The cursor only moves once the
// whole range back to it was read; a page GitHub answers with an error
// ends the run with the cursor where it was, so the next run reads that
// part again (what was asked for meanwhile is recorded, not asked twice).
func (e *engine) catchUpLocked(ctx context.Context, now time.Time) (catchUpRun, error) {
	var run catchUpRun
	prev, err := models.FindCatchupCursor(ctx, e.deps.DB, 1)
	if errors.Is(err, sql.ErrNoRows) {
		prev, err = nil, nil
	}
	if err != nil {
		return run, fmt.Errorf("catch-up: read the cursor: %w", err)
	}
	run.cursor = prev
	floor := now.Add(-catchUpWindow)
	cutoff := floor
	if prev != nil {
		if c := prev.DeliveredAt.Add(-catchUpOverlap); c.After(cutoff) {
			cutoff = c
		}
		// The last complete run saw the log up to its ran_at: if that is
		// further back than the log keeps, deliveries may have been
		// dropped unseen. The very first run (no cursor) has nothing to
		// compare with and lists the 3 days.
		run.outage = prev.RanAt.Before(floor)
	}
	app, err := e.deps.GitHub.NewAppClient()
	if err != nil {
		return run, fmt.Errorf("catch-up: app client: %w", err)
	}

	// The attempts are grouped by GUID over the whole range before
	// deciding, so a GUID's first attempt and its redeliveries are judged
	// together wherever they fall in the pages.
	var newest *github.HookDelivery
	groups := map[string][]*github.HookDelivery{}
	var order []string
	var listErr error
	opts := &github.ListCursorOptions{PerPage: catchUpPerPage}
	for run.pages < catchUpMaxPages {
		page, res, err := app.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			listErr = fmt.Errorf("catch-up: list deliveries, page %d: %w", run.pages+1, err)
			break
		}
		run.pages++
		run.listed += len(page)
		reached := false
		for _, hd := range page {
			if newest == nil || hd.GetID() > newest.GetID() {
				newest = hd
			}
			if hd.GetDeliveredAt().Time.Before(cutoff) {
				reached = true
				continue
			}
			g := hd.GetGUID()
			if g == "" {
				continue
			}
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], hd)
		}
		if reached || res.Cursor == "" {
			run.complete = true
			break
		}
		opts.Cursor = res.Cursor
	}
	// What was read is acted on even when a later page failed: the asks
	// are recorded, so the next run, reading it again, does not repeat
	// them.
	// Oldest first: GitHub sends the redeliveries in about the order they
	// are asked for, so they arrive in the order the events happened.
	slices.Reverse(order)
	pace := newAskPacer(e.deps.CatchupAskRate)
	defer pace.stop()
	touched := touchedRepos{}
	decided := make(map[string]bool, len(order))
	for start := 0; start < len(order); start += catchUpPerPage {
		batch := order[start:min(start+catchUpPerPage, len(order))]
		asked, err := e.catchUpDecide(ctx, app, now, batch, groups, pace, touched)
		run.asked += asked
		if err != nil {
			return run, err
		}
		for _, g := range batch {
			decided[g] = true
		}
	}
	// The repositories of what was asked for are scanned as well (see
	// catchup_scan.go), also when the run ends in an error below.
	defer e.scanTouched(ctx, touched)
	if listErr != nil {
		return run, listErr
	}

	asked, err := e.catchUpSweep(ctx, app, now, decided, pace, touched)
	run.asked += asked
	if err != nil {
		return run, err
	}
	if !run.complete {
		// Not read back to the cursor: moving it would skip the rest.
		e.deps.Logger.Warn().Int("pages", run.pages).Time("back_to", cutoff).
			Msg("catch-up: page cap reached before the cursor; the cursor stays")
		return run, nil
	}
	return e.catchUpFinish(ctx, now, run, prev, newest)
}

// catchUpFinish ends a complete run: counts what was recovered since the
// previous one, queues a reconciliation after an outage, and moves the
// cursor to the newest delivery seen.
func (e *engine) catchUpFinish(ctx context.Context, now time.Time, run catchUpRun, prev *models.CatchupCursor, newest *github.HookDelivery) (catchUpRun, error) {
	// Recoveries are counted by the complete run after them, in the
	// window since the previous complete run, so each counts once.
	mods := []qm.QueryMod{models.CatchupRequestWhere.RecoveredAt.LTE(null.TimeFrom(now))}
	if prev != nil {
		mods = append(mods, models.CatchupRequestWhere.RecoveredAt.GT(null.TimeFrom(prev.RanAt)))
	} else {
		mods = append(mods, models.CatchupRequestWhere.RecoveredAt.IsNotNull())
	}
	n, err := models.CatchupRequests(mods...).Count(ctx, e.deps.DB)
	if err != nil {
		return run, fmt.Errorf("catch-up: count recovered deliveries: %w", err)
	}
	run.recovered = int(n)

	if run.outage {
		// Queued before the cursor moves: if queueing fails, the next run
		// sees the outage again.
		if _, err := e.enq.EnqueueUnique(JobReconcile, work.Q{"reason": "outage"}); err != nil {
			return run, fmt.Errorf("catch-up: queue reconciliation after an outage: %w", err)
		}
		e.deps.Logger.Warn().Time("last_complete_run", prev.RanAt).
			Msg("catch-up: no complete run for longer than GitHub keeps deliveries; reconciliation queued")
	}

	cur := &models.CatchupCursor{ID: 1, DeliveredAt: now, RanAt: now}
	switch {
	case newest != nil && (prev == nil || newest.GetID() >= prev.DeliveryID):
		cur.DeliveredAt, cur.DeliveryID = newest.GetDeliveredAt().Time, newest.GetID()
	case prev != nil:
		// Nothing newer listed (a quiet log): the place stays, the run is
		// recorded.
		cur.DeliveredAt, cur.DeliveryID = prev.DeliveredAt, prev.DeliveryID
	}
	cols := boil.Whitelist(models.CatchupCursorColumns.DeliveredAt, models.CatchupCursorColumns.DeliveryID, models.CatchupCursorColumns.RanAt)
	if err := cur.Upsert(ctx, e.deps.DB, true, []string{models.CatchupCursorColumns.ID}, cols, boil.Infer()); err != nil {
		return run, fmt.Errorf("catch-up: move the cursor: %w", err)
	}
	run.cursor = cur
	return run, nil
}

// stored is what webhook_delivery holds of a GUID.
type stored struct {
	status     string
	hasPayload bool
}

// catchUpStored reads the status of the GUIDs webhook_delivery holds.
// Hand-written: the models would read every payload to learn whether it is
// there.
func (e *engine) catchUpStored(ctx context.Context, guids []string) (map[string]stored, error) {
	out := make(map[string]stored, len(guids))
	if len(guids) == 0 {
		return out, nil
	}
	rows, err := e.deps.DB.QueryContext(ctx,
		`SELECT delivery_id, status, payload IS NOT NULL FROM webhook_delivery WHERE delivery_id = ANY($1)`, guids)
	if err != nil {
		return nil, fmt.Errorf("catch-up: read stored deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var s stored
		if err := rows.Scan(&g, &s.status, &s.hasPayload); err != nil {
			return nil, fmt.Errorf("catch-up: read stored deliveries: %w", err)
		}
		out[g] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catch-up: read stored deliveries: %w", err)
	}
	return out, nil
}

// catchUpRequests reads the requests already made for the GUIDs.
func (e *engine) catchUpRequests(ctx context.Context, guids []string) (map[string]*models.CatchupRequest, error) {
	out := make(map[string]*models.CatchupRequest, len(guids))
	if len(guids) == 0 {
		return out, nil
	}
	reqs, err := models.CatchupRequests(models.CatchupRequestWhere.GUID.IN(guids)).All(ctx, e.deps.DB)
	if err != nil {
		return nil, fmt.Errorf("catch-up: read requests: %w", err)
	}
	for _, r := range reqs {
		out[r.GUID] = r
	}
	return out, nil
}

// missing is true when webhookdb needs GitHub to send a GUID again:
// webhook_delivery lacks it, or holds it failed without the payload that
// local replay would use. Anything else stored (processed, stale, ignored,
// or failed with its payload) is never asked for.
func missing(s stored, held bool) bool {
	return !held || (s.status == "failed" && !s.hasPayload)
}

// catchUpDecide asks for the GUIDs that need it, each with the attempts
// GitHub listed for it, newest first.
func (e *engine) catchUpDecide(ctx context.Context, app *github.Client, now time.Time, guids []string, groups map[string][]*github.HookDelivery, pace *askPacer, touched touchedRepos) (int, error) {
	have, err := e.catchUpStored(ctx, guids)
	if err != nil {
		return 0, err
	}
	reqs, err := e.catchUpRequests(ctx, guids)
	if err != nil {
		return 0, err
	}
	asked := 0
	for _, g := range guids {
		attempts := groups[g]
		s, held := have[g]
		anyOK := false
		for _, a := range attempts {
			anyOK = anyOK || a.GetStatus() == "OK"
		}
		if !missing(s, held) || (held && anyOK) {
			continue
		}
		req := reqs[g]
		if req == nil {
			req = newCatchUpRequest(attempts)
		} else if !dueAgain(req, attempts, now) {
			continue
		}
		// The newest attempt is asked for: the log keeps it longest.
		req.GithubDeliveryID = max(req.GithubDeliveryID, attempts[0].GetID())
		if err := pace.wait(ctx); err != nil {
			return asked, fmt.Errorf("catch-up: wait to ask for %s: %w", g, err)
		}
		ok, err := e.catchUpAsk(ctx, app, now, req)
		if ok {
			touched.add(req)
		}
		if ok {
			asked++
		}
		if err != nil {
			return asked, err
		}
	}
	return asked, nil
}

// newCatchUpRequest describes a GUID from its attempts (newest first):
// delivered_at is the first attempt's, the time the data is as of.
func newCatchUpRequest(attempts []*github.HookDelivery) *models.CatchupRequest {
	first := attempts[len(attempts)-1]
	return &models.CatchupRequest{
		GUID:             first.GetGUID(),
		GithubDeliveryID: first.GetID(),
		Event:            first.GetEvent(),
		Action:           null.NewString(first.GetAction(), first.GetAction() != ""),
		InstallationID:   null.NewInt64(first.GetInstallationID(), first.GetInstallationID() != 0),
		RepoID:           null.NewInt64(first.GetRepositoryID(), first.GetRepositoryID() != 0),
		DeliveredAt:      first.GetDeliveredAt().Time,
	}
}

// dueAgain says whether a GUID asked for before is asked again: not once
// recovered, gone from the log or asked catchUpMaxAsks times; otherwise
// when the last ask failed, when GitHub lists a redelivery newer than the
// ask as failed, or when it has been on its way longer than
// catchUpPatience.
func dueAgain(req *models.CatchupRequest, attempts []*github.HookDelivery, now time.Time) bool {
	if req.RecoveredAt.Valid || req.Attempts >= catchUpMaxAsks || strings.HasPrefix(req.Error.String, catchUpGone) {
		return false
	}
	if req.Error.Valid || !now.Before(req.RequestedAt.Add(catchUpPatience)) {
		return true
	}
	// GitHub's times are whole seconds.
	asked := req.RequestedAt.Truncate(time.Second)
	for _, a := range attempts {
		if a.GetRedelivery() && a.GetID() > req.GithubDeliveryID && a.GetStatus() != "OK" && !a.GetDeliveredAt().Time.Before(asked) {
			return true
		}
	}
	return false
}

// catchUpAsk records the request, then asks GitHub to redeliver it. The
// record comes first so that the redelivery, however fast, finds it (the
// webhook marks it recovered and reads delivered_at), and so that a crash
// between the two waits catchUpPatience instead of asking twice. It reports
// whether GitHub accepted. A 404 (the log no longer has it) is recorded
// and not an error; another failure is recorded and ends the run.
func (e *engine) catchUpAsk(ctx context.Context, app *github.Client, now time.Time, req *models.CatchupRequest) (bool, error) {
	req.RequestedAt = now
	req.Error = null.String{}
	var err error
	if req.Attempts == 0 {
		req.Attempts = 1
		err = req.Insert(ctx, e.deps.DB, boil.Infer())
	} else {
		req.Attempts++
		_, err = req.Update(ctx, e.deps.DB, boil.Whitelist(models.CatchupRequestColumns.GithubDeliveryID,
			models.CatchupRequestColumns.RequestedAt, models.CatchupRequestColumns.Attempts, models.CatchupRequestColumns.Error))
	}
	if err != nil {
		return false, fmt.Errorf("catch-up: record the request for %s: %w", req.GUID, err)
	}
	_, res, err := app.Apps.RedeliverHookDelivery(ctx, req.GithubDeliveryID)
	var accepted *github.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		return true, nil
	}
	msg := err.Error()
	gone := res != nil && res.StatusCode == http.StatusNotFound
	if gone {
		msg = catchUpGone + msg
	}
	req.Error = null.StringFrom(msg)
	if _, uerr := req.Update(ctx, e.deps.DB, boil.Whitelist(models.CatchupRequestColumns.Error)); uerr != nil {
		return false, fmt.Errorf("catch-up: record the failed redelivery of %s (%v): %w", req.GUID, err, uerr)
	}
	if gone {
		e.deps.Logger.Warn().Str("guid", req.GUID).Int64("github_delivery_id", req.GithubDeliveryID).
			Msg("catch-up: GitHub's log no longer has the delivery; it cannot be redelivered")
		return false, nil
	}
	return false, fmt.Errorf("catch-up: ask GitHub to redeliver %s (delivery %d): %w", req.GUID, req.GithubDeliveryID, err)
}

// catchUpSweep asks again for the requests that waited past their patience
// (or whose last ask failed) but were not listed in this run: their
// attempts are older than the range read, and a redelivery that never
// showed up in the log would otherwise never be asked again.
func (e *engine) catchUpSweep(ctx context.Context, app *github.Client, now time.Time, decided map[string]bool, pace *askPacer, touched touchedRepos) (int, error) {
	reqs, err := models.CatchupRequests(
		models.CatchupRequestWhere.RecoveredAt.IsNull(),
		models.CatchupRequestWhere.Attempts.LT(catchUpMaxAsks),
		models.CatchupRequestWhere.DeliveredAt.GT(now.Add(-catchUpWindow)),
		qm.Where("(error IS NULL OR error NOT LIKE ?)", catchUpGone+"%"),
		qm.Where("(requested_at <= ? OR error IS NOT NULL)", now.Add(-catchUpPatience)),
		qm.OrderBy(models.CatchupRequestColumns.RequestedAt),
		qm.Limit(catchUpSweepLimit),
	).All(ctx, e.deps.DB)
	if err != nil {
		return 0, fmt.Errorf("catch-up: read requests still on their way: %w", err)
	}
	var guids []string
	for _, r := range reqs {
		if !decided[r.GUID] {
			guids = append(guids, r.GUID)
		}
	}
	have, err := e.catchUpStored(ctx, guids)
	if err != nil {
		return 0, err
	}
	asked := 0
	for _, r := range reqs {
		s, held := have[r.GUID]
		if decided[r.GUID] || !missing(s, held) {
			continue
		}
		if err := pace.wait(ctx); err != nil {
			return asked, fmt.Errorf("catch-up: wait to ask for %s: %w", r.GUID, err)
		}
		ok, err := e.catchUpAsk(ctx, app, now, r)
		if ok {
			touched.add(r)
		}
		if ok {
			asked++
		}
		if err != nil {
			return asked, err
		}
	}
	return asked, nil
}
