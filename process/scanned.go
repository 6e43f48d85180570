package process

import (
	"context"
	"fmt"
	"time"

	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// Scan stamps: <collection>_last_scanned_at of the parent row records when
// the last complete scan of that collection started.

func stampRepo(ctx context.Context, exec boil.ContextExecutor, col string, repoID int64, at time.Time) error {
	if _, err := models.GithubRepositories(models.GithubRepositoryWhere.ID.EQ(repoID)).
		UpdateAll(ctx, exec, models.M{col: at}); err != nil {
		return fmt.Errorf("stamp %s of repository %d: %w", col, repoID, err)
	}
	return nil
}

func stampPull(ctx context.Context, exec boil.ContextExecutor, col string, pullID int64, at time.Time) error {
	if _, err := models.GithubPullRequests(models.GithubPullRequestWhere.ID.EQ(pullID)).
		UpdateAll(ctx, exec, models.M{col: at}); err != nil {
		return fmt.Errorf("stamp %s of pull request %d: %w", col, pullID, err)
	}
	return nil
}

// StampRepositoriesScanned records a complete scan of an installation's
// repositories.
func StampRepositoriesScanned(ctx context.Context, exec boil.ContextExecutor, installationID int64, at time.Time) error {
	if _, err := models.GithubInstallations(models.GithubInstallationWhere.ID.EQ(installationID)).
		UpdateAll(ctx, exec, models.M{models.GithubInstallationColumns.RepositoriesLastScannedAt: at}); err != nil {
		return fmt.Errorf("stamp repositories_last_scanned_at of installation %d: %w", installationID, err)
	}
	return nil
}

// StampPullRequestsScanned records a complete scan of a repository's pull
// requests.
func StampPullRequestsScanned(ctx context.Context, exec boil.ContextExecutor, repoID int64, at time.Time) error {
	return stampRepo(ctx, exec, models.GithubRepositoryColumns.PullRequestsLastScannedAt, repoID, at)
}

// StampIssuesScanned records a complete scan of a repository's issues.
func StampIssuesScanned(ctx context.Context, exec boil.ContextExecutor, repoID int64, at time.Time) error {
	return stampRepo(ctx, exec, models.GithubRepositoryColumns.IssuesLastScannedAt, repoID, at)
}

// StampIssueCommentsScanned records a complete scan of a repository's
// issue comments.
func StampIssueCommentsScanned(ctx context.Context, exec boil.ContextExecutor, repoID int64, at time.Time) error {
	return stampRepo(ctx, exec, models.GithubRepositoryColumns.IssueCommentsLastScannedAt, repoID, at)
}

// StampLabelsScanned records a complete scan of a repository's labels.
func StampLabelsScanned(ctx context.Context, exec boil.ContextExecutor, repoID int64, at time.Time) error {
	return stampRepo(ctx, exec, models.GithubRepositoryColumns.LabelsLastScannedAt, repoID, at)
}

// StampMilestonesScanned records a complete scan of a repository's
// milestones.
func StampMilestonesScanned(ctx context.Context, exec boil.ContextExecutor, repoID int64, at time.Time) error {
	return stampRepo(ctx, exec, models.GithubRepositoryColumns.MilestonesLastScannedAt, repoID, at)
}

// StampReviewsScanned records a complete scan of a pull request's reviews.
func StampReviewsScanned(ctx context.Context, exec boil.ContextExecutor, pullID int64, at time.Time) error {
	return stampPull(ctx, exec, models.GithubPullRequestColumns.ReviewsLastScannedAt, pullID, at)
}

// StampReviewCommentsScanned records a complete scan of a pull request's
// review comments.
func StampReviewCommentsScanned(ctx context.Context, exec boil.ContextExecutor, pullID int64, at time.Time) error {
	return stampPull(ctx, exec, models.GithubPullRequestColumns.ReviewCommentsLastScannedAt, pullID, at)
}

// StampFilesScanned records a complete scan of a pull request's files and
// sums them into the pull request: the pull request list lacks additions,
// deletions and changed_files. Hand-written: the sum and the update are
// one statement.
func StampFilesScanned(ctx context.Context, exec boil.ContextExecutor, pullID int64, at time.Time) error {
	_, err := exec.ExecContext(ctx, `
		UPDATE github_pull_request p
		SET additions = f.additions, deletions = f.deletions, changed_files = f.n,
		    files_last_scanned_at = $2
		FROM (SELECT coalesce(sum(additions), 0) AS additions, coalesce(sum(deletions), 0) AS deletions,
		             count(*) AS n
		      FROM github_pull_request_file WHERE pull_request_id = $1) f
		WHERE p.id = $1`, pullID, at)
	if err != nil {
		return fmt.Errorf("sum the files of pull request %d: %w", pullID, err)
	}
	return nil
}

// RepositoryName is a stored repository's owner and name.
type RepositoryName struct {
	Owner, Name string
}

// RepositoryNames lists the owner and name of the stored repositories
// among ids, by id. (= ANY: a scan may list more ids than IN has room
// for bind parameters.)
func RepositoryNames(ctx context.Context, exec boil.ContextExecutor, ids []int64) ([]RepositoryName, error) {
	repos, err := models.GithubRepositories(
		qm.Select(models.GithubRepositoryColumns.OwnerLogin, models.GithubRepositoryColumns.Name),
		qm.Where(models.GithubRepositoryColumns.ID+" = ANY(?)", ids), qm.OrderBy(models.GithubRepositoryColumns.ID)).All(ctx, exec)
	if err != nil {
		return nil, fmt.Errorf("names of %d repositories: %w", len(ids), err)
	}
	out := make([]RepositoryName, 0, len(repos))
	for _, r := range repos {
		out = append(out, RepositoryName{Owner: r.OwnerLogin, Name: r.Name})
	}
	return out, nil
}

// ListedPullRequest is a stored pull request a scan listed.
type ListedPullRequest struct {
	Number int
	// NeedsMerger: merged, but merged_by is unknown (the list leaves it
	// out; only GET of the pull request has it).
	NeedsMerger bool
}

// ListedPullRequests lists the stored pull requests among ids, by number.
func ListedPullRequests(ctx context.Context, exec boil.ContextExecutor, ids []int64) ([]ListedPullRequest, error) {
	prs, err := models.GithubPullRequests(
		qm.Select(models.GithubPullRequestColumns.Number, models.GithubPullRequestColumns.MergedAt,
			models.GithubPullRequestColumns.MergedByID),
		qm.Where(models.GithubPullRequestColumns.ID+" = ANY(?)", ids), qm.OrderBy(models.GithubPullRequestColumns.Number)).All(ctx, exec)
	if err != nil {
		return nil, fmt.Errorf("%d listed pull requests: %w", len(ids), err)
	}
	out := make([]ListedPullRequest, 0, len(prs))
	for _, pr := range prs {
		out = append(out, ListedPullRequest{Number: pr.Number, NeedsMerger: pr.MergedAt.Valid && !pr.MergedByID.Valid})
	}
	return out, nil
}
