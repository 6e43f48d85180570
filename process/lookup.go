package process

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// Lookups of stored rows for the jobs: which row a scan hangs from, which
// installation covers a repository, whether an object is stored. The
// queries matching names case-insensitively (lower(full_name)) are
// hand-written: the typed Where helpers compare columns as they are.

// RepositoryInstallation finds the live (not deleted) installation that
// covers owner/repo, the latest linked first; ok=false when none is stored.
func RepositoryInstallation(ctx context.Context, exec boil.ContextExecutor, owner, repo string) (id int64, ok bool, err error) {
	err = exec.QueryRowContext(ctx, `
		SELECT ir.installation_id
		FROM github_repository r
		JOIN github_installation_repository ir ON ir.repo_id = r.id
		JOIN github_installation i ON i.id = ir.installation_id AND i.deleted_at IS NULL
		WHERE lower(r.full_name) = lower($1)
		ORDER BY ir.created_at DESC LIMIT 1`, owner+"/"+repo).Scan(&id)
	return found(id, err, "look up the installation of "+owner+"/"+repo)
}

// RepositoryID finds the stored repository named owner/repo (the most
// recently updated when a rename left two); ok=false when none is stored.
func RepositoryID(ctx context.Context, exec boil.ContextExecutor, owner, repo string) (id int64, ok bool, err error) {
	err = exec.QueryRowContext(ctx, `
		SELECT id FROM github_repository WHERE lower(full_name) = lower($1)
		ORDER BY updated_at DESC NULLS LAST LIMIT 1`, owner+"/"+repo).Scan(&id)
	return found(id, err, "look up repository "+owner+"/"+repo)
}

// RepositoryAndInstallation finds the stored repository named owner/repo
// and an installation linked to it (deleted or not), for a new scan's row;
// both are invalid when nothing is stored.
func RepositoryAndInstallation(ctx context.Context, exec boil.ContextExecutor, owner, repo string) (repoID, installationID sql.NullInt64, err error) {
	err = exec.QueryRowContext(ctx, `
		SELECT r.id, ir.installation_id FROM github_repository r
		LEFT JOIN github_installation_repository ir ON ir.repo_id = r.id
		WHERE lower(r.full_name) = lower($1)
		ORDER BY r.updated_at DESC NULLS LAST LIMIT 1`, owner+"/"+repo).Scan(&repoID, &installationID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return repoID, installationID, fmt.Errorf("look up repository %s/%s: %w", owner, repo, err)
	}
	return repoID, installationID, nil
}

// InstallationRepositoryIDs lists the repositories an installation is
// linked to.
func InstallationRepositoryIDs(ctx context.Context, exec boil.ContextExecutor, installationID int64) ([]int64, error) {
	links, err := models.GithubInstallationRepositories(
		qm.Select(models.GithubInstallationRepositoryColumns.RepoID),
		models.GithubInstallationRepositoryWhere.InstallationID.EQ(installationID)).All(ctx, exec)
	if err != nil {
		return nil, fmt.Errorf("repositories of installation %d: %w", installationID, err)
	}
	ids := make([]int64, 0, len(links))
	for _, l := range links {
		ids = append(ids, l.RepoID)
	}
	return ids, nil
}

// PullRequestID finds the stored pull request number of repository
// repoID (the most recently updated when a transfer left two); ok=false
// when none is stored.
func PullRequestID(ctx context.Context, exec boil.ContextExecutor, repoID int64, number int) (id int64, ok bool, err error) {
	pr, err := models.GithubPullRequests(qm.Select(models.GithubPullRequestColumns.ID),
		models.GithubPullRequestWhere.BaseRepoID.EQ(repoID), models.GithubPullRequestWhere.Number.EQ(number),
		qm.OrderBy(models.GithubPullRequestColumns.UpdatedAt+" DESC NULLS LAST")).One(ctx, exec)
	if pr != nil {
		id = pr.ID
	}
	return found(id, err, fmt.Sprintf("look up pull request %d of repository %d", number, repoID))
}

