package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// PullRequestReviewComment handles comments on a pull request's diff.
type PullRequestReviewComment struct{ Base }

func (h *PullRequestReviewComment) Handles() []string { return []string{"pull_request_review_comment"} }

func (h *PullRequestReviewComment) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.PullRequestReviewCommentEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Repo == nil || ev.Repo.ID == nil || ev.PullRequest == nil || ev.PullRequest.ID == nil || ev.Comment == nil || ev.Comment.ID == nil {
		return invalid(d, "pull_request_review_comment event without repository, pull request or comment")
	}
	return h.deliver(ctx, d.around(ev.Repo, ev.Installation, ev.Sender), func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, ev.Repo, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		if _, err := process.PullRequest(ctx, tx, ev.PullRequest, tx.meta); err != nil {
			return 0, err
		}
		if ev.GetAction() == "deleted" {
			return process.Written, deleteAndBury(ctx, tx, process.KindReviewComment, ev.Comment.GetID(),
				func() error { return process.DeletePullRequestReviewComment(ctx, tx, ev.Comment.GetID()) })
		}
		outcome, err := process.PullRequestReviewComment(ctx, tx, ev.PullRequest.GetID(), ev.Comment, tx.meta)
		if err != nil {
			return 0, err
		}
		// A lone comment opens a review of its own, which may arrive in
		// no webhook we receive: fetch the reviews when it is unknown.
		if reviewID := ev.Comment.GetPullRequestReviewID(); reviewID != 0 {
			known, err := process.PullRequestReviewStored(ctx, tx, reviewID)
			if err != nil {
				return 0, err
			}
			if !known {
				owner, name := ownerRepo(ev.Repo)
				if err := tx.scan(ctx, jobs.ScanRequest{
					Kind:           jobs.CollectionPullRequestReviews,
					InstallationID: ev.GetInstallation().GetID(),
					Owner:          owner,
					Repo:           name,
					Number:         ev.PullRequest.GetNumber(),
				}, h.Scheduler); err != nil {
					return 0, err
				}
			}
		}
		return outcome, nil
	})
}
