package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/internal/pgretry"
	"github.com/webhookdb/webhookdb/models"
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

// loadScan reads scan id (locked for the transaction with forUpdate); nil
// when it no longer exists.
func loadScan(ctx context.Context, exec boil.ContextExecutor, id int64, forUpdate bool) (*scanRow, error) {
	mods := []qm.QueryMod{models.ScanWhere.ID.EQ(id)}
	if forUpdate {
		mods = append(mods, qm.For("UPDATE"))
	}
	m, err := models.Scans(mods...).One(ctx, exec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read scan %d: %w", id, err)
	}
	return scanOf(m)
}

// startAndLoad marks scan id running, as startRunning does, and reads it
// in the same statement; nil when it is no longer open (or gone).
// Hand-written for the same reasons as startRunning.
func startAndLoad(ctx context.Context, exec boil.ContextExecutor, id int64) (*scanRow, error) {
	var m models.Scan
	err := queries.Raw(`
		UPDATE scan SET status = 'running', started_at = coalesce(started_at, now())
		WHERE id = $1 AND status IN ('queued', 'running')
		RETURNING *`, id).Bind(ctx, exec, &m)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("start scan %d: %w", id, err)
	}
	return scanOf(&m)
}

func scanOf(m *models.Scan) (*scanRow, error) {
	id := m.ID
	sc := &scanRow{
		ID:             m.ID,
		Kind:           m.Kind,
		Key:            m.ScanKey,
		InstallationID: sql.NullInt64{Int64: m.InstallationID.Int64, Valid: m.InstallationID.Valid},
		Owner:          m.Owner.String,
		Repo:           m.Repo.String,
		RepoID:         sql.NullInt64{Int64: m.RepoID.Int64, Valid: m.RepoID.Valid},
		Number:         m.Number.Int,
		Full:           m.FullScan,
		Since:          sql.NullTime{Time: m.Since.Time, Valid: m.Since.Valid},
		Status:         m.Status,
		PagesTotal:     sql.NullInt32{Int32: int32(m.PagesTotal.Int), Valid: m.PagesTotal.Valid},
		PagesDone:      m.PagesDone,
		PagesFailed:    m.PagesFailed,
		StartedAt:      sql.NullTime{Time: m.StartedAt.Time, Valid: m.StartedAt.Valid},
		RequestedBy:    m.RequestedBy.String,
	}
	if err := json.Unmarshal(m.Params, &sc.Params); err != nil {
		return nil, fmt.Errorf("scan %d params: %w", id, err)
	}
	return sc, nil
}

// setScan updates columns of scan id (a single-row bookkeeping write).
func setScan(ctx context.Context, exec boil.ContextExecutor, id int64, cols models.M) error {
	if _, err := models.Scans(models.ScanWhere.ID.EQ(id)).UpdateAll(ctx, exec, cols); err != nil {
		return fmt.Errorf("update scan %d: %w", id, err)
	}
	return nil
}

// seenRows are the ids and keys the pages of a scan listed.
type seenRows struct {
	ids  []int64
	keys []string
}

// scanSeen collects what every page of scan id listed (a 304 page has its
// ids copied from api_etag); changedOnly leaves out the pages GitHub
// answered 304 for.
func scanSeen(ctx context.Context, exec boil.ContextExecutor, id int64, changedOnly bool) (seenRows, error) {
	mods := []qm.QueryMod{
		qm.Select(models.ScanPageColumns.SeenIds, models.ScanPageColumns.SeenKeys),
		models.ScanPageWhere.ScanID.EQ(id),
	}
	if changedOnly {
		mods = append(mods, models.ScanPageWhere.NotModified.EQ(false))
	}
	pages, err := models.ScanPages(mods...).All(ctx, exec)
	if err != nil {
		return seenRows{}, fmt.Errorf("rows listed by scan %d: %w", id, err)
	}
	s := seenRows{ids: []int64{}, keys: []string{}}
	ids, keys := map[int64]bool{}, map[string]bool{}
	for _, p := range pages {
		for _, v := range p.SeenIds {
			if !ids[v] {
				ids[v] = true
				s.ids = append(s.ids, v)
			}
		}
		for _, v := range p.SeenKeys {
			if !keys[v] {
				keys[v] = true
				s.keys = append(s.keys, v)
			}
		}
	}
	return s, nil
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

// addCounters records requests (and errors) made outside a page's
// transaction, so a failed try still counts. Hand-written: the counters
// are incremented in place, concurrent pages add to them at once.
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

// failScan ends a scan as failed. Hand-written: the error count in params
// is incremented in place, and only a scan still open is ended.
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

// startRunning marks a scan running; pagesTotal, when not 0, is its page
// count known up front (a single object is one page). Hand-written:
// started_at keeps the first start (coalesce) and only an open scan starts.
func (e *engine) startRunning(ctx context.Context, id int64, pagesTotal int) error {
	if _, err := e.deps.DB.ExecContext(ctx, `
		UPDATE scan SET status = 'running', started_at = coalesce(started_at, now()),
			pages_total = coalesce(NULLIF($2, 0), pages_total)
		WHERE id = $1 AND status IN ('queued', 'running')`, id, pagesTotal); err != nil {
		return fmt.Errorf("start scan %d: %w", id, err)
	}
	return nil
}

// withTx runs fn in a transaction and commits it. fn may run more than
// once (see below): it must set, not accumulate, what it hands out.
func (e *engine) withTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	// A deadlock victim or a serialization failure is rolled back whole
	// and succeeds when run again: many deliveries and pages writing the
	// same users at once meet this, and failing the job for it would spend
	// one of its few tries (and, on the last, lose the page).
	return pgretry.Run(ctx, maxTxAttempts, 50*time.Millisecond, func(err error, attempt int) {
		e.deps.Logger.Debug().Err(err).Str("what", what).Int("attempt", attempt).Msg("transaction aborted by the database; running it again")
	}, func() error { return e.runTx(ctx, what, fn) })
}

// maxTxAttempts bounds the runs of one job transaction the database
// aborted to break a deadlock.
const maxTxAttempts = 4

func (e *engine) runTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
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
