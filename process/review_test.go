package process_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// TestRepositoryOrganizationFromOwner: webhook payloads put the
// organization beside the repository, not in it, so an organization's
// repository written from a webhook (repository.created, any event of a
// repository not backfilled yet) must take its organization from its
// owner, or organization_id/login stay NULL.
func TestRepositoryOrganizationFromOwner(t *testing.T) {
	org := &github.Organization{ID: ptr(int64(77)), Login: ptr("explicit-org")}
	tests := []struct {
		name      string
		ownerType string
		org       *github.Organization
		wantID    int64
		wantLogin string
	}{
		{"organization owner, no organization key", "Organization", nil, 42, "acme"},
		{"user owner", "User", nil, 0, ""},
		{"organization given", "Organization", org, 77, "explicit-org"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			exec := tx(t)
			id := int64(1000 + i)
			r := payload(t, "repository", "created.payload.json").(*github.RepositoryEvent).Repo
			r.ID = ptr(id)
			r.Owner = &github.User{ID: ptr(int64(42)), Login: ptr("acme"), Type: ptr(tc.ownerType)}
			r.FullName = ptr("acme/" + r.GetName())
			r.Organization = tc.org
			mustOutcome(t, process.Written)(process.Repository(ctx, exec, r, webhook(t0)))
			row, err := models.FindGithubRepository(ctx, exec, id)
			must(t, err)
			if row.OrganizationID.Int64 != tc.wantID || row.OrganizationID.Valid != (tc.wantID != 0) {
				t.Errorf("organization_id %v, want %d", row.OrganizationID, tc.wantID)
			}
			if row.OrganizationLogin.String != tc.wantLogin || row.OrganizationLogin.Valid != (tc.wantLogin != "") {
				t.Errorf("organization_login %v, want %q", row.OrganizationLogin, tc.wantLogin)
			}
		})
	}
}

func TestInstallationDeleted(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		store, del bool
		want       bool
	}{
		{name: "absent", want: false},
		{name: "live", store: true, want: false},
		{name: "deleted", store: true, del: true, want: true},
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
			got, err := process.InstallationDeleted(ctx, exec, in.GetID())
			must(t, err)
			eq(t, "deleted", got, c.want)
		})
	}
}
