package process

import (
	"context"
	"fmt"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Kinds of deleted objects kept in github_tombstone.
const (
	KindIssue         = "issue"
	KindIssueComment  = "issue_comment"
	KindLabel         = "label"
	KindMilestone     = "milestone"
	KindReviewComment = "pull_request_review_comment"
)

// Bury records that GitHub deleted the object of kind with id. GitHub never
// reuses an id, so every later write of it is an older delivery arriving
// out of order: it is reported Stale and writes nothing, instead of
// bringing the row back. Only GitHub's own word may bury (a delete webhook,
// a transfer): a 404 can mean lost access, which is not a deletion.
func Bury(ctx context.Context, exec boil.ContextExecutor, kind string, id int64, m Meta) error {
	if id == 0 {
		return nil // nothing to recognise it by later
	}
	if err := checkMeta(m); err != nil {
		return err
	}
	if _, err := exec.ExecContext(ctx, `
		INSERT INTO github_tombstone (kind, id, deleted_at) VALUES ($1, $2, $3)
		ON CONFLICT (kind, id) DO NOTHING`, kind, id, m.FetchedAt); err != nil {
		return fmt.Errorf("bury %s %d: %w", kind, id, classify(err))
	}
	return nil
}

// withoutBuried drops the rows of s's kind whose id is buried.
func withoutBuried(ctx context.Context, exec boil.ContextExecutor, s *spec, rows []row) ([]row, error) {
	col := -1
	for i, c := range s.cols {
		if c.name == "id" {
			col = i
		}
	}
	if s.tombstone == "" || col < 0 || len(rows) == 0 {
		return rows, nil
	}
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		if id, ok := r.vals[col].(int64); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return rows, nil
	}
	res, err := exec.QueryContext(ctx, `SELECT id FROM github_tombstone WHERE kind = $1 AND id = ANY($2::bigint[])`, s.tombstone, ids)
	if err != nil {
		return nil, fmt.Errorf("look up deleted %ss: %w", s.tombstone, classify(err))
	}
	defer res.Close()
	buried := map[int64]bool{}
	for res.Next() {
		var id int64
		if err := res.Scan(&id); err != nil {
			return nil, fmt.Errorf("look up deleted %ss: %w", s.tombstone, err)
		}
		buried[id] = true
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("look up deleted %ss: %w", s.tombstone, classify(err))
	}
	if len(buried) == 0 {
		return rows, nil
	}
	kept := rows[:0:0]
	for _, r := range rows {
		if id, ok := r.vals[col].(int64); ok && buried[id] {
			continue
		}
		kept = append(kept, r)
	}
	return kept, nil
}
