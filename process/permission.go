package process

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Permissions (github_user_repository_association) have no updated_at: the
// data fetched at least as late as the stored replication wins, unless the
// collaborator was removed at or after that time
// (github_user_repository_removal, by the removed delivery's time): then
// the write is stale.

// notRemovedSince is the condition, over parameters $1 user, $2 repo and
// the given time parameter, that no removal at or after that time is stored.
// A removal and an addition at the same instant end removed, in either order.
func notRemovedSince(at string) string {
	return `NOT EXISTS (SELECT 1 FROM github_user_repository_removal r
		WHERE r.user_id = $1 AND r.repo_id = $2 AND r.removed_at >= ` + at + `)`
}

// UserRepositoryPermission records what a user may do in a stored
// repository, from GitHub's permissions object (keys pull, triage, push,
// maintain, admin, as in the collaborators API).
func UserRepositoryPermission(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, perms map[string]bool, m Meta) error {
	return writePermission(ctx, exec, userID, repoID, perms, nil, m)
}

// levelRank places GitHub's permission level names on the ladder of
// the association's can_* columns (0: none of them).
var levelRank = map[string]int{"none": 0, "read": 1, "pull": 1, "triage": 2, "write": 3, "push": 3, "maintain": 4, "admin": 5}

// IsPermissionLevel reports whether level is one of GitHub's own permission
// level names, which UserRepositoryPermissionLevel accepts. An
// organization's custom role names are not.
func IsPermissionLevel(level string) bool {
	_, ok := levelRank[level]
	return ok
}

// UserRepositoryPermissionLevel records a permission level name as GitHub
// sends it in member events and the collaborator permission API ("admin",
// "maintain", "write", "triage", "read", "none"); the name is kept as
// role_name. Unknown levels are ErrInvalid.
func UserRepositoryPermissionLevel(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, level string, m Meta) error {
	ladder := []string{"pull", "triage", "push", "maintain", "admin"}
	n, ok := levelRank[level]
	if !ok {
		return fmt.Errorf("permission level %q of user %d on repo %d: %w", level, userID, repoID, ErrInvalid)
	}
	perms := make(map[string]bool, len(ladder))
	for i, p := range ladder {
		perms[p] = i < n
	}
	return writePermission(ctx, exec, userID, repoID, perms, level, m)
}

// writePermission upserts one association, by hand rather than with
// upsert's spec (guardFetched): a VALUES row cannot be filtered, and the removal
// must be checked in the same statement (one round trip, and no window
// between the check and the write). The parameters are cast because an
// INSERT ... SELECT does not infer their types from the target columns.
func writePermission(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, perms map[string]bool, role any, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	via, _ := viaColumn(m)
	q := `INSERT INTO github_user_repository_association AS t (user_id, repo_id, can_pull, can_triage,
		can_push, can_maintain, can_admin, role_name, ` + via + `)
	SELECT $1::bigint, $2::bigint, $3::boolean, $4::boolean, $5::boolean, $6::boolean, $7::boolean, $8::text, $9::timestamptz
	WHERE ` + notRemovedSince("$9") + `
	ON CONFLICT (user_id, repo_id) DO UPDATE SET can_pull = EXCLUDED.can_pull, can_triage = EXCLUDED.can_triage,
		can_push = EXCLUDED.can_push, can_maintain = EXCLUDED.can_maintain, can_admin = EXCLUDED.can_admin,
		role_name = COALESCE(EXCLUDED.role_name, t.role_name), ` + via + ` = EXCLUDED.` + via + `
	WHERE t.last_replicated_at IS NULL OR t.last_replicated_at <= EXCLUDED.` + via
	_, err := exec.ExecContext(ctx, q, userID, repoID, perms["pull"], perms["triage"], perms["push"], perms["maintain"],
		perms["admin"], role, m.FetchedAt)
	if err != nil {
		return fmt.Errorf("upsert permission of user %d on repo %d: %w", userID, repoID, missingRepo(classify(err), repoID))
	}
	return nil
}

