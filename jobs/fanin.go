package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocraft/work"
	"github.com/gomodule/redigo/redis"
	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// scanRow is a scan as the jobs read it.
type scanRow struct {
	ID             int64
	Kind           string
	Key            string
	InstallationID sql.NullInt64
	Owner, Repo    string
	RepoID         sql.NullInt64
	Number         int
	Params         scanParams
	Full           bool
	Since          sql.NullTime
	Status         string
	PagesTotal     sql.NullInt32
	PagesDone      int
	PagesFailed    int
	StartedAt      sql.NullTime
	RequestedBy    string
	// PullID is resolved from (RepoID, Number) for a pull request's children.
	PullID sql.NullInt64
}

func (sc *scanRow) finished() bool { return sc.Status != "queued" && sc.Status != "running" }

func (sc *scanRow) target() string {
	switch {
	case sc.Kind == CollectionRepositories:
		return fmt.Sprintf("installation %d", sc.InstallationID.Int64)
	case sc.Kind == JobSyncUser:
		return sc.Params.Name
	case sc.Number != 0:
		return fmt.Sprintf("%s/%s#%d", sc.Owner, sc.Repo, sc.Number)
	}
	return sc.Owner + "/" + sc.Repo
}

type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// loadScan reads scan id; nil when it no longer exists.
func loadScan(ctx context.Context, q rowQueryer, id int64, forUpdate bool) (*scanRow, error) {
	sc := &scanRow{}
	var owner, repo, by sql.NullString
	var number sql.NullInt32
	var params []byte
	query := `
		SELECT id, kind, scan_key, installation_id, owner, repo, repo_id, number, params, full_scan,
		       since, status, pages_total, pages_done, pages_failed, started_at, requested_by
		FROM scan WHERE id = $1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	err := q.QueryRowContext(ctx, query, id).Scan(&sc.ID, &sc.Kind, &sc.Key, &sc.InstallationID, &owner, &repo,
		&sc.RepoID, &number, &params, &sc.Full, &sc.Since, &sc.Status, &sc.PagesTotal, &sc.PagesDone,
		&sc.PagesFailed, &sc.StartedAt, &by)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read scan %d: %w", id, err)
	}
	sc.Owner, sc.Repo, sc.Number, sc.RequestedBy = owner.String, repo.String, int(number.Int32), by.String
	if err := json.Unmarshal(params, &sc.Params); err != nil {
		return nil, fmt.Errorf("scan %d params: %w", id, err)
	}
	return sc, nil
}

// progressKey marks a scan as making progress; the sweeper re-queues the
// jobs of scans whose key expired.
func (e *engine) progressKey(scanID int64) string {
	return fmt.Sprintf("%s:webhookdb:progress:%d", e.deps.Namespace, scanID)
}

func (e *engine) touch(ctx context.Context, scanID int64) error {
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer conn.Close()
	if _, err := redis.DoContext(conn, ctx, "SET", e.progressKey(scanID), time.Now().Unix(), "PX", e.deps.StuckAfter.Milliseconds()); err != nil {
		return fmt.Errorf("mark progress of scan %d: %w", scanID, err)
	}
	return nil
}

// session is one job's right to call GitHub for an installation.
type session struct {
	inst    int64
	client  *github.Client
	release func()
}

// errRescheduled says the job queued itself again for later (rate limit,
// concurrency cap) and must stop without error.
var errRescheduled = errors.New("rescheduled")

// begin resolves the scan's installation, and checks its pause and
// concurrency cap; when the job must wait it queues itself again and
// returns errRescheduled.
func (e *engine) begin(ctx context.Context, job *work.Job, sc *scanRow) (*session, error) {
	if e.deps.GitHub == nil {
		return nil, &permanentError{err: errors.New("no GitHub client creator configured (jobs.Deps.GitHub)")}
	}
	if !sc.InstallationID.Valid {
		inst, err := e.installationFor(ctx, sc.Owner, sc.Repo)
		if err != nil {
			return nil, err
		}
		if _, err := e.deps.DB.ExecContext(ctx, `UPDATE scan SET installation_id = $2 WHERE id = $1`, sc.ID, inst); err != nil {
			return nil, fmt.Errorf("record the installation of scan %d: %w", sc.ID, err)
		}
		sc.InstallationID = sql.NullInt64{Int64: inst, Valid: true}
	}
	inst := sc.InstallationID.Int64
	if until, err := e.pausedUntil(ctx, inst); err != nil {
		return nil, err
	} else if !until.IsZero() {
		return nil, e.reschedule(ctx, job, sc, until)
	}
	release, ok, err := e.acquire(ctx, inst)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, e.reschedule(ctx, job, sc, time.Now().Add(e.deps.BusyDelay))
	}
	if job != nil {
		// A job that waits keeps its scan alive for the sweeper.
		if err := e.touch(ctx, sc.ID); err != nil {
			release()
			return nil, err
		}
	}
	client, err := e.deps.GitHub.NewInstallationClient(inst)
	if err != nil {
		release()
		return nil, fmt.Errorf("client of installation %d: %w", inst, err)
	}
	return &session{inst: inst, client: client, release: release}, nil
}

// reschedule queues job again at t (not before one second from now).
// Without a job (an inline sync) it reports the wait as an error.
func (e *engine) reschedule(ctx context.Context, job *work.Job, sc *scanRow, t time.Time) error {
	if job == nil {
		return &RateLimitedError{InstallationID: sc.InstallationID.Int64, Until: t}
	}
	secs := max(int64(time.Until(t).Seconds()+0.999), 1)
	if _, err := e.enq.EnqueueUniqueIn(job.Name, secs, job.Args); err != nil {
		return fmt.Errorf("queue %s again in %ds: %w", job.Name, secs, err)
	}
	if err := e.touch(ctx, sc.ID); err != nil {
		return err
	}
	return errRescheduled
}

// onLimit pauses the installation after a rate-limit answer and queues the
// job again at the reset.
func (e *engine) onLimit(ctx context.Context, job *work.Job, sc *scanRow, rl *RateLimitedError) error {
	if floor := time.Now().Add(e.deps.RateLimitFloor); rl.Until.Before(floor) && !rl.Until.After(time.Now()) {
		// Still limited after the reset GitHub announced: our clocks
		// disagree, so wait a while rather than retry at once.
		rl.Until = floor
	}
	if rl.Secondary {
		// Each secondary limit within ten minutes doubles the wait after
		// Retry-After, up to 15 minutes.
		n, err := e.strikes(ctx, rl.InstallationID)
		if err != nil {
			return err
		}
		wait := time.Until(rl.Until)
		for i := int64(1); i < n && wait < 15*time.Minute; i++ {
			wait *= 2
		}
		rl.Until = time.Now().Add(min(wait, 15*time.Minute))
	}
	e.deps.Logger.Info().Int64("installation", rl.InstallationID).Time("until", rl.Until).Bool("secondary", rl.Secondary).
		Int64("scan", sc.ID).Msg("rate limit spent: the installation's jobs wait")
	if err := e.pause(ctx, rl.InstallationID, rl.Until); err != nil {
		return err
	}
	if job == nil {
		return rl
	}
	return e.reschedule(ctx, job, sc, rl.Until)
}

// strikes counts the installation's secondary limits of the last ten
// minutes, this one included.
func (e *engine) strikes(ctx context.Context, inst int64) (int64, error) {
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("redis: %w", err)
	}
	defer conn.Close()
	key := fmt.Sprintf("%s:webhookdb:secondary:%d", e.deps.Namespace, inst)
	n, err := redis.Int64(redis.DoContext(conn, ctx, "INCR", key))
	if err != nil {
		return 0, fmt.Errorf("count secondary limits of installation %d: %w", inst, err)
	}
	if _, err := redis.DoContext(conn, ctx, "EXPIRE", key, 600); err != nil {
		return 0, fmt.Errorf("count secondary limits of installation %d: %w", inst, err)
	}
	return n, nil
}

// etagRow is what we stored of a page URL.
type etagRow struct {
	etag  string
	items int
}

func (e *engine) loadETag(ctx context.Context, u string) (etagRow, error) {
	var r etagRow
	err := e.deps.DB.QueryRowContext(ctx, `SELECT etag, items FROM api_etag WHERE url = $1`, u).Scan(&r.etag, &r.items)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("read the ETag of %s: %w", u, err)
	}
	return r, nil
}

// pageFetch is one fetched page, ready to write.
type pageFetch struct {
	url       string
	f         fetched
	io        pageIO
	fetchedAt time.Time
	prevItems int
}

func pageURL(base string, page int) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return fmt.Sprintf("%s%spage=%d", base, sep, page)
}

// etagKey is the api_etag row of page URL u. The URL alone names the
// page except for an installation's repositories, which every
// installation lists at the same URL with its own token.
func etagKey(sc *scanRow, u string) string {
	if sc.Kind == CollectionRepositories {
		return fmt.Sprintf("%s#installation=%d", u, sc.InstallationID.Int64)
	}
	return u
}

// fetchPage reads one page of the scan's collection, conditionally.
func (e *engine) fetchPage(ctx context.Context, s *session, sc *scanRow, c *collection, page int) (*pageFetch, error) {
	u := pageURL(c.path(sc), page)
	prev, err := e.loadETag(ctx, etagKey(sc, u))
	if err != nil {
		return nil, err
	}
	io := c.newPage()
	f, err := get(ctx, s.client, s.inst, u, prev.etag, io.dst)
	if err == nil && f.notModified {
		// GitHub still lists what the page held; if some of it is no
		// longer stored (deleted after a 404 while access was lost), the
		// 304 would keep it missing for good: fetch the page in full.
		lost, lerr := e.lostRows(ctx, sc, c, u)
		if lerr != nil {
			return &pageFetch{url: u, f: f}, lerr
		}
		if lost {
			e.addCounters(ctx, sc.ID, counters{}.of(&pageFetch{f: f}), "")
			f, err = get(ctx, s.client, s.inst, u, "", io.dst)
		}
	}
	if err != nil {
		return &pageFetch{url: u, f: f}, err
	}
	return &pageFetch{url: u, f: f, io: io, fetchedAt: time.Now(), prevItems: prev.items}, nil
}

// lostRows says whether a row that page URL u listed when its ETag was
// stored is missing from the database.
func (e *engine) lostRows(ctx context.Context, sc *scanRow, c *collection, u string) (bool, error) {
	if c.stored == "" {
		return false, nil
	}
	col := "seen_ids"
	if c.byKey {
		col = "seen_keys"
	}
	var lost bool
	err := e.deps.DB.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM api_etag a, unnest(a.`+col+`) AS s(v)
		               WHERE a.url = $1 AND NOT `+c.stored+`)`, etagKey(sc, u), c.parentID(sc)).Scan(&lost)
	if err != nil {
		return false, fmt.Errorf("check the stored rows of %s: %w", u, err)
	}
	return lost, nil
}

