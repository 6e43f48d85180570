package process_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// Tests of the writes the webhook handlers used to do with their own SQL:
// each function is exercised on the real database with real payloads.

func installationEvent(t testing.TB, file string) *github.InstallationEvent {
	return payload(t, "installation", file).(*github.InstallationEvent)
}

// otherRepo is a copy of r under another id and name: a second repository
// without a second fixture.
func otherRepo(r *github.Repository, id int64) *github.Repository {
	o := *r
	o.ID = ptr(id)
	o.NodeID = ptr("other-node")
	o.Name = ptr("other")
	o.FullName = ptr(r.GetOwner().GetLogin() + "/other")
	return &o
}

func TestLinkInstallationRepository(t *testing.T) {
	ctx := context.Background()
	const missingRepoID = 424242
	for _, c := range []struct {
		name string
		// installation: "stored", "deleted" or "absent"
		installation string
		repoStored   bool
		links        int // calls
		wantLinked   bool
	}{
		{name: "stored installation and repository", installation: "stored", repoStored: true, links: 1, wantLinked: true},
		{name: "linked twice is linked once", installation: "stored", repoStored: true, links: 2, wantLinked: true},
		{name: "deleted installation is left alone", installation: "deleted", repoStored: true, links: 1},
		{name: "unknown installation is left alone", installation: "absent", repoStored: true, links: 1},
		// Installations list repositories before they are loaded.
		{name: "unstored repository is linked", installation: "stored", repoStored: false, links: 1, wantLinked: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			in := installationEvent(t, "created.payload.json").Installation
			switch c.installation {
			case "stored", "deleted":
				mustOutcome(t, process.Written)(process.Installation(ctx, exec, in, webhook(t0)))
			}
			if c.installation == "deleted" {
				must(t, process.DeleteInstallation(ctx, exec, in.GetID(), webhook(t0)))
			}
			repoID := int64(missingRepoID)
			if c.repoStored {
				repoID = storeRepo(t, exec, issuesEvent(t, "opened.payload.json").Repo)
			}
			for range c.links {
				must(t, process.LinkInstallationRepository(ctx, exec, in.GetID(), repoID))
			}
			want := 0
			if c.wantLinked {
				want = 1
			}
			eq(t, "links", count(t, exec, `SELECT count(*) FROM github_installation_repository WHERE installation_id = $1 AND repo_id = $2`, in.GetID(), repoID), want)
		})
	}
}

func TestInstallationStored(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name        string
		store, del  bool
		lookUpOther bool
		wantStored  bool
	}{
		{name: "absent", wantStored: false},
		{name: "stored", store: true, wantStored: true},
		{name: "deleted keeps its row", store: true, del: true, wantStored: true},
		{name: "another id", store: true, lookUpOther: true, wantStored: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			in := installationEvent(t, "created.payload.json").Installation
			if c.store {
				mustOutcome(t, process.Written)(process.Installation(ctx, exec, in, webhook(t0)))
			}
			if c.del {
				must(t, process.DeleteInstallation(ctx, exec, in.GetID(), webhook(t0)))
			}
			id := in.GetID()
			if c.lookUpOther {
				id++
			}
			got, err := process.InstallationStored(ctx, exec, id)
			must(t, err)
			eq(t, "stored", got, c.wantStored)
		})
	}
}

func TestInstallationSuspendEvents(t *testing.T) {
	ctx := context.Background()
	at := t0.Add(time.Hour)
	for _, c := range []struct {
		name    string
		suspend bool   // a suspend event, else unsuspend
		before  string // payload of the installation as stored before
		// payloadSuspended: the event's payload carries suspended_at and
		// suspended_by (those of suspend.payload.json), else neither.
		payloadSuspended bool
		wantSuspended    bool
		wantAt           *time.Time // suspended_at, when not the payload's
		wantBy           string
	}{
		{name: "suspend keeps the payload's suspended_at", suspend: true, before: "unsuspend.payload.json", payloadSuspended: true, wantSuspended: true, wantBy: "Codertocat"},
		{name: "suspend without suspended_at is dated by the event", suspend: true, before: "unsuspend.payload.json", wantSuspended: true, wantAt: &at, wantBy: "admin"},
		{name: "unsuspend clears the suspension", before: "suspend.payload.json"},
		{name: "unsuspend whose payload still describes a suspension clears it", before: "suspend.payload.json", payloadSuspended: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			before := installationEvent(t, c.before).Installation
			mustOutcome(t, process.Written)(process.Installation(ctx, exec, before, webhook(t0)))
			file := "unsuspend.payload.json"
			if c.suspend {
				file = "suspend.payload.json"
			}
			in := installationEvent(t, file).Installation
			in.SuspendedAt, in.SuspendedBy = nil, nil
			if c.payloadSuspended {
				sus := installationEvent(t, "suspend.payload.json").Installation
				in.SuspendedAt, in.SuspendedBy = sus.SuspendedAt, sus.SuspendedBy
			}
			in.UpdatedAt = stamp(before.GetUpdatedAt().Add(time.Minute))
			m := webhook(at)
			mustOutcome(t, process.Written)(process.Installation(ctx, exec, in, m))
			var err error
			if c.suspend {
				err = process.InstallationSuspendEvent(ctx, exec, in, "admin", m)
			} else {
				err = process.InstallationUnsuspendEvent(ctx, exec, in, m)
			}
			must(t, err)
			row, err := models.FindGithubInstallation(ctx, exec, in.GetID())
			must(t, err)
			eq(t, "suspended", row.SuspendedAt.Valid, c.wantSuspended)
			if !c.wantSuspended {
				eq(t, "suspended_by_login set", row.SuspendedByLogin.Valid, false)
				return
			}
			want := in.GetSuspendedAt().Time
			if c.wantAt != nil {
				want = *c.wantAt
			}
			eq(t, "suspended_at", row.SuspendedAt.Time.Equal(want), true)
			eq(t, "suspended_by_login", row.SuspendedByLogin.String, c.wantBy)
		})
	}
	t.Run("installation without id is invalid", func(t *testing.T) {
		exec := tx(t)
		isErr(t, process.InstallationSuspendEvent(ctx, exec, &github.Installation{}, "", webhook(t0)), process.ErrInvalid)
		isErr(t, process.InstallationUnsuspendEvent(ctx, exec, nil, webhook(t0)), process.ErrInvalid)
	})
}

