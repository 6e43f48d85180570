package jobs

import (
	"context"
	"fmt"

	"github.com/gocraft/work"
)

// Job names, the contract between those who queue work (handlers/, load/,
// ui/) and the workers. Collections run as three jobs each:
// spawn_<collection>, sync_page_of_<collection> and <collection>_scanned.
const (
	JobSyncRepository  = "sync_repository"
	JobSyncUser        = "sync_user"
	JobSyncPullRequest = "sync_pull_request"
	JobSyncIssue       = "sync_issue"
	JobSyncLabel       = "sync_label"
	JobSyncMilestone   = "sync_milestone"
)

// Collections that are scanned page by page.
const (
	CollectionRepositories              = "repositories" // of an installation
	CollectionPullRequests              = "pull_requests"
	CollectionPullRequestFiles          = "pull_request_files"
	CollectionPullRequestReviews        = "pull_request_reviews"
	CollectionPullRequestReviewComments = "pull_request_review_comments"
	CollectionIssues                    = "issues"
	CollectionIssueComments             = "issue_comments"
	CollectionLabels                    = "labels"
	CollectionMilestones                = "milestones"
)

// SpawnJob, PageJob and ScannedJob name the three jobs of a collection.
func SpawnJob(collection string) string   { return "spawn_" + collection }
func PageJob(collection string) string    { return "sync_page_of_" + collection }
func ScannedJob(collection string) string { return collection + "_scanned" }

// ScanRequest asks for a scan of one collection or one object.
type ScanRequest struct {
	// Kind is a collection name (CollectionPullRequests, ...) or a sync job
	// name (JobSyncPullRequest, ...) for a single object.
	Kind           string
	InstallationID int64
	Owner, Repo    string
	// Number is the pull request, issue or milestone number, when the scan
	// is of one object or of a pull request's children.
	Number int
	// Name is a label name, for JobSyncLabel.
	Name string
	// State filters pulls and issues: open, closed or all ("" means all).
	State string
	// Children also loads the children of what is scanned.
	Children bool
	// Full ignores what earlier scans saw (no since, no ETags).
	Full bool
	// RequestedBy says who asked: a login, "installation:<id>" or "webhook".
	RequestedBy string
}

// Scheduler queues scans. The web side (handlers/, load/, ui/) uses it; it
// never calls GitHub itself.
type Scheduler struct {
	deps     Deps
	enqueuer *work.Enqueuer
}

// NewScheduler builds a Scheduler on the app's pools.
func NewScheduler(d Deps) *Scheduler {
	return &Scheduler{deps: d, enqueuer: NewEnqueuer(d)}
}

// Scan records a scan and queues its first job. When a scan of the same
// collection is already queued or running, it returns that one and
// joined=true instead of starting another.
func (s *Scheduler) Scan(ctx context.Context, req ScanRequest) (scanID int64, joined bool, err error) {
	return 0, false, fmt.Errorf("scan %s of %s/%s: not built yet", req.Kind, req.Owner, req.Repo)
}

// CancelInstallation stops the queued work of a deleted installation: its
// queued and running scans end as failed and their jobs do nothing.
func (s *Scheduler) CancelInstallation(ctx context.Context, installationID int64) error {
	return fmt.Errorf("cancel installation %d: not built yet", installationID)
}
