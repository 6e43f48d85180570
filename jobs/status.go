package jobs

import (
	"context"
	"database/sql"
	"fmt"
)

// TreeStatus is Status with the scans the scan started (a repository's
// pulls, a pull's files...) added up: a load is done only when they all
// are, failed if one failed, and incomplete if one is.
func (s *Scheduler) TreeStatus(ctx context.Context, scanID int64) (ScanStatus, error) {
	st, err := s.Status(ctx, scanID)
	if err != nil {
		return st, err
	}
	if err := s.addDescendants(ctx, &st); err != nil {
		return st, err
	}
	return st, nil
}

func (s *Scheduler) addDescendants(ctx context.Context, b *ScanStatus) error {
	var n, queued, running, failed, incomplete int
	var pagesTotal, pagesDone, pagesFailed, items, requests, notModified int
	var lastFinished sql.NullTime
	var firstErr sql.NullString
	err := s.e.deps.DB.QueryRowContext(ctx, `
		WITH RECURSIVE tree AS (
			SELECT id, 0 AS depth FROM scan WHERE parent_scan_id = $1
			UNION ALL
			SELECT s.id, t.depth + 1 FROM scan s JOIN tree t ON s.parent_scan_id = t.id WHERE t.depth < 10
		)
		SELECT count(*),
		       count(*) FILTER (WHERE s.status = 'queued'),
		       count(*) FILTER (WHERE s.status = 'running'),
		       count(*) FILTER (WHERE s.status = 'failed'),
		       count(*) FILTER (WHERE s.incomplete),
		       coalesce(sum(s.pages_total), 0), coalesce(sum(s.pages_done), 0), coalesce(sum(s.pages_failed), 0),
		       coalesce(sum(s.items), 0), coalesce(sum(s.requests), 0), coalesce(sum(s.not_modified), 0),
		       max(s.finished_at),
		       (array_agg(s.error ORDER BY s.status <> 'failed', s.id) FILTER (WHERE s.status = 'failed' OR s.incomplete))[1]
		FROM tree JOIN scan s ON s.id = tree.id`, b.ID).Scan(&n, &queued, &running, &failed, &incomplete,
		&pagesTotal, &pagesDone, &pagesFailed, &items, &requests, &notModified, &lastFinished, &firstErr)
	if err != nil {
		return fmt.Errorf("sum the child scans of %d: %w", b.ID, err)
	}
	if n == 0 {
		return nil
	}
	b.Scans += n
	if b.PagesTotal != nil {
		total := *b.PagesTotal + pagesTotal
		b.PagesTotal = &total
	} else if pagesTotal > 0 {
		b.PagesTotal = &pagesTotal
	}
	b.PagesDone += pagesDone
	b.PagesFailed += pagesFailed
	if incomplete > 0 {
		b.Incomplete = true
	}
	b.Items += items
	b.Requests += requests
	b.NotModified += notModified
	if b.Status == "done" {
		switch {
		case queued+running > 0:
			b.Status = "running"
			b.FinishedAt = nil
		case failed > 0:
			b.Status = "failed"
		}
		// The first failed (else incomplete) child says what went wrong.
		if queued+running == 0 && b.Error == nil && firstErr.Valid {
			b.Error = &firstErr.String
		}
		if queued+running == 0 && lastFinished.Valid && (b.FinishedAt == nil || lastFinished.Time.After(*b.FinishedAt)) {
			b.FinishedAt = &lastFinished.Time
		}
	}
	return nil
}
