package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// Repository handles a repository created, edited, renamed, transferred,
// archived, unarchived, made private or public, or deleted.
type Repository struct{ Base }

func (h *Repository) Handles() []string { return []string{"repository"} }

func (h *Repository) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.RepositoryEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Repo == nil || ev.Repo.ID == nil {
		return invalid(d, "repository event without repository")
	}
	return h.deliver(ctx, d, func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		// The repository is the main object here, not part of the envelope.
		if err := h.storeEnvelope(ctx, tx, nil, nil, ev.Sender); err != nil {
			return 0, err
		}
		if ev.GetAction() == "deleted" {
			// Buried: a late delivery about it or its children (or a
			// backfill page still listing it) is stale, not a revival.
			return process.Written, deleteAndBury(ctx, tx, process.KindRepository, ev.Repo.GetID(),
				func() error { return process.DeleteRepository(ctx, tx, ev.Repo.GetID()) })
		}
		outcome, err := process.Repository(ctx, tx, ev.Repo, tx.meta)
		if err != nil {
			return 0, err
		}
		if err := linkInstallation(ctx, tx, ev.Installation, ev.Repo); err != nil {
			return 0, err
		}
		return outcome, nil
	})
}
