package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// Member handles collaborators added to, changed on or removed from a
// repository: github_user_repository_association.
type Member struct{ Base }

func (h *Member) Handles() []string { return []string{"member"} }

type memberPayload struct {
	github.MemberEvent
	Changes *struct {
		Permission *struct {
			From string `json:"from"`
			To   string `json:"to"`
		} `json:"permission,omitempty"`
		RoleName *struct {
			To string `json:"to"`
		} `json:"role_name,omitempty"`
	} `json:"changes,omitempty"`
}

// newLevel is the permission level the payload grants, "" when it does not
// say (GitHub's examples of member.added carry no changes, and edited ones
// only the old_permission).
func (p *memberPayload) newLevel() string {
	if p.Changes == nil {
		return ""
	}
	// An organization's custom role names are not levels process knows.
	if p.Changes.Permission != nil && process.IsPermissionLevel(p.Changes.Permission.To) {
		return p.Changes.Permission.To
	}
	if p.Changes.RoleName != nil && process.IsPermissionLevel(p.Changes.RoleName.To) {
		return p.Changes.RoleName.To
	}
	return ""
}

func (h *Member) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[memberPayload](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Repo == nil || ev.Repo.ID == nil || ev.Member == nil || ev.Member.ID == nil || ev.Member.Login == nil {
		return invalid(d, "member event without repository or member")
	}
	repoID, userID := ev.Repo.GetID(), ev.Member.GetID()
	owner, name := ownerRepo(ev.Repo)
	installationID := ev.GetInstallation().GetID()
	level, levelMeta := ev.newLevel(), process.Meta{}
	queueLevel := false
	if ev.GetAction() != "removed" && level == "" && !h.alreadyStored(ctx, d) {
		// Ask GitHub, before the transaction opens, within the inline
		// budget; without an answer the collaboration is recorded, its
		// level left as it was, and a job fetches the level afterwards.
		var err error
		level, levelMeta, err = h.fetchLevel(ctx, installationID, owner, name, ev.Member.GetLogin())
		if err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("login", ev.Member.GetLogin()).Msg("fetch collaborator permission failed or ran out of time; queueing it")
			level, queueLevel = "", installationID != 0
		}
	}
	return h.deliver(ctx, d.around(ev.Repo, ev.Installation, ev.Sender), func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, ev.Repo, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		if _, err := process.User(ctx, tx, ev.Member, tx.meta); err != nil {
			return 0, err
		}
		// Collaborations have no updated_at: the delivery's own time (when
		// GitHub first sent it) orders an added against a removed. Two
		// deliveries of one collaboration take turns, or neither would
		// see the other's uncommitted write and both could win.
		if err := process.LockCollaboration(ctx, tx, userID, repoID); err != nil {
			return 0, err
		}
		if ev.GetAction() == "removed" {
			return process.Written, process.DeleteUserRepositoryAssociation(ctx, tx, userID, repoID, tx.meta)
		}
		// A delivery older than a stored removal is stale as a whole, even
		// with a level fetched from GitHub just now: a late added must not
		// bring back a collaborator removed after it.
		removed, err := process.UserRepositoryRemovedSince(ctx, tx, userID, repoID, tx.meta.FetchedAt)
		if err != nil {
			return 0, err
		}
		if removed {
			return process.Stale, nil
		}
		switch {
		case level != "" && levelMeta.Via != 0:
			return process.Written, process.UserRepositoryPermissionLevel(ctx, tx, userID, repoID, level, levelMeta)
		case level != "":
			return process.Written, process.UserRepositoryPermissionLevel(ctx, tx, userID, repoID, level, tx.meta)
		}
		// The level is unknown: record the collaborator, keeping any
		// stored level.
		if err := process.UserRepositoryCollaborator(ctx, tx, userID, repoID, tx.meta); err != nil {
			return 0, err
		}
		if queueLevel {
			// In the delivery's transaction (the outbox): the refresh is
			// never lost, even if Redis or this process goes away.
			if err := tx.scan(ctx, jobs.ScanRequest{Kind: jobs.JobSyncCollaboratorPermission,
				InstallationID: installationID, Owner: owner, Repo: name, Name: ev.Member.GetLogin()}, h.Scheduler); err != nil {
				return 0, err
			}
		}
		return process.Written, nil
	})
}

// fetchLevel asks GitHub for a collaborator's permission on a repository
// with the installation's token. The role name tells maintain and triage
// apart, when it is one of GitHub's own.
func (h *Member) fetchLevel(ctx context.Context, installationID int64, owner, repo, login string) (string, process.Meta, error) {
	if installationID == 0 || h.GitHub == nil {
		return "", process.Meta{}, fmt.Errorf("permission of %s on %s/%s: no installation client", login, owner, repo)
	}
	client, err := h.GitHub.NewInstallationClient(installationID)
	if err != nil {
		return "", process.Meta{}, fmt.Errorf("client for installation %d: %w", installationID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, inlineGitHubBudget)
	defer cancel()
	req, err := client.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/collaborators/%s/permission",
		url.PathEscape(owner), url.PathEscape(repo), url.PathEscape(login)), nil)
	if err != nil {
		return "", process.Meta{}, fmt.Errorf("permission of %s on %s/%s: %w", login, owner, repo, err)
	}
	var out struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
	}
	if _, err := client.Do(ctx, req, &out); err != nil {
		return "", process.Meta{}, fmt.Errorf("permission of %s on %s/%s: %w", login, owner, repo, err)
	}
	meta := process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()}
	switch {
	case process.IsPermissionLevel(out.RoleName):
		return out.RoleName, meta, nil
	case process.IsPermissionLevel(out.Permission):
		return out.Permission, meta, nil
	}
	return "", process.Meta{}, fmt.Errorf("permission of %s on %s/%s: unknown level %q", login, owner, repo, out.Permission)
}
