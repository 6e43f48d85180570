package process

import (
	"context"
	"fmt"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Missing<Collection> say whether a row a page listed (an id, or a key
// for files and labels) is not stored under its parent: a 304 answer for
// such a page would keep it missing for good (deleted after a 404 while
// access was lost), so the page is fetched again in full. One statement
// over the page's whole list, hand-written (unnest of the listed array).

func missingIDs(ctx context.Context, exec boil.ContextExecutor, what, stored string, parentID int64, listed []int64) (bool, error) {
	if len(listed) == 0 {
		return false, nil
	}
	return exists(ctx, exec, what,
		`SELECT EXISTS (SELECT 1 FROM unnest($1::bigint[]) AS s(v) WHERE NOT `+stored+`)`, listed, parentID)
}

func missingKeys(ctx context.Context, exec boil.ContextExecutor, what, stored string, parentID int64, listed []string) (bool, error) {
	if len(listed) == 0 {
		return false, nil
	}
	return exists(ctx, exec, what,
		`SELECT EXISTS (SELECT 1 FROM unnest($1::text[]) AS s(v) WHERE NOT `+stored+`)`, listed, parentID)
}

// MissingInstallationRepositories: a listed repository is not linked to
// the installation.
func MissingInstallationRepositories(ctx context.Context, exec boil.ContextExecutor, installationID int64, listed []int64) (bool, error) {
	return missingIDs(ctx, exec, fmt.Sprintf("the linked repositories of installation %d", installationID),
		`EXISTS (SELECT 1 FROM github_installation_repository WHERE installation_id = $2 AND repo_id = s.v)`, installationID, listed)
}

// MissingPullRequests: a listed pull request of the repository is not stored.
func MissingPullRequests(ctx context.Context, exec boil.ContextExecutor, repoID int64, listed []int64) (bool, error) {
	return missingIDs(ctx, exec, fmt.Sprintf("the pull requests of repository %d", repoID),
		`EXISTS (SELECT 1 FROM github_pull_request WHERE id = s.v AND base_repo_id = $2)`, repoID, listed)
}

// MissingPullRequestFiles: a listed file of the pull request is not stored.
func MissingPullRequestFiles(ctx context.Context, exec boil.ContextExecutor, pullID int64, listed []string) (bool, error) {
	return missingKeys(ctx, exec, fmt.Sprintf("the files of pull request %d", pullID),
		`EXISTS (SELECT 1 FROM github_pull_request_file WHERE pull_request_id = $2 AND filename = s.v)`, pullID, listed)
}

// MissingPullRequestReviews: a listed review of the pull request is not stored.
func MissingPullRequestReviews(ctx context.Context, exec boil.ContextExecutor, pullID int64, listed []int64) (bool, error) {
	return missingIDs(ctx, exec, fmt.Sprintf("the reviews of pull request %d", pullID),
		`EXISTS (SELECT 1 FROM github_pull_request_review WHERE id = s.v AND pull_request_id = $2)`, pullID, listed)
}

// MissingPullRequestReviewComments: a listed review comment of the pull
// request is not stored.
func MissingPullRequestReviewComments(ctx context.Context, exec boil.ContextExecutor, pullID int64, listed []int64) (bool, error) {
	return missingIDs(ctx, exec, fmt.Sprintf("the review comments of pull request %d", pullID),
		`EXISTS (SELECT 1 FROM github_pull_request_review_comment WHERE id = s.v AND pull_request_id = $2)`, pullID, listed)
}

// MissingIssues: a listed issue of the repository is not stored.
func MissingIssues(ctx context.Context, exec boil.ContextExecutor, repoID int64, listed []int64) (bool, error) {
	return missingIDs(ctx, exec, fmt.Sprintf("the issues of repository %d", repoID),
		`EXISTS (SELECT 1 FROM github_issue WHERE id = s.v AND repo_id = $2)`, repoID, listed)
}

// MissingIssueComments: a listed issue comment of the repository is not stored.
func MissingIssueComments(ctx context.Context, exec boil.ContextExecutor, repoID int64, listed []int64) (bool, error) {
	return missingIDs(ctx, exec, fmt.Sprintf("the issue comments of repository %d", repoID),
		`EXISTS (SELECT 1 FROM github_issue_comment WHERE id = s.v AND repo_id = $2)`, repoID, listed)
}

// MissingLabels: a listed label (by name) of the repository is not stored.
func MissingLabels(ctx context.Context, exec boil.ContextExecutor, repoID int64, listed []string) (bool, error) {
	return missingKeys(ctx, exec, fmt.Sprintf("the labels of repository %d", repoID),
		`EXISTS (SELECT 1 FROM github_issue_label WHERE repo_id = $2 AND name = s.v)`, repoID, listed)
}

// MissingMilestones: a listed milestone of the repository is not stored.
func MissingMilestones(ctx context.Context, exec boil.ContextExecutor, repoID int64, listed []int64) (bool, error) {
	return missingIDs(ctx, exec, fmt.Sprintf("the milestones of repository %d", repoID),
		`EXISTS (SELECT 1 FROM github_milestone WHERE id = s.v AND repo_id = $2)`, repoID, listed)
}