// UserRepositoryCollaborator records that a user collaborates on a stored
// repository when the data does not say with what permission (a member
// event without its level): a stored permission is kept, a new one starts
// as read, the least a collaborator has. Only the replication stamp moves.
// A removal at or after m.FetchedAt makes it write nothing.
func UserRepositoryCollaborator(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	via, _ := viaColumn(m)
	q := `INSERT INTO github_user_repository_association AS t (user_id, repo_id, can_pull, ` + via + `)
		SELECT $1::bigint, $2::bigint, true, $3::timestamptz
		WHERE ` + notRemovedSince("$3") + `
		ON CONFLICT (user_id, repo_id) DO UPDATE SET
		` + via + ` = GREATEST(t.` + via + `, EXCLUDED.` + via + `)`
	if _, err := exec.ExecContext(ctx, q, userID, repoID, m.FetchedAt); err != nil {
		return fmt.Errorf("record user %d on repo %d: %w", userID, repoID, missingRepo(classify(err), repoID))
	}
	return nil
}

// DeleteUserRepositoryAssociation records a user's removal from a repository
// (member removed) as of m.FetchedAt, the removed delivery's time. The
// removal is kept (the latest one per user and repository), so a late added
// older than it writes nothing; an association stored from data later than
// the removal (a newer added already written) is not deleted. One
// statement: the removal and the delete see the same snapshot.
//
// The removal row stays after a newer added: comparing times suffices, and
// it keeps refusing deliveries older than it even if the association is
// later deleted another way.
func DeleteUserRepositoryAssociation(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	q := `WITH removal AS (
		INSERT INTO github_user_repository_removal AS r (user_id, repo_id, removed_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, repo_id) DO UPDATE SET removed_at = GREATEST(r.removed_at, EXCLUDED.removed_at)
	)
	DELETE FROM github_user_repository_association
	WHERE user_id = $1 AND repo_id = $2 AND (last_replicated_at IS NULL OR last_replicated_at <= $3)`
	if _, err := exec.ExecContext(ctx, q, userID, repoID, m.FetchedAt); err != nil {
		return fmt.Errorf("delete permission of user %d on repo %d: %w", userID, repoID, err)
	}
	return nil
}

// LockCollaboration makes the rest of the transaction the only writer of
// the user's collaboration on the repository until it ends. A member.added
// and a member.removed committing at once would otherwise each check the
// other's row before it is visible, and the older could win. The
// statements after it take a new snapshot, so they see what the previous
// holder committed.
func LockCollaboration(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64) error {
	if _, err := exec.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('collaboration:' || $1::bigint || ':' || $2::bigint, 0))`,
		userID, repoID); err != nil {
		return fmt.Errorf("lock collaboration of user %d on repo %d: %w", userID, repoID, err)
	}
	return nil
}

// UserRepositoryRemovedSince reports whether the user's removal from the
// repository is stored at or after at: data as of at is then stale.
func UserRepositoryRemovedSince(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, at time.Time) (bool, error) {
	var removed bool
	q := `SELECT EXISTS (SELECT 1 FROM github_user_repository_removal
		WHERE user_id = $1 AND repo_id = $2 AND removed_at >= $3)`
	if err := exec.QueryRowContext(ctx, q, userID, repoID, at).Scan(&removed); err != nil {
		return false, fmt.Errorf("look up removal of user %d from repo %d: %w", userID, repoID, err)
	}
	return removed, nil
}

// RefreshUserRepositoryPermissionLevel writes a permission level fetched
// from GitHub after the event that recorded the collaboration, and only
// while that collaboration is still recorded: it never brings back one a
// member.removed deleted meanwhile. It reports whether it wrote.
func RefreshUserRepositoryPermissionLevel(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, level string, m Meta) (bool, error) {
	// Locks the association for the rest of the transaction, so a
	// concurrent member.removed waits for the refresh, then deletes.
	var one int
	err := exec.QueryRowContext(ctx, `SELECT 1 FROM github_user_repository_association
		WHERE user_id = $1 AND repo_id = $2 FOR UPDATE`, userID, repoID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock permission of user %d on repo %d: %w", userID, repoID, err)
	}
	if err := UserRepositoryPermissionLevel(ctx, exec, userID, repoID, level, m); err != nil {
		return false, err
	}
	return true, nil
}