// counters are what one transaction adds to its scan.
type counters struct {
	requests, notModified, items int
}

func (c counters) of(pf *pageFetch) counters {
	if pf != nil && pf.f.requested {
		c.requests++
		if pf.f.notModified {
			c.notModified++
		}
	}
	return c
}

// writePage writes a fetched page in tx, marks it done and bumps the
// scan's counters. It returns the scan's state after the update, and
// done=false when the page had already been done by another run.
type pageOutcome struct {
	done                   bool
	pagesDone, pagesFailed int
	pagesTotal             int
	newPages               []int
	complete               bool
}

func (e *engine) writePage(ctx context.Context, tx *sql.Tx, sc *scanRow, c *collection, page int, pf *pageFetch) (pageOutcome, error) {
	var out pageOutcome
	var status string
	err := tx.QueryRowContext(ctx, `SELECT status FROM scan_page WHERE scan_id = $1 AND page = $2 FOR UPDATE`, sc.ID, page).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && status != "pending") {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("lock page %d of scan %d: %w", page, sc.ID, err)
	}
	var res pageResult
	cnt := counters{}.of(pf)
	if pf.f.notModified {
		// Unchanged since we stored it: its ids come from api_etag.
		_, err = tx.ExecContext(ctx, `
			UPDATE scan_page p SET status = 'done', attempts = attempts + 1, not_modified = true,
				items = coalesce(a.items, 0), seen_ids = a.seen_ids, seen_keys = a.seen_keys, finished_at = now(), error = NULL
			FROM (SELECT max(items) AS items, max(seen_ids) AS seen_ids, max(seen_keys) AS seen_keys
			      FROM api_etag WHERE url = $3) a
			WHERE p.scan_id = $1 AND p.page = $2`, sc.ID, page, etagKey(sc, pf.url))
		if err != nil {
			return out, fmt.Errorf("mark page %d of scan %d unchanged: %w", page, sc.ID, err)
		}
	} else {
		res, err = pf.io.write(ctx, tx, sc, process.Meta{Via: process.ViaAPI, FetchedAt: pf.fetchedAt})
		if err != nil {
			return out, err
		}
		cnt.items = res.items
		ids, keys := res.ids, res.keys
		if ids == nil {
			ids = []int64{}
		}
		if keys == nil {
			keys = []string{}
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE scan_page SET status = 'done', attempts = attempts + 1, not_modified = false, items = $3,
				seen_ids = $4, seen_keys = $5, finished_at = now(), error = NULL
			WHERE scan_id = $1 AND page = $2`, sc.ID, page, res.items, ids, keys)
		if err != nil {
			return out, fmt.Errorf("mark page %d of scan %d done: %w", page, sc.ID, err)
		}
		if pf.f.etag != "" {
			_, err = tx.ExecContext(ctx, `
				INSERT INTO api_etag (url, etag, seen_ids, seen_keys, items, updated_at)
				VALUES ($1, $2, $3, $4, $5, now())
				ON CONFLICT (url) DO UPDATE SET etag = EXCLUDED.etag, seen_ids = EXCLUDED.seen_ids,
					seen_keys = EXCLUDED.seen_keys, items = EXCLUDED.items, updated_at = now()`,
				etagKey(sc, pf.url), pf.f.etag, ids, keys, res.items)
			if err != nil {
				return out, fmt.Errorf("store the ETag of %s: %w", pf.url, err)
			}
		}
	}
	// Grow the scan when GitHub says there are more pages than planned:
	// an incremental scan reads one page at a time until it reaches what
	// the last complete scan saw; a full one follows a list that grew.
	want := 0
	switch {
	case pf.f.notModified || pf.f.nextPage == 0:
	case sc.Since.Valid:
		if !res.oldest.IsZero() && !res.oldest.Before(sc.Since.Time) {
			want = page + 1
		}
	default:
		want = max(pf.f.lastPage, page+1)
	}
	if want > 0 {
		rows, err := tx.QueryContext(ctx, `
			WITH s AS (UPDATE scan SET pages_total = GREATEST(pages_total, $2) WHERE id = $1 RETURNING id)
			INSERT INTO scan_page (scan_id, page) SELECT $1, g FROM generate_series(1, $2) g
			ON CONFLICT DO NOTHING RETURNING page`, sc.ID, want)
		if err != nil {
			return out, fmt.Errorf("grow scan %d to %d pages: %w", sc.ID, want, err)
		}
		for rows.Next() {
			var p int
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return out, fmt.Errorf("grow scan %d: %w", sc.ID, err)
			}
			out.newPages = append(out.newPages, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, fmt.Errorf("grow scan %d: %w", sc.ID, err)
		}
	}
	err = tx.QueryRowContext(ctx, `
		UPDATE scan SET pages_done = pages_done + 1, items = items + $2, requests = requests + $3,
			not_modified = not_modified + $4
		WHERE id = $1
		RETURNING pages_done, pages_failed, coalesce(pages_total, 0)`,
		sc.ID, cnt.items, cnt.requests, cnt.notModified).Scan(&out.pagesDone, &out.pagesFailed, &out.pagesTotal)
	if err != nil {
		return out, fmt.Errorf("count page %d of scan %d: %w", page, sc.ID, err)
	}
	out.done = true
	out.complete = out.pagesDone+out.pagesFailed >= out.pagesTotal
	return out, nil
}

// addCounters records requests (and errors) made outside a page's
// transaction, so a failed try still counts.
func (e *engine) addCounters(ctx context.Context, scanID int64, cnt counters, errText string) {
	_, err := e.deps.DB.ExecContext(ctx, `
		UPDATE scan SET requests = requests + $2, not_modified = not_modified + $3,
			error = coalesce(NULLIF($4, ''), error),
			params = CASE WHEN $4 = '' THEN params
			              ELSE jsonb_set(params, '{errors}', to_jsonb(coalesce((params->>'errors')::int, 0) + 1)) END
		WHERE id = $1`, scanID, cnt.requests, cnt.notModified, errText)
	if err != nil {
		e.deps.Logger.Warn().Err(err).Int64("scan", scanID).Msg("count requests of a failed try")
	}
}

func (e *engine) withTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := e.deps.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

func pageArgs(scanID int64, page int) work.Q { return work.Q{"scan_id": scanID, "page": page} }

func (e *engine) enqueuePages(sc *scanRow, pages []int) error {
	for _, p := range pages {
		if _, err := e.enq.EnqueueUnique(PageJob(sc.Kind), pageArgs(sc.ID, p)); err != nil {
			return fmt.Errorf("queue page %d of scan %d: %w", p, sc.ID, err)
		}
	}
	return nil
}

func (e *engine) enqueueScanned(sc *scanRow) error {
	if _, err := e.enq.EnqueueUnique(ScannedJob(sc.Kind), work.Q{"scan_id": sc.ID}); err != nil {
		return fmt.Errorf("queue %s of scan %d: %w", ScannedJob(sc.Kind), sc.ID, err)
	}
	return nil
}

// resolveParent finds the stored repository (and pull request) the scan's
// rows hang from; the repository or pull request is fetched first when we
// do not have it yet.
func (e *engine) resolveParent(ctx context.Context, s *session, sc *scanRow, c *collection) error {
	if c.parent == "" {
		return nil
	}
	if !sc.RepoID.Valid {
		var id int64
		err := e.deps.DB.QueryRowContext(ctx, `
			SELECT id FROM github_repository WHERE lower(full_name) = lower($1)
			ORDER BY updated_at DESC NULLS LAST LIMIT 1`, sc.Owner+"/"+sc.Repo).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			id, err = e.fetchRepository(ctx, s, sc)
		}
		if err != nil {
			return fmt.Errorf("repository of %s: %w", sc.target(), err)
		}
		if _, err := e.deps.DB.ExecContext(ctx, `UPDATE scan SET repo_id = $2 WHERE id = $1`, sc.ID, id); err != nil {
			return fmt.Errorf("record the repository of scan %d: %w", sc.ID, err)
		}
		sc.RepoID = sql.NullInt64{Int64: id, Valid: true}
	}
	if c.parent == "pull" {
		return e.resolvePull(ctx, s, sc)
	}
	return nil
}

func (e *engine) resolvePull(ctx context.Context, s *session, sc *scanRow) error {
	var id int64
	err := e.deps.DB.QueryRowContext(ctx, `
		SELECT id FROM github_pull_request WHERE base_repo_id = $1 AND number = $2
		ORDER BY updated_at DESC NULLS LAST LIMIT 1`, sc.RepoID.Int64, sc.Number).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		var pr github.PullRequest
		if _, err := get(ctx, s.client, s.inst, repoPath(sc, fmt.Sprintf("pulls/%d", sc.Number)), "", &pr); err != nil {
			e.addCounters(ctx, sc.ID, counters{requests: 1}, "")
			return err
		}
		e.addCounters(ctx, sc.ID, counters{requests: 1}, "")
		err = e.withTx(ctx, "write "+sc.target(), func(tx *sql.Tx) error {
			_, err := process.PullRequest(ctx, tx, &pr, process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()})
			return err
		})
		id = pr.GetID()
	}
	if err != nil {
		return fmt.Errorf("pull request %s: %w", sc.target(), err)
	}
	sc.PullID = sql.NullInt64{Int64: id, Valid: true}
	return nil
}

func (e *engine) fetchRepository(ctx context.Context, s *session, sc *scanRow) (int64, error) {
	var r github.Repository
	_, err := get(ctx, s.client, s.inst, repoPath(sc, ""), "", &r)
	e.addCounters(ctx, sc.ID, counters{requests: 1}, "")
	if err != nil {
		return 0, err
	}
	err = e.withTx(ctx, "write repository "+sc.target(), func(tx *sql.Tx) error {
		_, err := process.Repository(ctx, tx, &r, process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()})
		return err
	})
	return r.GetID(), err
}

// ensureInstallation stores the installation row a repositories scan
// links to, when no webhook stored it yet.
func (e *engine) ensureInstallation(ctx context.Context, sc *scanRow) error {
	var exists bool
	if err := e.deps.DB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM github_installation WHERE id = $1)`,
		sc.InstallationID.Int64).Scan(&exists); err != nil {
		return fmt.Errorf("look up installation %d: %w", sc.InstallationID.Int64, err)
	}
	if exists {
		return nil
	}
	app, err := e.deps.GitHub.NewAppClient()
	if err != nil {
		return fmt.Errorf("app client: %w", err)
	}
	inst, _, err := app.Apps.GetInstallation(ctx, sc.InstallationID.Int64)
	if err != nil {
		return fmt.Errorf("get installation %d: %w", sc.InstallationID.Int64, err)
	}
	return e.withTx(ctx, "write installation", func(tx *sql.Tx) error {
		_, err := process.Installation(ctx, tx, inst, process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()})
		return err
	})
}

