package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/process"
)

// inlineFilesLimit: a pull request changing fewer files than this has them
// fetched during the delivery (one page of 100); bigger ones are queued.
const inlineFilesLimit = 100

// inlineGitHubBudget is all the time a delivery may spend calling GitHub
// before it answers (an installation token, then one request). GitHub
// records a delivery as failed when the answer takes over 10 seconds; the
// rest of those 10 seconds is for the database and for queueing the
// follow-up jobs (up to 5 s after the commit). Past the budget the work
// moves to a job: the pull request's files to a queued files scan, a
// collaborator's level to a fetch finished after the answer.
const inlineGitHubBudget = 2 * time.Second

// PullRequest handles every action on a pull request. When the files may
// have changed (opened, reopened, synchronize, edited) they are refreshed.
type PullRequest struct{ Base }

func (h *PullRequest) Handles() []string { return []string{"pull_request"} }

// refreshesFiles are the actions after which a pull request's files may differ.
var refreshesFiles = map[string]bool{"opened": true, "reopened": true, "synchronize": true, "edited": true}

func (h *PullRequest) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	ev, d, err := decode[github.PullRequestEvent](eventType, deliveryID, payload)
	if err != nil {
		return err
	}
	pr := ev.PullRequest
	if ev.Repo == nil || ev.Repo.ID == nil || pr == nil || pr.ID == nil || pr.Number == nil {
		return invalid(d, "pull_request event without repository or pull request")
	}
	owner, name := ownerRepo(ev.Repo)
	installationID := ev.GetInstallation().GetID()

	// The fetch happens before the transaction opens: no connection is
	// held while waiting on GitHub.
	var files []*github.CommitFile
	var filesMeta process.Meta
	queueFiles := false
	if refreshesFiles[ev.GetAction()] && !h.alreadyStored(ctx, d) {
		if pr.GetChangedFiles() < inlineFilesLimit {
			files, filesMeta, err = h.fetchFiles(ctx, installationID, owner, name, pr.GetNumber())
			if err != nil {
				// A slow GitHub (past the budget) or a failing one: the
				// files scan fetches them after the answer.
				zerolog.Ctx(ctx).Warn().Err(err).Int("github_pr_num", pr.GetNumber()).Msg("inline fetch of pull request files failed or ran out of time; queueing it")
				files, queueFiles = nil, true
			} else if len(files) >= inlineFilesLimit {
				// changed_files is as of the event: a full page means
				// there may be more, which only the files scan loads.
				queueFiles = true
			}
		} else {
			queueFiles = true
		}
	}

	return h.deliver(ctx, d.around(ev.Repo, ev.Installation, ev.Sender), func(ctx context.Context, tx *deliveryTx) (process.Outcome, error) {
		if err := h.storeEnvelope(ctx, tx, ev.Repo, ev.Installation, ev.Sender); err != nil {
			return 0, err
		}
		// The event's label is not written: it is the label as it was
		// when the event was sent, and a late delivery would undo a rename
		// (label.edited is the authority). The labels nested in the object
		// are inserted when unknown.
		outcome, err := process.PullRequest(ctx, tx, pr, tx.meta)
		if err != nil {
			return 0, err
		}
		if files != nil {
			// Fetched just now from the API: current whatever the age of
			// the event, so written even when the event was stale. One
			// page under the limit is the whole list.
			if len(files) < inlineFilesLimit {
				if _, _, err := process.SetPullRequestFiles(ctx, tx, pr.GetID(), files, filesMeta); err != nil {
					return 0, err
				}
			} else if _, err := process.PullRequestFiles(ctx, tx, pr.GetID(), files, filesMeta); err != nil {
				return 0, err
			}
		}
		if outcome == process.Written && installationID != 0 {
			// The pull request's issue row (what issue queries read) has
			// an id no pull_request payload carries: a new pull request
			// gets it from the issues API after the answer, in the
			// delivery's outbox, instead of waiting for the next issues
			// scan.
			stored, err := process.IssueStored(ctx, tx, ev.Repo.GetID(), pr.GetNumber())
			if err != nil {
				return 0, err
			}
			if !stored {
				if err := tx.scan(ctx, jobs.ScanRequest{Kind: jobs.JobSyncIssue, InstallationID: installationID,
					Owner: owner, Repo: name, Number: pr.GetNumber()}, h.Scheduler); err != nil {
					return 0, err
				}
			}
		}
		if err := tx.refreshRecovered(ctx, h.Scheduler, jobs.ScanRequest{Kind: jobs.JobSyncPullRequest,
			InstallationID: installationID, Owner: owner, Repo: name, Number: pr.GetNumber()}); err != nil {
			return 0, err
		}
		if queueFiles {
			if err := tx.scan(ctx, jobs.ScanRequest{
				Kind:           jobs.CollectionPullRequestFiles,
				InstallationID: installationID,
				Owner:          owner,
				Repo:           name,
				Number:         pr.GetNumber(),
			}, h.Scheduler); err != nil {
				return 0, err
			}
		}
		return outcome, nil
	})
}

// fetchFiles lists a pull request's files with the installation's token.
// The result is never nil on success.
func (h *PullRequest) fetchFiles(ctx context.Context, installationID int64, owner, repo string, number int) ([]*github.CommitFile, process.Meta, error) {
	if installationID == 0 {
		return nil, process.Meta{}, fmt.Errorf("list files of %s/%s#%d: delivery names no installation", owner, repo, number)
	}
	if h.GitHub == nil {
		return nil, process.Meta{}, fmt.Errorf("list files of %s/%s#%d: no GitHub client configured", owner, repo, number)
	}
	client, err := h.GitHub.NewInstallationClient(installationID)
	if err != nil {
		return nil, process.Meta{}, fmt.Errorf("client for installation %d: %w", installationID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, inlineGitHubBudget)
	defer cancel()
	files, _, err := client.PullRequests.ListFiles(ctx, owner, repo, number, &github.ListOptions{PerPage: inlineFilesLimit})
	if err != nil {
		return nil, process.Meta{}, fmt.Errorf("list files of %s/%s#%d: %w", owner, repo, number, err)
	}
	if files == nil {
		files = []*github.CommitFile{}
	}
	return files, process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()}, nil
}
