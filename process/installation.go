package process

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"

	"github.com/webhookdb/webhookdb/models"
)

var installationSpec = &spec{
	table:     "github_installation",
	conflict:  "id",
	guard:     guardUpdatedAt,
	returning: "id::text",
	cols: cols("id!", "app_id", "account_id", "account_login", "account_type", "target_type",
		"repository_selection", "permissions", "events", "html_url", "suspended_at",
		"suspended_by_login", "created_at", "updated_at~"),
}

// Installation upserts an installation and its account (a partial user).
// Suspension is carried by the payload's suspended_at/suspended_by, so the
// suspend and unsuspend events need nothing else. deleted_at is left alone:
// only DeleteInstallation sets it.
func Installation(ctx context.Context, exec boil.ContextExecutor, in *github.Installation, m Meta) (Outcome, error) {
	if in == nil || in.ID == nil {
		return 0, fmt.Errorf("installation without id: %w", ErrInvalid)
	}
	if in.Account == nil || in.Account.ID == nil || in.Account.Login == nil {
		return 0, fmt.Errorf("installation %d without account: %w", *in.ID, ErrInvalid)
	}
	if err := checkMeta(m); err != nil {
		return 0, err
	}
	var perms any
	if in.Permissions != nil {
		b, err := json.Marshal(in.Permissions)
		if err != nil {
			return 0, fmt.Errorf("installation %d permissions: %w", *in.ID, err)
		}
		perms = string(b)
	}
	if err := nestedUsers(ctx, exec, m, in.Account, in.SuspendedBy); err != nil {
		return 0, fmt.Errorf("upsert installation %d: %w", *in.ID, err)
	}
	r := row{
		key:     idKey(*in.ID),
		partial: in.UpdatedAt == nil,
		version: version(in.UpdatedAt),
		vals: []any{*in.ID, i64(in.AppID), *in.Account.ID, *in.Account.Login, str(in.Account.Type),
			str(in.TargetType), str(in.RepositorySelection), perms, strs(in.Events), str(in.HTMLURL),
			ts(in.SuspendedAt), userLogin(in.SuspendedBy), ts(in.CreatedAt), ts(in.UpdatedAt)},
	}
	written, err := upsert(ctx, exec, installationSpec, m, []row{r})
	if err != nil {
		return 0, fmt.Errorf("upsert installation %d: %w", *in.ID, err)
	}
	return outcome(written, r.key), nil
}

// DeleteInstallation marks an installation deleted (the row stays, for
// history) and drops its repository list: it covers nothing any more, and
// those of its repositories no other live installation covers are marked
// uncovered (repository_access.go).
func DeleteInstallation(ctx context.Context, exec boil.ContextExecutor, installationID int64, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	via, _ := viaColumn(m)
	q := `UPDATE github_installation SET deleted_at = COALESCE(deleted_at, $2), ` + via + ` = $2 WHERE id = $1`
	if _, err := exec.ExecContext(ctx, q, installationID, m.FetchedAt); err != nil {
		return fmt.Errorf("mark installation %d deleted: %w", installationID, err)
	}
	return unlinkRepositories(ctx, exec, installationID,
		`DELETE FROM github_installation_repository WHERE installation_id = $1 RETURNING repo_id`, m)
}