func TestIsPermissionLevel(t *testing.T) {
	for _, c := range []struct {
		level string
		want  bool
	}{
		{"admin", true}, {"maintain", true}, {"write", true}, {"push", true}, {"triage", true},
		{"read", true}, {"pull", true}, {"none", true},
		{"", false}, {"owner", false}, {"Admin", false}, {"security-manager", false},
	} {
		eq(t, "IsPermissionLevel("+c.level+")", process.IsPermissionLevel(c.level), c.want)
	}
}

func TestUserRepositoryCollaborator(t *testing.T) {
	ctx := context.Background()
	const userID = 9
	for _, c := range []struct {
		name string
		// stored is the level written before, "" for none.
		stored                   string
		m                        process.Meta
		wantPull, wantPush       bool
		wantAdmin                bool
		wantRole                 string
		wantWebhookAt, wantAPIAt *time.Time
	}{
		{
			name: "new collaborator starts as read", m: webhook(t0.Add(time.Minute)),
			wantPull: true, wantWebhookAt: ptr(t0.Add(time.Minute)),
		},
		{
			name: "stored level is kept", stored: "admin", m: webhook(t0.Add(time.Minute)),
			wantPull: true, wantPush: true, wantAdmin: true, wantRole: "admin",
			wantWebhookAt: ptr(t0.Add(time.Minute)),
		},
		{
			name: "an older delivery does not move the stamp back", stored: "write", m: webhook(t0.Add(-time.Hour)),
			wantPull: true, wantPush: true, wantRole: "write", wantWebhookAt: ptr(t0),
		},
		{
			name: "from the API it stamps the API column", m: api(t0),
			wantPull: true, wantAPIAt: ptr(t0),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			repoID := storeRepo(t, exec, payload(t, "member", "added.payload.json").(*github.MemberEvent).Repo)
			if c.stored != "" {
				must(t, process.UserRepositoryPermissionLevel(ctx, exec, userID, repoID, c.stored, webhook(t0)))
			}
			must(t, process.UserRepositoryCollaborator(ctx, exec, userID, repoID, c.m))
			row, err := models.FindGithubUserRepositoryAssociation(ctx, exec, userID, repoID)
			must(t, err)
			eq(t, "can_pull", row.CanPull, c.wantPull)
			eq(t, "can_push", row.CanPush, c.wantPush)
			eq(t, "can_admin", row.CanAdmin, c.wantAdmin)
			eq(t, "role_name", row.RoleName.String, c.wantRole)
			eqTime(t, "last_replicated_via_webhook_at", row.LastReplicatedViaWebhookAt, tsp(c.wantWebhookAt))
			eqTime(t, "last_replicated_via_api_at", row.LastReplicatedViaAPIAt, tsp(c.wantAPIAt))
		})
	}
	t.Run("meta without via is invalid", func(t *testing.T) {
		exec := tx(t)
		err := process.UserRepositoryCollaborator(ctx, exec, userID, 1, process.Meta{FetchedAt: t0})
		isErr(t, err, process.ErrInvalid)
	})
	t.Run("unstored repository fails", func(t *testing.T) {
		exec := tx(t)
		if err := process.UserRepositoryCollaborator(ctx, exec, userID, 424242, webhook(t0)); err == nil {
			t.Fatal("recorded a collaborator of an unstored repository")
		}
	})
}
