package process_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// TestRefreshUserRepositoryPermissionLevel: the level a job fetches after
// a member event refreshes the recorded collaboration, and never brings
// back one that a member.removed deleted before the job ran.
func TestRefreshUserRepositoryPermissionLevel(t *testing.T) {
	ctx := context.Background()
	const userID = 9
	for _, c := range []struct {
		name string
		// recorded: the member event stored the collaboration; removed: a
		// member.removed deleted it afterwards.
		recorded, removed bool
		wantWritten       bool
		wantRole          string
	}{
		{name: "recorded collaboration gets its level", recorded: true, wantWritten: true, wantRole: "write"},
		{name: "removed collaboration stays removed", recorded: true, removed: true},
		{name: "never recorded is not created", recorded: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			repoID := storeRepo(t, exec, payload(t, "member", "added.payload.json").(*github.MemberEvent).Repo)
			if c.recorded {
				must(t, process.UserRepositoryCollaborator(ctx, exec, userID, repoID, webhook(t0)))
			}
			if c.removed {
				must(t, process.DeleteUserRepositoryAssociation(ctx, exec, userID, repoID, webhook(t0.Add(time.Second))))
			}
			written, err := process.RefreshUserRepositoryPermissionLevel(ctx, exec, userID, repoID, "write", api(t0.Add(time.Minute)))
			must(t, err)
			eq(t, "written", written, c.wantWritten)
			row, err := models.FindGithubUserRepositoryAssociation(ctx, exec, userID, repoID)
			if !c.wantWritten {
				if err == nil {
					t.Fatalf("association exists after a refresh of a collaboration that was not recorded: %+v", row)
				}
				return
			}
			must(t, err)
			eq(t, "role_name", row.RoleName.String, c.wantRole)
			eq(t, "can_push", row.CanPush, true)
		})
	}
}
