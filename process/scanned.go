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

// MaxListedFiles is GitHub's cap on GET /pulls/{n}/files: "Responses
// include a maximum of 3000 files".
const MaxListedFiles = 3000

// objectTotals says (SQL, pull request row p) that changed_files,
// additions and deletions came from a pull request object (GET of one pull
// request, a webhook): the list leaves out the totals and commits alike,
// and every object has both, so commits_count tells the object's totals
// from a sum of files.
const objectTotals = `(p.commits_count IS NOT NULL AND p.changed_files IS NOT NULL)`

// filesTruncated is the SQL of files_truncated for pull request row p with
// n files stored: the listing stopped at GitHub's cap and the object counts
// more files, or has no count at all (then the cap may have cut the list).
func filesTruncated(n string) string {
	return fmt.Sprintf(`(%[1]s >= %[2]d AND (NOT %[3]s OR p.changed_files > %[1]s))`, n, MaxListedFiles, objectTotals)
}

// StampFilesScanned records a complete scan of a pull request's files and
// sets files_truncated. The totals are the pull request object's; only a
// row without them (listed, never fetched alone) gets the sum of its files,
// a lower bound when the list was truncated. Hand-written: the sum and the
// update are one statement.
func StampFilesScanned(ctx context.Context, exec boil.ContextExecutor, pullID int64, at time.Time) error {
	_, err := exec.ExecContext(ctx, `
		UPDATE github_pull_request p
		SET additions = CASE WHEN `+objectTotals+` THEN p.additions ELSE f.additions END,
		    deletions = CASE WHEN `+objectTotals+` THEN p.deletions ELSE f.deletions END,
		    changed_files = CASE WHEN `+objectTotals+` THEN p.changed_files ELSE f.n END,
		    files_truncated = `+filesTruncated("f.n")+`,
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

// markFilesTruncated sets files_truncated of pull requests ids from their
// stored files and totals, for objects whose totals reach the cap: the
// files scan may have stamped them before the object came.
func markFilesTruncated(ctx context.Context, exec boil.ContextExecutor, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := exec.ExecContext(ctx, `
		UPDATE github_pull_request p SET files_truncated = `+filesTruncated("f.n")+`
		FROM (SELECT u.id, (SELECT count(*) FROM github_pull_request_file WHERE pull_request_id = u.id) AS n
		      FROM unnest($1::bigint[]) AS u(id)) f
		WHERE p.id = f.id`, ids)
	if err != nil {
		return fmt.Errorf("mark the truncated files of %d pull requests: %w", len(ids), err)
	}
	return nil
}

// TruncatedWithoutTotals reports whether a pull request's files were cut
// at GitHub's cap while no pull request object gave its totals: only GET
// of the pull request can tell how many files it really changes.
func TruncatedWithoutTotals(ctx context.Context, exec boil.ContextExecutor, pullID int64) (bool, error) {
	var ok bool
	q := `SELECT EXISTS (SELECT 1 FROM github_pull_request p WHERE p.id = $1 AND p.files_truncated AND NOT ` + objectTotals + `)`
	if err := exec.QueryRowContext(ctx, q, pullID).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up the totals of pull request %d: %w", pullID, err)
	}
	return ok, nil
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
