package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// Issues handles every action on an issue. The issue object in the payload
// is complete (labels, assignees, milestone), so most actions are one
// upsert; deleted and transferred remove it from this repository.
type Issues struct{ Base }

func (h *Issues) Handles() []string { return []string{"issues"} }

type issuesPayload struct {
	github.IssuesEvent
	// Shadows IssuesEvent.Changes: v60 lacks the transfer fields.
	Changes *payloadChanges `json:"changes,omitempty"`
}

func (h *Issues) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[issuesPayload](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Repo == nil || ev.Repo.ID == nil || ev.Issue == nil || ev.Issue.ID == nil {
		return invalid(d, "issues event without repository or issue")
	}
	repoID := ev.Repo.GetID()
	return h.deliver(ctx, d.around(ev.Repo, ev.Installation, ev.Sender), func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, ev.Repo, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		switch ev.GetAction() {
		case "deleted":
			return process.Written, deleteAndBury(ctx, tx, process.KindIssue, ev.Issue.GetID(),
				func() error { return process.DeleteIssue(ctx, tx, ev.Issue.GetID()) })
		case "transferred":
			// The issue now lives in another repository under a new id (it
			// also arrives as "opened" there); its comments went with it.
			tr := process.IssueTransfer{OldIssueID: ev.Issue.GetID(), OldRepoID: repoID, OldNumber: ev.Issue.GetNumber()}
			if c := ev.Changes; c != nil && c.NewIssue != nil && c.NewIssue.ID != nil && c.NewRepository != nil && c.NewRepository.ID != nil {
				if _, err := process.Repository(ctx, tx, c.NewRepository, tx.meta); err != nil {
					return 0, err
				}
				if _, err := process.Issue(ctx, tx, c.NewRepository.GetID(), c.NewIssue, tx.meta); err != nil {
					return 0, err
				}
				tr.NewRepoID, tr.NewNumber = c.NewRepository.GetID(), c.NewIssue.GetNumber()
			}
			// The old id is gone for good: a late update of it is stale.
			return process.Written, deleteAndBury(ctx, tx, process.KindIssue, tr.OldIssueID,
				func() error { return process.TransferIssue(ctx, tx, tr) })
		}
		// The event's label is not written: it is the label as it was
		// when the event was sent, and a late delivery would undo a rename
		// (label.edited is the authority). The labels nested in the object
		// are inserted when unknown.
		if ev.Milestone != nil && ev.Milestone.Number != nil {
			if _, err := process.Milestone(ctx, tx, repoID, ev.Milestone, tx.meta); err != nil {
				return 0, err
			}
		}
		outcome, err := process.Issue(ctx, tx, repoID, ev.Issue, tx.meta)
		if err != nil {
			return 0, err
		}
		owner, name := ownerRepo(ev.Repo)
		if err := tx.refreshRecovered(ctx, h.Scheduler, jobs.ScanRequest{Kind: jobs.JobSyncIssue,
			InstallationID: ev.GetInstallation().GetID(), Owner: owner, Repo: name, Number: ev.Issue.GetNumber()}); err != nil {
			return 0, err
		}
		if c := ev.Changes; c != nil && c.OldIssue != nil && c.OldIssue.ID != nil && c.OldIssue.GetID() != ev.Issue.GetID() {
			// Opened by a transfer (possibly before the old repository's
			// "transferred" arrives): the comments follow the issue and
			// the old copy is gone.
			tr := process.IssueTransfer{
				OldIssueID: c.OldIssue.GetID(), OldRepoID: c.OldRepository.GetID(), OldNumber: c.OldIssue.GetNumber(),
				NewRepoID: repoID, NewNumber: ev.Issue.GetNumber(),
			}
			if err := deleteAndBury(ctx, tx, process.KindIssue, tr.OldIssueID,
				func() error { return process.TransferIssue(ctx, tx, tr) }); err != nil {
				return 0, err
			}
		}
		return outcome, nil
	})
}
