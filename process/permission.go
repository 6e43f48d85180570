package process

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Permissions have no updated_at: the data fetched at least as late as the
// stored replication wins.
var permissionSpec = &spec{
	table:     "github_user_repository_association",
	conflict:  "user_id, repo_id",
	guard:     guardFetched,
	returning: "user_id::text",
	cols: cols("user_id!", "repo_id!", "can_pull", "can_triage", "can_push", "can_maintain",
		"can_admin", "role_name~"),
}

// UserRepositoryPermission records what a user may do in a stored
// repository, from GitHub's permissions object (keys pull, triage, push,
// maintain, admin, as in the collaborators API).
func UserRepositoryPermission(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, perms map[string]bool, m Meta) error {
	return writePermission(ctx, exec, userID, repoID, perms, nil, m)
}

// levelRank places GitHub's permission level names on the ladder of
// permissionSpec's can_* columns (0: none of them).
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

func writePermission(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, perms map[string]bool, role any, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	r := row{
		key: strconv.FormatInt(userID, 10),
		vals: []any{userID, repoID, perms["pull"], perms["triage"], perms["push"], perms["maintain"],
			perms["admin"], role},
	}
	if _, err := upsert(ctx, exec, permissionSpec, m, []row{r}); err != nil {
		return fmt.Errorf("upsert permission of user %d on repo %d: %w", userID, repoID, missingRepo(err, repoID))
	}
	return nil
}

// UserRepositoryCollaborator records that a user collaborates on a stored
// repository when the data does not say with what permission (a member
// event without its level): a stored permission is kept, a new one starts
// as read, the least a collaborator has. Only the replication stamp moves.
func UserRepositoryCollaborator(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64, m Meta) error {
	if err := checkMeta(m); err != nil {
		return err
	}
	via, _ := viaColumn(m)
	q := `INSERT INTO github_user_repository_association (user_id, repo_id, can_pull, ` + via + `)
		VALUES ($1, $2, true, $3)
		ON CONFLICT (user_id, repo_id) DO UPDATE SET
		` + via + ` = GREATEST(github_user_repository_association.` + via + `, EXCLUDED.` + via + `)`
	if _, err := exec.ExecContext(ctx, q, userID, repoID, m.FetchedAt); err != nil {
		return fmt.Errorf("record user %d on repo %d: %w", userID, repoID, err)
	}
	return nil
}

// DeleteUserRepositoryAssociation removes a user's access to a repository
// (member removed).
func DeleteUserRepositoryAssociation(ctx context.Context, exec boil.ContextExecutor, userID, repoID int64) error {
	q := `DELETE FROM github_user_repository_association WHERE user_id = $1 AND repo_id = $2`
	if _, err := exec.ExecContext(ctx, q, userID, repoID); err != nil {
		return fmt.Errorf("delete permission of user %d on repo %d: %w", userID, repoID, err)
	}
	return nil
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
