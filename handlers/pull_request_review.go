package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// PullRequestReview handles reviews submitted, edited or dismissed.
type PullRequestReview struct{ Base }

func (h *PullRequestReview) Handles() []string { return []string{"pull_request_review"} }

func (h *PullRequestReview) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.PullRequestReviewEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Repo == nil || ev.Repo.ID == nil || ev.PullRequest == nil || ev.PullRequest.ID == nil || ev.Review == nil || ev.Review.ID == nil {
		return invalid(d, "pull_request_review event without repository, pull request or review")
	}
	return h.deliver(ctx, d.around(ev.Repo, ev.Installation, ev.Sender), func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, ev.Repo, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		// The pull request is the parent; its staleness does not block the review.
		if _, err := process.PullRequest(ctx, tx, ev.PullRequest, tx.meta); err != nil {
			return 0, err
		}
		// process upper-cases the state ("approved" here, "APPROVED" from
		// the API).
		return process.PullRequestReview(ctx, tx, ev.PullRequest.GetID(), ev.Review, tx.meta)
	})
}
