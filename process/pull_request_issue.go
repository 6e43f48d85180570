package process

import (
	"context"
	"fmt"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// A pull request is also an issue: GitHub's issue list holds it, and the
// issue row is what issue queries (state, labels, milestone) read. GitHub
// sends no issues event when a pull request is closed, edited or
// labeled, only a pull_request event, so a pull request's writes carry
// over to its issue row, or that row would lag until the next issue scan.

// syncPullRequestIssues copies the shared fields of the written pull
// requests onto their issue rows, newer wins, in one statement, and takes
// the comment count of an issue row not older than the pull request. For the
// pull requests in labeled (whose labels the data carried) the issue's
// labels become the pull request's. An issue row not stored yet is left
// for the issue scan or an issues event to create: a pull request has no
// issue id to create it with.
func syncPullRequestIssues(ctx context.Context, exec boil.ContextExecutor, written, labeled []int64, m Meta) error {
	if len(written) == 0 {
		return nil
	}
	via, err := viaColumn(m)
	if err != nil {
		return err
	}
	if labeled == nil {
		labeled = []int64{}
	}
	// Hand-written: an UPDATE ... FROM the stored pull requests, with the
	// label associations kept in step in the same statement; the labels
	// that stay are neither deleted nor inserted, so the two CTEs never
	// touch one row.
	q := `
		WITH upd AS (
			UPDATE github_issue i SET
				state = p.state, title = p.title, body = p.body, locked = p.locked,
				active_lock_reason = p.active_lock_reason,
				user_id = coalesce(p.user_id, i.user_id), user_login = coalesce(p.user_login, i.user_login),
				assignee_id = p.assignee_id, assignee_login = p.assignee_login, assignee_logins = p.assignee_logins,
				milestone_number = p.milestone_number,
				comments_count = CASE WHEN i.updated_at = p.updated_at THEN coalesce(i.comments_count, p.comments_count)
					ELSE coalesce(p.comments_count, i.comments_count) END,
				created_at = coalesce(i.created_at, p.created_at), updated_at = p.updated_at, closed_at = p.closed_at,
				` + via + ` = GREATEST(i.` + via + `, $3)
			FROM github_pull_request p
			WHERE p.id = ANY($1) AND i.repo_id = p.base_repo_id AND i.number = p.number AND i.is_pull_request
			  AND p.updated_at IS NOT NULL AND (i.updated_at IS NULL OR i.updated_at < p.updated_at
			      OR (i.updated_at = p.updated_at AND (i.last_replicated_at IS NULL OR i.last_replicated_at <= $3)))
			RETURNING i.id AS issue_id, p.id AS pr_id
		), counts AS (
			-- The other way: a comment's count the issue row learned first
			-- (an issue_comment delivery before the pull request was
			-- stored, or a pull request listed without its count) is kept
			-- by a pull request not newer than it, so the order of the two
			-- writes does not matter (syncIssuePullRequests' rule).
			UPDATE github_pull_request p SET comments_count = i.comments_count
			FROM github_issue i
			WHERE p.id = ANY($1) AND i.repo_id = p.base_repo_id AND i.number = p.number AND i.is_pull_request
			  AND i.comments_count IS NOT NULL AND p.comments_count IS DISTINCT FROM i.comments_count
			  AND i.updated_at IS NOT NULL AND (p.updated_at IS NULL OR p.updated_at <= i.updated_at)
		), gone AS (
			DELETE FROM github_issue_label_association a USING upd
			WHERE a.issue_id = upd.issue_id AND upd.pr_id = ANY($2)
			  AND NOT EXISTS (SELECT 1 FROM github_pull_request_label_association pl
			                  WHERE pl.pull_request_id = upd.pr_id AND pl.label_name = a.label_name)
		)
		INSERT INTO github_issue_label_association (issue_id, repo_id, label_name)
		SELECT upd.issue_id, pl.repo_id, pl.label_name
		FROM upd JOIN github_pull_request_label_association pl ON pl.pull_request_id = upd.pr_id
		WHERE upd.pr_id = ANY($2)
		ON CONFLICT DO NOTHING`
	if _, err := exec.ExecContext(ctx, q, written, labeled, m.FetchedAt); err != nil {
		return fmt.Errorf("carry %d pull requests over to their issue rows: %w", len(written), err)
	}
	return nil
}

// syncIssuePullRequests carries the comment count of written issue rows
// that are pull requests back to the pull request rows, and the shared
// fields of a newer pull request row to them: a comment on a
// pull request comes as an issue_comment event carrying the issue, and
// GitHub sends no pull_request event for it. Only the count: the issue
// representation knows nothing of the pull request's own fields, and
// moving the pull request's updated_at would make a late pull_request
// delivery of the same second (a merge) stale. On an equal updated_at
// the issue's count wins, as syncPullRequestIssues keeps it (the issue is
// what the comment event updates).
func syncIssuePullRequests(ctx context.Context, exec boil.ContextExecutor, issueIDs []int64) error {
	if len(issueIDs) == 0 {
		return nil
	}
	// Hand-written: an UPDATE ... FROM the stored issues, one statement.
	// Its first part goes the other way: an issue row written from data
	// older than its stored pull request (an issue read that began before
	// the pull request's close arrived, say) takes the pull request's
	// shared fields, as the pull request's write would have given them had
	// the row existed then, so the order of the two does not matter.
	q := `
		WITH back AS (
			UPDATE github_issue i SET
				state = p.state, title = p.title, body = p.body, locked = p.locked,
				active_lock_reason = p.active_lock_reason,
				assignee_id = p.assignee_id, assignee_login = p.assignee_login, assignee_logins = p.assignee_logins,
				milestone_number = p.milestone_number, updated_at = p.updated_at, closed_at = p.closed_at
			FROM github_pull_request p
			WHERE i.id = ANY($1) AND p.base_repo_id = i.repo_id AND p.number = i.number AND i.is_pull_request
			  AND p.updated_at IS NOT NULL AND i.updated_at < p.updated_at
		)
		UPDATE github_pull_request p SET comments_count = i.comments_count
		FROM github_issue i
		WHERE i.id = ANY($1) AND p.base_repo_id = i.repo_id AND p.number = i.number
		  AND i.comments_count IS NOT NULL AND p.comments_count IS DISTINCT FROM i.comments_count
		  AND (p.updated_at IS NULL OR p.updated_at <= i.updated_at)`
	if _, err := exec.ExecContext(ctx, q, issueIDs); err != nil {
		return fmt.Errorf("carry the comment counts of %d issues over to their pull requests: %w", len(issueIDs), err)
	}
	return nil
}
