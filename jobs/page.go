package jobs

// Page fetch and write: one page of a collection, read conditionally
// with its stored ETag and written with its scan_page bookkeeping.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// etagRow is what we stored of a page URL: its ETag and Last-Modified,
// and what the page listed when they were stored.
type etagRow struct {
	etag         string
	lastModified time.Time
	items        int
	seen         seenRows
}

// loadETag reads the api_etag row of key; the zero etagRow when none.
func (e *engine) loadETag(ctx context.Context, key string) (etagRow, error) {
	a, err := models.FindAPIEtag(ctx, e.deps.DB, key)
	if errors.Is(err, sql.ErrNoRows) {
		return etagRow{}, nil
	}
	if err != nil {
		return etagRow{}, fmt.Errorf("read the ETag of %s: %w", key, err)
	}
	return etagRow{etag: a.Etag, lastModified: a.LastModified.Time, items: a.Items, seen: seenRows{ids: a.SeenIds, keys: a.SeenKeys}}, nil
}

// storeETag records the validators of key's answer (f) and what its page
// listed.
func storeETag(ctx context.Context, exec boil.ContextExecutor, key string, f fetched, seen seenRows, items int) error {
	a := &models.APIEtag{URL: key, Etag: f.etag, LastModified: null.NewTime(f.lastModified, !f.lastModified.IsZero()),
		SeenIds: seen.ids, SeenKeys: seen.keys, Items: items, UpdatedAt: time.Now()}
	err := a.Upsert(ctx, exec, true, []string{models.APIEtagColumns.URL},
		boil.Whitelist(models.APIEtagColumns.Etag, models.APIEtagColumns.LastModified, models.APIEtagColumns.SeenIds,
			models.APIEtagColumns.SeenKeys, models.APIEtagColumns.Items, models.APIEtagColumns.UpdatedAt),
		boil.Infer())
	if err != nil {
		return fmt.Errorf("store the ETag of %s: %w", key, err)
	}
	return nil
}

// pageFetch is one fetched page, ready to write.
type pageFetch struct {
	url       string
	f         fetched
	io        pageIO
	fetchedAt time.Time
	prevItems int
	// fresh says the page's scan_page row was inserted pending by the
	// same transaction (the spawn), so writePage need not lock and check it.
	fresh bool
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
	etag, since := pageValidators(sc, prev)
	f, err := get(ctx, s.client, s.inst, u, etag, io.dst, since)
	if err == nil && f.notModified {
		// GitHub still lists what the page held; if some of it is no
		// longer stored (deleted after a 404 while access was lost), the
		// 304 would keep it missing for good: fetch the page in full.
		lost, lerr := e.lostRows(ctx, sc, c, prev)
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

// pageValidators chooses what a page is asked with. GitHub binds an ETag
// to the token that received it, and installation tokens live an hour, so
// after a rotation only Last-Modified still matches. An incremental scan
// sends it (If-Modified-Since) when stored: its pages are sorted by
// updated, newest first, so any change to what they list brings a newer
// updated_at onto them. A scan that sweeps sends the ETag alone: a
// deletion changes a page without a newer updated_at, and If-Modified-Since
// would answer 304 and keep the deleted row from the sweep.
func pageValidators(sc *scanRow, prev etagRow) (etag string, since time.Time) {
	if sc.Since.Valid && !prev.lastModified.IsZero() {
		return "", prev.lastModified
	}
	return prev.etag, time.Time{}
}

// stableLastModified is the answer's Last-Modified when it is at least two
// seconds older than the answer's Date, else zero. GitHub compares
// If-Modified-Since at a second's resolution: a change in the same second
// as the newest one seen would still answer 304. Two seconds leave one for
// the time between GitHub reading the object and dating its answer.
func stableLastModified(h http.Header) time.Time {
	lm, err := http.ParseTime(h.Get("Last-Modified"))
	if err != nil {
		return time.Time{}
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil || date.Sub(lm) < 2*time.Second {
		return time.Time{}
	}
	return lm
}

// lostRows says whether a row that the page listed when its ETag was
// stored (prev) is missing from the database.
func (e *engine) lostRows(ctx context.Context, sc *scanRow, c *collection, prev etagRow) (bool, error) {
	if c.missing == nil {
		return false, nil
	}
	lost, err := c.missing(ctx, e.deps.DB, sc, prev.seen)
	if err != nil {
		return false, fmt.Errorf("check the stored rows of %s: %w", sc.target(), err)
	}
	return lost, nil
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
	if !pf.fresh {
		sp, err := models.ScanPages(qm.Select(models.ScanPageColumns.Status), models.ScanPageWhere.ScanID.EQ(sc.ID),
			models.ScanPageWhere.Page.EQ(page), qm.For("UPDATE")).One(ctx, tx)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && sp.Status != "pending") {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("lock page %d of scan %d: %w", page, sc.ID, err)
		}
	}
	var err error
	var res pageResult
	cnt := counters{}.of(pf)
	if pf.f.notModified {
		// Unchanged since we stored it: its ids come from api_etag.
		// Hand-written, as the page updates below: attempts is
		// incremented in place, and the ids are copied in the statement.
		// The ETag row is touched (so retention keeps an ETag in use)
		// and locked (so retention cannot remove it under this page).
		var r sql.Result
		r, err = tx.ExecContext(ctx, `
			WITH a AS (UPDATE api_etag SET updated_at = now() WHERE url = $3 RETURNING items, seen_ids, seen_keys)
			UPDATE scan_page p SET status = 'done', attempts = attempts + 1, not_modified = true,
				items = a.items, seen_ids = a.seen_ids, seen_keys = a.seen_keys, finished_at = now(), error = NULL
			FROM a
			WHERE p.scan_id = $1 AND p.page = $2`, sc.ID, page, etagKey(sc, pf.url))
		if err != nil {
			return out, fmt.Errorf("mark page %d of scan %d unchanged: %w", page, sc.ID, err)
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			// The ETag's row went (retention) after the request was
			// sent: without its ids the sweep could remove rows the page
			// lists. The retry fetches the page in full.
			return out, fmt.Errorf("page %d of scan %d: answered 304 but the ETag of %s was removed meanwhile; fetching it again", page, sc.ID, pf.url)
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
			if err := storeETag(ctx, tx, etagKey(sc, pf.url), pf.f, seenRows{ids: ids, keys: keys}, res.items); err != nil {
				return out, err
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
		// Hand-written: the count only grows (GREATEST) and the new
		// pages are inserted and returned in the same statement.
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
	// Hand-written: concurrent pages increment the counters in place and
	// the last one learns from RETURNING that the scan is complete.
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
