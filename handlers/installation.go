package handlers

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// Installation handles the app being installed, uninstalled, suspended,
// unsuspended or granted new permissions.
type Installation struct{ Base }

func (h *Installation) Handles() []string { return []string{"installation"} }

func (h *Installation) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.InstallationEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	if ev.Installation == nil || ev.Installation.ID == nil {
		return invalid(d, "installation event without installation")
	}
	return h.deliver(ctx, d, func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, nil, nil, ev.Sender); err != nil {
			return 0, err
		}
		if ev.Requester != nil && ev.Requester.ID != nil && ev.Requester.Login != nil {
			if _, err := process.User(ctx, tx, ev.Requester, tx.meta); err != nil {
				return 0, err
			}
		}
		in := ev.Installation
		outcome, err := process.Installation(ctx, tx, in, tx.meta)
		if err != nil {
			return 0, err
		}
		id := in.GetID()
		deleted, err := process.InstallationDeleted(ctx, tx, id)
		if err != nil {
			return 0, err
		}
		switch action := ev.GetAction(); {
		case deleted && action != "deleted":
			// Sent before the uninstall, processed after it: the dead
			// installation gets no repositories and no backfill.
			return outcome, nil
		case action == "created":
			if err := process.SetInstallationRepositories(ctx, tx, id, ev.Repositories, tx.meta); err != nil {
				return 0, err
			}
			if err := tx.scan(ctx, jobs.ScanRequest{
				Kind:           jobs.CollectionRepositories,
				InstallationID: id,
				Owner:          in.GetAccount().GetLogin(),
				Children:       true,
			}, h.Scheduler); err != nil {
				return 0, err
			}
		case action == "new_permissions_accepted":
			// Only some payloads list the repositories; when they do it is
			// the whole list.
			if ev.Repositories != nil {
				if err := process.SetInstallationRepositories(ctx, tx, id, ev.Repositories, tx.meta); err != nil {
					return 0, err
				}
			}
		case action == "deleted":
			// Before the links go: the cancel also finds scans by them.
			if err := tx.cancelInstallation(ctx, id, h.Scheduler); err != nil {
				return 0, err
			}
			repos, err := process.InstallationRepositoryIDs(ctx, tx, id)
			if err != nil {
				return 0, err
			}
			// Its repositories no other live installation covers are
			// marked uncovered; the private ones go after the retention.
			if err := process.DeleteInstallation(ctx, tx, id, tx.meta); err != nil {
				return 0, err
			}
			if err := h.purgeAtOnce(ctx, tx, repos); err != nil {
				return 0, err
			}
		case action == "suspend":
			if err := process.InstallationSuspendEvent(ctx, tx, in, ev.GetSender().GetLogin(), tx.meta); err != nil {
				return 0, err
			}
		case action == "unsuspend":
			if err := process.InstallationUnsuspendEvent(ctx, tx, in, tx.meta); err != nil {
				return 0, err
			}
		}
		return outcome, nil
	})
}
