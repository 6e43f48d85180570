package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// IssueComment handles comments on issues and pull requests (GitHub sends
// a pull request's conversation comments as issue comments, with the pull
// request as the issue).
type IssueComment struct{ Base }

func (h *IssueComment) Handles() []string { return []string{"issue_comment"} }

func (h *IssueComment) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.IssueCommentEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Repo == nil || ev.Repo.ID == nil || ev.Comment == nil || ev.Comment.ID == nil || ev.Issue == nil {
		return invalid(d, "issue_comment event without repository, issue or comment")
	}
	repoID := ev.Repo.GetID()
	return h.deliver(ctx, d.around(ev.Repo, ev.Installation, ev.Sender), func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, ev.Repo, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		// The issue is carried in full; its staleness does not block the
		// comment.
		if ev.Issue.ID != nil {
			if _, err := process.Issue(ctx, tx, repoID, ev.Issue, tx.meta); err != nil {
				return 0, err
			}
			owner, name := ownerRepo(ev.Repo)
			if err := tx.refreshRecovered(ctx, h.Scheduler, jobs.ScanRequest{Kind: jobs.JobSyncIssue,
				InstallationID: ev.GetInstallation().GetID(), Owner: owner, Repo: name, Number: ev.Issue.GetNumber()}); err != nil {
				return 0, err
			}
		}
		if ev.GetAction() == "deleted" {
			return process.Written, deleteAndBury(ctx, tx, process.KindIssueComment, ev.Comment.GetID(),
				func() error { return process.DeleteIssueComment(ctx, tx, ev.Comment.GetID()) })
		}
		return process.IssueComment(ctx, tx, repoID, ev.Issue.GetNumber(), ev.Comment, tx.meta)
	})
}
