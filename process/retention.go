package process

import (
	"context"
	"fmt"
	"time"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// PruneTombstones removes at most batch tombstones recorded before before,
// oldest first, and reports how many it removed. A tombstone only guards
// against a late write of a deleted object; once no late delivery can come
// (GitHub's delivery log and our stored payloads are gone) it is dead
// weight. The caller loops until fewer than batch are removed, each call
// its own short statement.
//
// Hand-written: the models' DeleteAll cannot limit a delete, and SKIP
// LOCKED leaves a tombstone that a writer holds to the next batch or run.
func PruneTombstones(ctx context.Context, exec boil.ContextExecutor, before time.Time, batch int) (int64, error) {
	res, err := exec.ExecContext(ctx, `
		DELETE FROM github_tombstone WHERE (kind, id) IN (
			SELECT kind, id FROM github_tombstone WHERE deleted_at < $1
			ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, batch)
	if err != nil {
		return 0, fmt.Errorf("prune tombstones before %s: %w", before.Format(time.RFC3339), classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune tombstones before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// PruneUserRepositoryRemovals removes at most batch collaborator removals
// recorded before before, oldest first, and reports how many it removed. A
// removal only refuses a late member.added older than it; like a
// tombstone, it is dead weight once no such delivery can come.
//
// Hand-written for the same reasons as PruneTombstones.
func PruneUserRepositoryRemovals(ctx context.Context, exec boil.ContextExecutor, before time.Time, batch int) (int64, error) {
	res, err := exec.ExecContext(ctx, `
		DELETE FROM github_user_repository_removal WHERE (user_id, repo_id) IN (
			SELECT user_id, repo_id FROM github_user_repository_removal WHERE removed_at < $1
			ORDER BY removed_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, batch)
	if err != nil {
		return 0, fmt.Errorf("prune collaborator removals before %s: %w", before.Format(time.RFC3339), classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune collaborator removals before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}
