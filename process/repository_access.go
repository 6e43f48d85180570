package process

import (
	"context"
	"fmt"
	"time"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// What happens to a repository's data when our access to it ends: when it
// leaves the last live installation that covered it (the installation was
// deleted, or the repository removed from it; a suspension keeps access
// pending), github_repository.uncovered_at records when. A private
// repository (or one whose visibility is unknown) is then removed, with
// everything under it, after the configured retention; a public one stays,
// marked. Linking an installation to it again clears the mark.

// revokedPrivate is the condition on github_repository r of a private
// repository no installation covers since before $2. Internal repositories
// are private too (GitHub sends private: true for them); an unknown
// visibility is treated as private.
const revokedPrivate = `r.uncovered_at IS NOT NULL AND r.uncovered_at < $2 AND r.private IS NOT FALSE`

// MarkRepositoriesUncovered stamps at as uncovered_at on those of repoIDs
// that no live installation covers any more (and that were not already
// marked: the first time counts). It returns how many it marked.
func MarkRepositoriesUncovered(ctx context.Context, exec boil.ContextExecutor, repoIDs []int64, at time.Time) (int64, error) {
	if len(repoIDs) == 0 {
		return 0, nil
	}
	res, err := exec.ExecContext(ctx, `
		UPDATE github_repository r SET uncovered_at = $2
		WHERE r.id = ANY($1) AND r.uncovered_at IS NULL
		  AND NOT EXISTS (SELECT 1 FROM github_installation_repository ir
		                  JOIN github_installation i ON i.id = ir.installation_id AND i.deleted_at IS NULL
		                  WHERE ir.repo_id = r.id)`, repoIDs, at)
	if err != nil {
		return 0, fmt.Errorf("mark %d repositories uncovered: %w", len(repoIDs), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mark %d repositories uncovered: %w", len(repoIDs), err)
	}
	return n, nil
}

// DeleteUncoveredPrivateRepositories removes at once those of repoIDs that
// are private and marked uncovered, with everything under them (ON DELETE
// CASCADE), in the caller's transaction: the retention of zero, applied by
// the delivery that ended the access. It returns how many it removed.
func DeleteUncoveredPrivateRepositories(ctx context.Context, exec boil.ContextExecutor, repoIDs []int64) (int64, error) {
	if len(repoIDs) == 0 {
		return 0, nil
	}
	res, err := exec.ExecContext(ctx, `
		DELETE FROM github_repository r
		WHERE r.id = ANY($1) AND r.uncovered_at IS NOT NULL AND r.private IS NOT FALSE`, repoIDs)
	if err != nil {
		return 0, fmt.Errorf("delete uncovered private repositories: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete uncovered private repositories: %w", err)
	}
	return n, nil
}

// purgeTables are a repository's children, biggest first, with the column
// naming the repository (each leads an index) and how many rows of limit a
// statement deletes: a pull request takes its files, reviews and comments
// with it, so fewer of them go at once.
var purgeTables = []struct {
	table, repoCol string
	divisor        int
}{
	{"github_pull_request", "base_repo_id", 10},
	{"github_issue", "repo_id", 1},
	{"github_issue_comment", "repo_id", 1},
	{"github_issue_label", "repo_id", 1},
	{"github_milestone", "repo_id", 1},
	{"github_user_repository_association", "repo_id", 1},
}

// DeleteRevokedPrivateRepositories removes the private repositories no
// installation has covered since before olderThan, and everything under
// them. The children go first, at most limit rows per statement (a tenth
// of it for pull requests), so that with exec a *sql.DB no statement holds
// its locks for long; each statement checks the repository is still
// revoked, so one covered again meanwhile keeps what is left (its new
// installation's backfill brings back the rest). It returns how many
// repositories it removed, and stops early when ctx ends.
func DeleteRevokedPrivateRepositories(ctx context.Context, exec boil.ContextExecutor, olderThan time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("purge revoked repositories: limit %d: %w", limit, ErrInvalid)
	}
	removed := 0
	for {
		ids, err := revokedPrivateRepositories(ctx, exec, olderThan, limit)
		if err != nil {
			return removed, err
		}
		if len(ids) == 0 {
			return removed, nil
		}
		for _, id := range ids {
			ok, err := purgeRepository(ctx, exec, id, olderThan, limit)
			if err != nil {
				return removed, err
			}
			if ok {
				removed++
			}
		}
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("purge revoked repositories: %w", err)
		}
	}
}

func revokedPrivateRepositories(ctx context.Context, exec boil.ContextExecutor, olderThan time.Time, limit int) ([]int64, error) {
	rows, err := exec.QueryContext(ctx, `SELECT r.id FROM github_repository r WHERE `+revokedPrivate+`
		ORDER BY r.uncovered_at, r.id LIMIT $1`, limit, olderThan)
	if err != nil {
		return nil, fmt.Errorf("list revoked private repositories: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list revoked private repositories: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked private repositories: %w", err)
	}
	return ids, nil
}

// purgeRepository deletes one revoked repository in batches; false when it
// was covered again (or is gone) before its row went.
func purgeRepository(ctx context.Context, exec boil.ContextExecutor, repoID int64, olderThan time.Time, limit int) (bool, error) {
	still := `EXISTS (SELECT 1 FROM github_repository r WHERE r.id = $1 AND ` + revokedPrivate + `)`
	for _, pt := range purgeTables {
		batch := max(1, limit/pt.divisor)
		// ctid: the rows found by the index on the repository column,
		// deleted by their physical address, whatever the table's key.
		q := `DELETE FROM ` + pt.table + ` WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM ` + pt.table + ` WHERE ` + pt.repoCol + ` = $1 LIMIT $3)) AND ` + still
		for {
			res, err := exec.ExecContext(ctx, q, repoID, olderThan, batch)
			if err != nil {
				return false, fmt.Errorf("purge %s of revoked repository %d: %w", pt.table, repoID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return false, fmt.Errorf("purge %s of revoked repository %d: %w", pt.table, repoID, err)
			}
			if n < int64(batch) {
				break
			}
		}
	}
	res, err := exec.ExecContext(ctx, `DELETE FROM github_repository r WHERE r.id = $1 AND `+revokedPrivate, repoID, olderThan)
	if err != nil {
		return false, fmt.Errorf("purge revoked repository %d: %w", repoID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("purge revoked repository %d: %w", repoID, err)
	}
	return n == 1, nil
}

// coverRepositories is the statement tail that clears uncovered_at of the
// repositories whose links the CTE "l" (an INSERT ... RETURNING repo_id)
// just made: an installation covers them again.
const coverRepositories = `
	UPDATE github_repository r SET uncovered_at = NULL
	FROM l WHERE r.id = l.repo_id AND r.uncovered_at IS NOT NULL`
