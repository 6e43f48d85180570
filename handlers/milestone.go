package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// Milestone handles a repository's milestones.
type Milestone struct{ Base }

func (h *Milestone) Handles() []string { return []string{"milestone"} }

func (h *Milestone) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.MilestoneEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Repo == nil || ev.Repo.ID == nil || ev.Milestone == nil || ev.Milestone.Number == nil {
		return invalid(d, "milestone event without repository or milestone")
	}
	repoID := ev.Repo.GetID()
	return h.deliver(ctx, d.around(ev.Repo, ev.Installation, ev.Sender), func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, ev.Repo, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		if ev.GetAction() == "deleted" {
			return process.Written, deleteAndBury(ctx, tx, process.KindMilestone, ev.Milestone.GetID(),
				func() error { return process.DeleteMilestone(ctx, tx, repoID, ev.Milestone.GetNumber()) })
		}
		return process.Milestone(ctx, tx, repoID, ev.Milestone, tx.meta)
	})
}