// unlinkRepositories runs q, a DELETE of links of the installation
// RETURNING repo_id with the installation id as $1 (and args after it),
// then marks the unlinked repositories no live installation still covers.
func unlinkRepositories(ctx context.Context, exec boil.ContextExecutor, installationID int64, q string, m Meta, args ...any) error {
	rows, err := exec.QueryContext(ctx, q, append([]any{installationID}, args...)...)
	if err != nil {
		return fmt.Errorf("unlink repositories of installation %d: %w", installationID, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("unlink repositories of installation %d: %w", installationID, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("unlink repositories of installation %d: %w", installationID, err)
	}
	if _, err := MarkRepositoriesUncovered(ctx, exec, ids, m.FetchedAt); err != nil {
		return fmt.Errorf("unlink repositories of installation %d: %w", installationID, err)
	}
	return nil
}

// SuspendInstallation records a suspension when only the id is at hand
// (Installation does it from a full payload).
func SuspendInstallation(ctx context.Context, exec boil.ContextExecutor, installationID int64, at time.Time, byLogin string, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	via, _ := viaColumn(m)
	var by any
	if byLogin != "" {
		by = byLogin
	}
	q := `UPDATE github_installation SET suspended_at = $2, suspended_by_login = $3, ` + via + ` = $4 WHERE id = $1`
	if _, err := exec.ExecContext(ctx, q, installationID, at, by, m.FetchedAt); err != nil {
		return fmt.Errorf("suspend installation %d: %w", installationID, classify(err))
	}
	return nil
}

// UnsuspendInstallation clears a suspension.
func UnsuspendInstallation(ctx context.Context, exec boil.ContextExecutor, installationID int64, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	via, _ := viaColumn(m)
	q := `UPDATE github_installation SET suspended_at = NULL, suspended_by_login = NULL, ` + via + ` = $2 WHERE id = $1`
	if _, err := exec.ExecContext(ctx, q, installationID, m.FetchedAt); err != nil {
		return fmt.Errorf("unsuspend installation %d: %w", installationID, err)
	}
	return nil
}

// InstallationSuspendEvent completes Installation for a suspend event: the
// payload's suspended_at records the suspension, but when it is missing the
// event itself is the news, dated m.FetchedAt and made by byLogin.
func InstallationSuspendEvent(ctx context.Context, exec boil.ContextExecutor, in *github.Installation, byLogin string, m Meta) error {
	if in == nil || in.ID == nil {
		return fmt.Errorf("suspended installation without id: %w", ErrInvalid)
	}
	if in.SuspendedAt != nil {
		return nil
	}
	return SuspendInstallation(ctx, exec, *in.ID, m.FetchedAt, byLogin, m)
}

// InstallationUnsuspendEvent completes Installation for an unsuspend
// event: the event is what counts, so a payload still describing a
// suspension (stale data) does not leave the installation suspended.
func InstallationUnsuspendEvent(ctx context.Context, exec boil.ContextExecutor, in *github.Installation, m Meta) error {
	if in == nil || in.ID == nil {
		return fmt.Errorf("unsuspended installation without id: %w", ErrInvalid)
	}
	if in.SuspendedAt == nil {
		return nil
	}
	return UnsuspendInstallation(ctx, exec, *in.ID, m)
}

// InstallationRepositories applies an installation_repositories event: the
// added repositories are upserted (as partial repositories unless full) and
// linked, the removed ones unlinked (their rows stay: another installation
// may cover them; those no live one covers are marked uncovered). The
// installation row must exist.
func InstallationRepositories(ctx context.Context, exec boil.ContextExecutor, installationID int64, added, removed []*github.Repository, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	ids, err := upsertListedRepositories(ctx, exec, installationID, added, m)
	if err != nil {
		return err
	}
	if err := linkRepositories(ctx, exec, installationID, ids); err != nil {
		return err
	}
	gone := make([]int64, 0, len(removed))
	for _, r := range removed {
		if r != nil && r.ID != nil {
			gone = append(gone, *r.ID)
		}
	}
	if len(gone) > 0 {
		q := `DELETE FROM github_installation_repository WHERE installation_id = $1 AND repo_id = ANY($2) RETURNING repo_id`
		if err := unlinkRepositories(ctx, exec, installationID, q, m, gone); err != nil {
			return err
		}
	}
	return nil
}

// SetInstallationRepositories replaces the whole repository list of an
// installation (installation created, or a complete scan of it).
func SetInstallationRepositories(ctx context.Context, exec boil.ContextExecutor, installationID int64, repos []*github.Repository, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	ids, err := upsertListedRepositories(ctx, exec, installationID, repos, m)
	if err != nil {
		return err
	}
	q := `DELETE FROM github_installation_repository WHERE installation_id = $1 AND NOT (repo_id = ANY($2)) RETURNING repo_id`
	if err := unlinkRepositories(ctx, exec, installationID, q, m, ids); err != nil {
		return err
	}
	return linkRepositories(ctx, exec, installationID, ids)
}

func upsertListedRepositories(ctx context.Context, exec boil.ContextExecutor, installationID int64, repos []*github.Repository, m Meta) ([]int64, error) {
	ids := make([]int64, 0, len(repos))
	rows := make([]row, 0, len(repos))
	users := make([]*github.User, 0, len(repos))
	for _, r := range repos {
		rw, err := repositoryRow(r)
		if err != nil {
			return nil, fmt.Errorf("repositories of installation %d: %w", installationID, err)
		}
		ids = append(ids, *r.ID)
		rows = append(rows, rw)
		users = append(users, r.Owner)
	}
	if len(rows) == 0 {
		return ids, nil
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return nil, fmt.Errorf("repositories of installation %d: %w", installationID, err)
	}
	if _, err := writeRepositories(ctx, exec, m, rows); err != nil {
		return nil, fmt.Errorf("repositories of installation %d: %w", installationID, err)
	}
	return ids, nil
}

func linkRepositories(ctx context.Context, exec boil.ContextExecutor, installationID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	// A buried repository is not linked (its trigger); one linked again
	// is covered again.
	q := `WITH l AS (INSERT INTO github_installation_repository (installation_id, repo_id)
		SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING RETURNING repo_id)` + coverRepositories
	if _, err := exec.ExecContext(ctx, q, installationID, ids); err != nil {
		return fmt.Errorf("link %d repositories to installation %d: %w", len(ids), installationID, classify(err))
	}
	return nil
}

// LinkInstallationRepository records that an installation covers a
// repository, as a delivery from the installation about the repository
// proves. A deleted or unstored installation is left alone (the link needs
// a live installation row); the repository need not be stored yet.
func LinkInstallationRepository(ctx context.Context, exec boil.ContextExecutor, installationID, repoID int64) error {
	if err := linkInstallationRepositories(ctx, exec, []int64{installationID}, []int64{repoID}); err != nil {
		return fmt.Errorf("link repository %d to installation %d: %w", repoID, installationID, err)
	}
	return nil
}

// linkInstallationRepositories links the pairs (installationIDs[i],
// repoIDs[i]) in one statement on the hot path: the links of live
// installations, and the repositories covered again when a link is new.
// The pairs are sorted so that concurrent batches take their locks in one
// order.
func linkInstallationRepositories(ctx context.Context, exec boil.ContextExecutor, installationIDs, repoIDs []int64) error {
	if len(installationIDs) == 0 {
		return nil
	}
	q := `WITH l AS (INSERT INTO github_installation_repository (installation_id, repo_id)
		SELECT DISTINCT i.id, p.repo_id FROM unnest($1::bigint[], $2::bigint[]) AS p(installation_id, repo_id)
		JOIN github_installation i ON i.id = p.installation_id AND i.deleted_at IS NULL
		ORDER BY 1, 2
		ON CONFLICT DO NOTHING RETURNING repo_id)` + coverRepositories
	if _, err := exec.ExecContext(ctx, q, installationIDs, repoIDs); err != nil {
		return classify(err)
	}
	return nil
}

// InstallationStored reports whether an installation has a row (deleted
// ones included): events that only name an installation need it stored.
func InstallationStored(ctx context.Context, exec boil.ContextExecutor, installationID int64) (bool, error) {
	ok, err := models.GithubInstallationExists(ctx, exec, installationID)
	if err != nil {
		return false, fmt.Errorf("look up installation %d: %w", installationID, err)
	}
	return ok, nil
}

// InstallationDeleted reports whether an installation is stored as
// deleted. GitHub never revives an installation id, so a delivery about it
// processed after its deletion (sent before, arrived late) must not give
// it repositories or work again.
func InstallationDeleted(ctx context.Context, exec boil.ContextExecutor, installationID int64) (bool, error) {
	deleted, err := models.GithubInstallations(models.GithubInstallationWhere.ID.EQ(installationID),
		models.GithubInstallationWhere.DeletedAt.IsNotNull()).Exists(ctx, exec)
	if err != nil {
		return false, fmt.Errorf("look up installation %d: %w", installationID, err)
	}
	return deleted, nil
}
