package process

import (
	"context"
	"fmt"
	"time"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Sweeps remove the rows a complete scan did not see: GitHub no longer
// lists them. seen is what the scan's pages listed; scanStarted keeps the
// rows written after the scan started, by a webhook or another API read
// (an inline sync): GitHub may have created them after we read their
// page. Each sweep is one DELETE over a whole collection, hand-written:
// the models delete by primary key or with typed conditions that cannot
// say "not in this array, and not replicated since".

// notNewer is the scanStarted condition ($3) of the sweeps.
const notNewer = ` AND (last_replicated_at IS NULL OR last_replicated_at < $3)`

// sweep runs one sweep's DELETE and returns how many rows it removed. A
// nil seen would keep everything (NOT (x = ANY(NULL)) is NULL), so the
// callers pass empty slices instead.
func sweep(ctx context.Context, exec boil.ContextExecutor, what, q string, args ...any) (int64, error) {
	res, err := exec.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", what, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", what, err)
	}
	return n, nil
}

func ids(seen []int64) []int64 {
	if seen == nil {
		return []int64{}
	}
	return seen
}

func keys(seen []string) []string {
	if seen == nil {
		return []string{}
	}
	return seen
}

// SweepInstallationRepositories unlinks the repositories an installation
// no longer lists; links made after scanStarted stay.
func SweepInstallationRepositories(ctx context.Context, exec boil.ContextExecutor, installationID int64, seen []int64, scanStarted time.Time) (int64, error) {
	return sweep(ctx, exec, fmt.Sprintf("the repositories of installation %d", installationID), `
		DELETE FROM github_installation_repository
		WHERE installation_id = $1 AND NOT (repo_id = ANY($2)) AND created_at < $3`,
		installationID, ids(seen), scanStarted)
}

func sweepByRepo(ctx context.Context, exec boil.ContextExecutor, table, col string, repoID int64, seen any, scanStarted time.Time) (int64, error) {
	return sweep(ctx, exec, fmt.Sprintf("%s of repository %d", table, repoID),
		`DELETE FROM `+table+` WHERE repo_id = $1 AND NOT (`+col+` = ANY($2))`+notNewer, repoID, seen, scanStarted)
}

func sweepByPull(ctx context.Context, exec boil.ContextExecutor, table, col string, pullID int64, seen any, scanStarted time.Time) (int64, error) {
	return sweep(ctx, exec, fmt.Sprintf("%s of pull request %d", table, pullID),
		`DELETE FROM `+table+` WHERE pull_request_id = $1 AND NOT (`+col+` = ANY($2))`+notNewer, pullID, seen, scanStarted)
}

// SweepIssues removes the issues of a repository that it no longer lists.
func SweepIssues(ctx context.Context, exec boil.ContextExecutor, repoID int64, seen []int64, scanStarted time.Time) (int64, error) {
	return sweepByRepo(ctx, exec, "github_issue", "id", repoID, ids(seen), scanStarted)
}

// SweepIssueComments removes the issue comments of a repository that it
// no longer lists.
func SweepIssueComments(ctx context.Context, exec boil.ContextExecutor, repoID int64, seen []int64, scanStarted time.Time) (int64, error) {
	return sweepByRepo(ctx, exec, "github_issue_comment", "id", repoID, ids(seen), scanStarted)
}

// SweepLabels removes the labels of a repository, by name, that it no
// longer lists.
func SweepLabels(ctx context.Context, exec boil.ContextExecutor, repoID int64, seen []string, scanStarted time.Time) (int64, error) {
	return sweepByRepo(ctx, exec, "github_issue_label", "name", repoID, keys(seen), scanStarted)
}

// SweepMilestones removes the milestones of a repository that it no
// longer lists.
func SweepMilestones(ctx context.Context, exec boil.ContextExecutor, repoID int64, seen []int64, scanStarted time.Time) (int64, error) {
	return sweepByRepo(ctx, exec, "github_milestone", "id", repoID, ids(seen), scanStarted)
}

// SweepPullRequestReviews removes the reviews of a pull request that it
// no longer lists.
func SweepPullRequestReviews(ctx context.Context, exec boil.ContextExecutor, pullID int64, seen []int64, scanStarted time.Time) (int64, error) {
	return sweepByPull(ctx, exec, "github_pull_request_review", "id", pullID, ids(seen), scanStarted)
}

// SweepPullRequestReviewComments removes the review comments of a pull
// request that it no longer lists.
func SweepPullRequestReviewComments(ctx context.Context, exec boil.ContextExecutor, pullID int64, seen []int64, scanStarted time.Time) (int64, error) {
	return sweepByPull(ctx, exec, "github_pull_request_review_comment", "id", pullID, ids(seen), scanStarted)
}
