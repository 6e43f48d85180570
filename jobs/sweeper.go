package jobs

// The sweeper: scans whose progress mark in Redis expired (a killed
// worker, a job lost between commit and enqueue) get their jobs queued
// again.

import (
	"context"
	"fmt"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

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

// sweep re-queues the jobs of queued and running scans whose progress mark
// expired: a killed worker's page, a job lost between commit and enqueue.
func (e *engine) sweep(ctx context.Context) (int, error) {
	open, err := models.Scans(qm.Select(models.ScanColumns.ID), models.ScanWhere.Status.IN([]string{"queued", "running"}),
		qm.OrderBy(models.ScanColumns.ID)).All(ctx, e.deps.DB)
	if err != nil {
		return 0, fmt.Errorf("sweep: list open scans: %w", err)
	}
	ids := make([]int64, 0, len(open))
	for _, o := range open {
		ids = append(ids, o.ID)
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
			err = e.enqueueFirst(ctx, sc.Kind, sc.ID)
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

// refanout queues what a spawned scan still needs: its pending pages, or
// its scanned job when every page is finished.
func (e *engine) refanout(ctx context.Context, sc *scanRow) error {
	if sc.PagesDone+sc.PagesFailed >= int(sc.PagesTotal.Int32) {
		return e.enqueueScanned(ctx, sc)
	}
	pending, err := models.ScanPages(qm.Select(models.ScanPageColumns.Page), models.ScanPageWhere.ScanID.EQ(sc.ID),
		models.ScanPageWhere.Status.EQ("pending"), qm.OrderBy(models.ScanPageColumns.Page)).All(ctx, e.deps.DB)
	if err != nil {
		return fmt.Errorf("pending pages of scan %d: %w", sc.ID, err)
	}
	pages := make([]int, 0, len(pending))
	for _, p := range pending {
		pages = append(pages, p.Page)
	}
	return e.enqueuePages(ctx, sc, pages)
}