// spawnJob starts a collection scan: page 1, the page count, the fan-out.
func (e *engine) spawnJob(ctx context.Context, job *work.Job) error {
	sc, err := loadScan(ctx, e.deps.DB, job.ArgInt64("scan_id"), false)
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
	if _, err := e.deps.DB.ExecContext(ctx, `
		UPDATE scan SET status = 'running', started_at = coalesce(started_at, now())
		WHERE id = $1 AND status IN ('queued', 'running')`, sc.ID); err != nil {
		return fmt.Errorf("start scan %d: %w", sc.ID, err)
	}
	if sc, err = loadScan(ctx, e.deps.DB, sc.ID, false); err != nil || sc == nil || sc.finished() {
		return err
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
		res, err := tx.ExecContext(ctx, `UPDATE scan SET pages_total = $2 WHERE id = $1 AND pages_total IS NULL`, sc.ID, total)
		if err != nil {
			return fmt.Errorf("record %d pages of scan %d: %w", total, sc.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // another run spawned it meanwhile
		}
		spawned = true
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO scan_page (scan_id, page) SELECT $1, g FROM generate_series(1, $2) g ON CONFLICT DO NOTHING`,
			sc.ID, total); err != nil {
			return fmt.Errorf("record the pages of scan %d: %w", sc.ID, err)
		}
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
	if err := e.enqueuePages(sc, pages); err != nil {
		return err
	}
	if out.complete {
		return e.enqueueScanned(sc)
	}
	return nil
}

// refanout queues what a spawned scan still needs: its pending pages, or
// its scanned job when every page is finished.
func (e *engine) refanout(ctx context.Context, sc *scanRow) error {
	if sc.PagesDone+sc.PagesFailed >= int(sc.PagesTotal.Int32) {
		return e.enqueueScanned(sc)
	}
	rows, err := e.deps.DB.QueryContext(ctx, `SELECT page FROM scan_page WHERE scan_id = $1 AND status = 'pending' ORDER BY page`, sc.ID)
	if err != nil {
		return fmt.Errorf("pending pages of scan %d: %w", sc.ID, err)
	}
	var pages []int
	for rows.Next() {
		var p int
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return fmt.Errorf("pending pages of scan %d: %w", sc.ID, err)
		}
		pages = append(pages, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("pending pages of scan %d: %w", sc.ID, err)
	}
	return e.enqueuePages(sc, pages)
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

// failScan ends a scan as failed.
func (e *engine) failScan(ctx context.Context, sc *scanRow, cause error) error {
	e.deps.Logger.Warn().Err(cause).Int64("scan", sc.ID).Str("kind", sc.Kind).Str("target", sc.target()).Msg("scan failed")
	_, err := e.deps.DB.ExecContext(ctx, `
		UPDATE scan SET status = 'failed', incomplete = true, finished_at = now(), error = $2,
			params = jsonb_set(params, '{errors}', to_jsonb(coalesce((params->>'errors')::int, 0) + 1))
		WHERE id = $1 AND status IN ('queued', 'running')`, sc.ID, cause.Error())
	if err != nil {
		return fmt.Errorf("end scan %d as failed: %w", sc.ID, err)
	}
	return nil
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
	var status string
	err = e.deps.DB.QueryRowContext(ctx, `SELECT status FROM scan_page WHERE scan_id = $1 AND page = $2`, sc.ID, page).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && status != "pending") {
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
	if err := e.enqueuePages(sc, out.newPages); err != nil {
		return err
	}
	if out.complete {
		return e.enqueueScanned(sc)
	}
	return nil
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
		_, _ = e.deps.DB.ExecContext(ctx, `UPDATE scan_page SET attempts = attempts + 1, error = $3 WHERE scan_id = $1 AND page = $2`,
			sc.ID, page, err.Error())
		return err
	}
	e.deps.Logger.Warn().Err(err).Int64("scan", sc.ID).Int("page", page).Str("target", sc.target()).Msg("page failed for good")
	cause := err.Error()
	var out pageOutcome
	ferr := e.withTx(ctx, fmt.Sprintf("fail page %d of scan %d", page, sc.ID), func(tx *sql.Tx) error {
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
		return e.enqueueScanned(sc)
	}
	return nil
}

// scannedJob is the fan-in: once every page is finished it sweeps what
// GitHub no longer lists (complete, non-incremental scans only), stamps
// the parent, ends the scan and chains the children scans.
func (e *engine) scannedJob(ctx context.Context, job *work.Job) error {
	id := job.ArgInt64("scan_id")
	var children []ScanRequest
	var childIDs []int64
	sc, err := loadScan(ctx, e.deps.DB, id, false)
	if err != nil || sc == nil || sc.finished() {
		return err
	}
	stable := true
	if c := collectionsByName[sc.Kind]; c != nil && sweepable(sc, c) && c.incremental && sc.PagesTotal.Int32 > 1 {
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
	err = e.withTx(ctx, fmt.Sprintf("finish scan %d", id), func(tx *sql.Tx) error {
		var err error
		sc, err = loadScan(ctx, tx, id, true)
		if err != nil || sc == nil || sc.finished() {
			return err
		}
		if !sc.PagesTotal.Valid || sc.PagesDone+sc.PagesFailed < int(sc.PagesTotal.Int32) {
			return nil // not yet: the last page queues this job again
		}
		c := collectionsByName[sc.Kind]
		if c == nil {
			return fmt.Errorf("scan %d: unknown collection %q", sc.ID, sc.Kind)
		}
		if err := e.resolveStored(ctx, tx, sc, c); err != nil {
			return err
		}
		if sc.PagesFailed == 0 {
			if sweepable(sc, c) && stable {
				n, err := c.sweep(ctx, tx, sc)
				if err != nil {
					return err
				}
				if n > 0 {
					e.deps.Logger.Info().Int64("scan", sc.ID).Str("target", sc.target()).Int64("removed", n).
						Str("collection", sc.Kind).Msg("removed rows GitHub no longer lists")
				}
			}
			if c.finish != nil && sc.StartedAt.Valid {
				if err := c.finish(ctx, tx, sc); err != nil {
					return err
				}
			}
		}
		if sc.Params.Children && c.children != nil {
			children, err = c.children(ctx, tx, sc)
			if err != nil {
				return err
			}
			for _, ch := range children {
				cid, joined, err := e.startScan(ctx, tx, ch, sc.ID)
				if err != nil {
					return err
				}
				if !joined {
					childIDs = append(childIDs, cid)
				} else {
					childIDs = append(childIDs, 0)
				}
			}
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE scan SET status = 'done', finished_at = now() WHERE id = $1`, sc.ID)
		if err != nil {
			return fmt.Errorf("end scan %d: %w", sc.ID, err)
		}
		return nil
	})
	if err != nil {
		if e.lastAttempt(job) && sc != nil {
			return e.failScan(ctx, sc, err)
		}
		return err
	}
	for i, cid := range childIDs {
		if cid == 0 {
			continue
		}
		if err := e.enqueueFirst(children[i].Kind, cid); err != nil {
			// The child's row is queued; the sweeper queues its job.
			e.deps.Logger.Warn().Err(err).Int64("scan", cid).Msg("queue a child scan")
		}
	}
	return nil
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

