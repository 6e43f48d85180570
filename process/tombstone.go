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
	// KindRepository buries a repository and, through the tables'
	// triggers (migration 00005), every later write of its children.
	KindRepository = "repository"
	// KindPullRequest is written by the trigger that refuses a pull
	// request of a buried repository, so that its reviews and review
	// comments are refused too.
	KindPullRequest = "pull_request"
)

// Bury records that GitHub deleted the object of kind with id. GitHub never
// reuses an id, so every later write of it is an older delivery arriving
// out of order: the table's trigger (migrations 00002, 00005) keeps the row
// out, and the writer reports it Stale, instead of bringing the row back.
// Only GitHub's own word may bury (a delete webhook, a transfer): a 404 can
// mean lost access, which is not a deletion.
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
