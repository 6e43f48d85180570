package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// InstallationRepositories handles repositories added to or removed from an
// installation; added ones are backfilled with their children.
type InstallationRepositories struct{ Base }

func (h *InstallationRepositories) Handles() []string { return []string{"installation_repositories"} }

func (h *InstallationRepositories) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.InstallationRepositoriesEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Installation == nil || ev.Installation.ID == nil {
		return invalid(d, "installation_repositories event without installation")
	}
	return h.deliver(ctx, d, func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, nil, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		id := ev.Installation.GetID()
		exists, err := process.InstallationStored(ctx, tx, id)
		if err != nil {
			return 0, err
		}
		if !exists {
			return 0, invalid(d, "installation %d is not stored and the payload does not describe it", id)
		}
		deleted, err := process.InstallationDeleted(ctx, tx, id)
		if err != nil {
			return 0, err
		}
		if deleted {
			// Sent before the uninstall, processed after it: nothing to
			// link or backfill.
			return process.Stale, nil
		}
		if err := process.InstallationRepositories(ctx, tx, id, ev.RepositoriesAdded, ev.RepositoriesRemoved, tx.meta); err != nil {
			return 0, err
		}
		removed := make([]int64, 0, len(ev.RepositoriesRemoved))
		for _, r := range ev.RepositoriesRemoved {
			removed = append(removed, r.GetID())
		}
		if err := h.purgeAtOnce(ctx, tx, removed); err != nil {
			return 0, err
		}
		for _, r := range ev.RepositoriesAdded {
			owner, name := ownerRepo(r)
			if err := tx.scan(ctx, jobs.ScanRequest{Kind: jobs.JobSyncRepository, InstallationID: id, Owner: owner, Repo: name, Children: true}, h.Scheduler); err != nil {
				return 0, err
			}
		}
		return process.Written, nil
	})
}

// purgeAtOnce applies a retention of zero: those of repoIDs that no live
// installation covers any more and are private are removed in the
// delivery's transaction. With a retention, the purge_revoked job removes
// them later.
func (b *Base) purgeAtOnce(ctx context.Context, tx *deliveryTx, repoIDs []int64) error {
	if b.RevokedRetention > 0 {
		return nil
	}
	n, err := process.DeleteUncoveredPrivateRepositories(ctx, tx, repoIDs)
	if err != nil {
		return err
	}
	if n > 0 {
		zerolog.Ctx(ctx).Info().Int64("repositories", n).Msg("access ended: removed the private repositories no installation covers")
	}
	return nil
}