// resolveStored fills RepoID and PullID from the database for the sweep
// and the stamps; the pages resolved them already.
func (e *engine) resolveStored(ctx context.Context, tx *sql.Tx, sc *scanRow, c *collection) error {
	if c.parent == "" {
		return nil
	}
	if !sc.RepoID.Valid {
		return fmt.Errorf("scan %d of %s: repository unknown", sc.ID, sc.target())
	}
	if c.parent == "pull" {
		err := tx.QueryRowContext(ctx, `
			SELECT id FROM github_pull_request WHERE base_repo_id = $1 AND number = $2
			ORDER BY updated_at DESC NULLS LAST LIMIT 1`, sc.RepoID.Int64, sc.Number).Scan(&sc.PullID)
		if err != nil {
			return fmt.Errorf("pull request of scan %d (%s): %w", sc.ID, sc.target(), err)
		}
	}
	return nil
}

// sweep re-queues the jobs of queued and running scans whose progress mark
// expired: a killed worker's page, a job lost between commit and enqueue.
func (e *engine) sweep(ctx context.Context) (int, error) {
	rows, err := e.deps.DB.QueryContext(ctx, `
		SELECT id FROM scan WHERE status IN ('queued', 'running') ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("sweep: list open scans: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sweep: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	n := 0
	for _, id := range ids {
		alive, err := e.alive(ctx, id)
		if err != nil {
			return n, err
		}
		if alive {
			continue
		}
		sc, err := loadScan(ctx, e.deps.DB, id, false)
		if err != nil {
			return n, err
		}
		if sc == nil || sc.finished() {
			continue
		}
		if sc.InstallationID.Valid {
			if until, err := e.pausedUntil(ctx, sc.InstallationID.Int64); err != nil {
				return n, err
			} else if !until.IsZero() {
				continue // it waits for a rate limit on purpose
			}
		}
		e.deps.Logger.Info().Int64("scan", id).Str("kind", sc.Kind).Str("target", sc.target()).Msg("sweeper: scan made no progress, queueing its jobs again")
		switch {
		case !sc.PagesTotal.Valid || !isCollection(sc.Kind):
			err = e.enqueueFirst(sc.Kind, sc.ID)
		default:
			err = e.refanout(ctx, sc)
		}
		if err != nil {
			return n, err
		}
		if err := e.touch(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (e *engine) alive(ctx context.Context, scanID int64) (bool, error) {
	conn, err := e.deps.Redis.GetContext(ctx)
	if err != nil {
		return false, fmt.Errorf("redis: %w", err)
	}
	defer conn.Close()
	ok, err := redis.Bool(redis.DoContext(conn, ctx, "EXISTS", e.progressKey(scanID)))
	if err != nil {
		return false, fmt.Errorf("progress of scan %d: %w", scanID, err)
	}
	return ok, nil
}
