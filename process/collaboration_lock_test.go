package process_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// TestCollaborationLockOrdersConcurrentDeliveries: an older member.added
// and a newer member.removed in two transactions at once. Without the
// lock, neither sees the other's uncommitted row and the association
// stays although the removal is newer; with it, the removal (which waits
// for the added to commit) deletes it.
func TestCollaborationLockOrdersConcurrentDeliveries(t *testing.T) {
	ctx := context.Background()
	setup := tx(t)
	ev := payload(t, "member", "added.payload.json").(*github.MemberEvent)
	repoID, userID := storeRepo(t, setup, ev.Repo), ev.Member.GetID()
	must(t, setup.Commit())
	t.Cleanup(func() {
		_, _ = env.DB.Exec(`DELETE FROM github_repository WHERE id = $1`, repoID)
		_, _ = env.DB.Exec(`DELETE FROM github_user_repository_removal WHERE repo_id = $1`, repoID)
	})
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)

	added, err := env.DB.BeginTx(ctx, nil)
	must(t, err)
	defer added.Rollback()
	must(t, process.LockCollaboration(ctx, added, userID, repoID))
	must(t, process.UserRepositoryPermissionLevel(ctx, added, userID, repoID, "write", webhook(t1)))

	removedDone := make(chan error, 1)
	go func() {
		removed, err := env.DB.BeginTx(ctx, nil)
		if err != nil {
			removedDone <- err
			return
		}
		defer removed.Rollback()
		if err := process.LockCollaboration(ctx, removed, userID, repoID); err != nil {
			removedDone <- err
			return
		}
		if err := process.DeleteUserRepositoryAssociation(ctx, removed, userID, repoID, webhook(t2)); err != nil {
			removedDone <- err
			return
		}
		removedDone <- removed.Commit()
	}()
	// The removal waits for the lock: it has not finished while the added
	// is open. (Wait until PostgreSQL shows it waiting, not for a time.)
	waitForLockWaiter(t)
	select {
	case err := <-removedDone:
		t.Fatalf("the removal finished (%v) while the added held the lock", err)
	default:
	}
	must(t, added.Commit())
	must(t, <-removedDone)
	if n := count(t, env.DB, `SELECT count(*) FROM github_user_repository_association WHERE user_id = $1 AND repo_id = $2`, userID, repoID); n != 0 {
		t.Fatalf("association still stored after the newer removal: %d rows", n)
	}
}

// waitForLockWaiter waits until a backend of this database waits on an
// advisory lock.
func waitForLockWaiter(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		must(t, env.DB.QueryRow(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&n))
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no transaction waits on the collaboration lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
