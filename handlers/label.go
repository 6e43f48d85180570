package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// Label handles a repository's labels. A rename keeps the label's id, so
// the upsert renames it in place and the issues carrying it follow.
type Label struct{ Base }

func (h *Label) Handles() []string { return []string{"label"} }

func (h *Label) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.LabelEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Repo == nil || ev.Repo.ID == nil || ev.Label == nil || ev.Label.Name == nil {
		return invalid(d, "label event without repository or label")
	}
	repoID := ev.Repo.GetID()
	return h.deliver(ctx, d.around(ev.Repo, ev.Installation, ev.Sender), func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, ev.Repo, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		if ev.GetAction() == "deleted" {
			// By name and by id: a rename not received yet leaves the
			// label stored under its old name.
			return process.Written, deleteAndBury(ctx, tx, process.KindLabel, ev.Label.GetID(),
				func() error { return process.DeletedLabel(ctx, tx, repoID, ev.Label) })
		}
		return process.Label(ctx, tx, repoID, ev.Label, tx.meta)
	})
}