// PullRequestIDs lists every stored pull request number of repository
// repoID (a transfer can leave two).
func PullRequestIDs(ctx context.Context, exec boil.ContextExecutor, repoID int64, number int) ([]int64, error) {
	prs, err := models.GithubPullRequests(qm.Select(models.GithubPullRequestColumns.ID),
		models.GithubPullRequestWhere.BaseRepoID.EQ(repoID), models.GithubPullRequestWhere.Number.EQ(number)).All(ctx, exec)
	if err != nil {
		return nil, fmt.Errorf("look up pull request %d of repository %d: %w", number, repoID, err)
	}
	ids := make([]int64, 0, len(prs))
	for _, pr := range prs {
		ids = append(ids, pr.ID)
	}
	return ids, nil
}

// IssueIDs lists every stored issue number of repository repoID.
func IssueIDs(ctx context.Context, exec boil.ContextExecutor, repoID int64, number int) ([]int64, error) {
	issues, err := models.GithubIssues(qm.Select(models.GithubIssueColumns.ID),
		models.GithubIssueWhere.RepoID.EQ(repoID), models.GithubIssueWhere.Number.EQ(number)).All(ctx, exec)
	if err != nil {
		return nil, fmt.Errorf("look up issue %d of repository %d: %w", number, repoID, err)
	}
	ids := make([]int64, 0, len(issues))
	for _, is := range issues {
		ids = append(ids, is.ID)
	}
	return ids, nil
}

// found turns a single-id lookup's error into ok.
func found(id int64, err error, what string) (int64, bool, error) {
	switch {
	case err == nil:
		return id, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("%s: %w", what, err)
}

// exists runs a SELECT EXISTS (...) query.
func exists(ctx context.Context, exec boil.ContextExecutor, what, q string, args ...any) (bool, error) {
	var ok bool
	if err := exec.QueryRowContext(ctx, q, args...).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up %s: %w", what, err)
	}
	return ok, nil
}

// RepositoryStored says whether a repository named owner/repo is stored.
func RepositoryStored(ctx context.Context, exec boil.ContextExecutor, owner, repo string) (bool, error) {
	return exists(ctx, exec, "repository "+owner+"/"+repo,
		`SELECT EXISTS (SELECT 1 FROM github_repository WHERE lower(full_name) = lower($1))`, owner+"/"+repo)
}

// UserStored says whether a user with login is stored.
func UserStored(ctx context.Context, exec boil.ContextExecutor, login string) (bool, error) {
	return exists(ctx, exec, "user "+login,
		`SELECT EXISTS (SELECT 1 FROM github_user WHERE lower(login) = lower($1))`, login)
}

// PullRequestStored says whether pull request number of repository repoID
// is stored.
func PullRequestStored(ctx context.Context, exec boil.ContextExecutor, repoID int64, number int) (bool, error) {
	ok, err := models.GithubPullRequests(models.GithubPullRequestWhere.BaseRepoID.EQ(repoID),
		models.GithubPullRequestWhere.Number.EQ(number)).Exists(ctx, exec)
	if err != nil {
		return false, fmt.Errorf("look up pull request %d of repository %d: %w", number, repoID, err)
	}
	return ok, nil
}

// IssueStored says whether issue number of repository repoID is stored.
func IssueStored(ctx context.Context, exec boil.ContextExecutor, repoID int64, number int) (bool, error) {
	ok, err := models.GithubIssues(models.GithubIssueWhere.RepoID.EQ(repoID),
		models.GithubIssueWhere.Number.EQ(number)).Exists(ctx, exec)
	if err != nil {
		return false, fmt.Errorf("look up issue %d of repository %d: %w", number, repoID, err)
	}
	return ok, nil
}

// LabelStored says whether repository repoID has a label named name (in
// any case).
func LabelStored(ctx context.Context, exec boil.ContextExecutor, repoID int64, name string) (bool, error) {
	return exists(ctx, exec, fmt.Sprintf("label %q of repository %d", name, repoID),
		`SELECT EXISTS (SELECT 1 FROM github_issue_label WHERE repo_id = $1 AND lower(name) = lower($2))`, repoID, name)
}

// MilestoneStored says whether milestone number of repository repoID is
// stored.
func MilestoneStored(ctx context.Context, exec boil.ContextExecutor, repoID int64, number int) (bool, error) {
	ok, err := models.GithubMilestones(models.GithubMilestoneWhere.RepoID.EQ(repoID),
		models.GithubMilestoneWhere.Number.EQ(number)).Exists(ctx, exec)
	if err != nil {
		return false, fmt.Errorf("look up milestone %d of repository %d: %w", number, repoID, err)
	}
	return ok, nil
}
