package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocraft/work"
	"github.com/volatiletech/sqlboiler/v4/boil"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
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
	// JobSyncCollaboratorPermission refreshes a collaborator's permission
	// level on a repository (Name is the login), for a member event whose
	// level GitHub did not send and could not give within the webhook's
	// budget.
	JobSyncCollaboratorPermission = "sync_collaborator_permission"
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
	// Full forces a complete listing even when an earlier scan completed:
	// every page is read (304s from stored ETags still cost nothing) and
	// rows GitHub no longer lists are removed. Without it, pulls, issues
	// and issue comments after a complete scan only read the pages updated
	// since that scan started.
	Full bool
	// RequestedBy says who asked: a login, "installation:<id>" or "webhook".
	RequestedBy string
}

// Scheduler queues scans. The web side (handlers/, load/, ui/) uses it; it
// never calls GitHub itself.
type Scheduler struct {
	e *engine
}

// NewScheduler builds a Scheduler on the app's pools.
func NewScheduler(d Deps) *Scheduler {
	return &Scheduler{e: newEngine(d)}
}

// Scan records a scan and queues its first job. When a scan of the same
// collection is already queued or running, it returns that one and
// joined=true instead of starting another.
func (s *Scheduler) Scan(ctx context.Context, req ScanRequest) (scanID int64, joined bool, err error) {
	var enqueue func() error
	err = s.e.withTx(ctx, fmt.Sprintf("scan %s of %s", req.Kind, req.target()), func(tx *sql.Tx) error {
		var err error
		scanID, joined, enqueue, err = s.ScanInTx(ctx, tx, req)
		return err
	})
	if err != nil {
		return 0, false, err
	}
	if err := enqueue(); err != nil {
		// The row is there; the sweeper queues its job later.
		return scanID, false, err
	}
	return scanID, joined, nil
}

// CancelInstallation stops the queued work of a deleted installation: its
// queued and running scans end as failed and their jobs do nothing.
func (s *Scheduler) CancelInstallation(ctx context.Context, installationID int64) error {
	return s.cancelInstallation(ctx, s.e.deps.DB, installationID)
}

// CancelInstallationInTx is CancelInstallation inside the caller's
// transaction, so the uninstall and the end of its work commit together.
// Call it before the installation's repository links are removed.
func (s *Scheduler) CancelInstallationInTx(ctx context.Context, tx *sql.Tx, installationID int64) error {
	return s.cancelInstallation(ctx, tx, installationID)
}

func (s *Scheduler) cancelInstallation(ctx context.Context, exec boil.ContextExecutor, installationID int64) error {
	repos, err := process.InstallationRepositoryIDs(ctx, exec, installationID)
	if err != nil {
		return fmt.Errorf("cancel the scans of installation %d: %w", installationID, err)
	}
	// Hand-written: the scans of the installation, or of its repositories
	// when the installation is not known yet, in one statement.
	_, err = exec.ExecContext(ctx, `
		UPDATE scan SET status = 'failed', incomplete = true, finished_at = now(),
			error = 'installation deleted'
		WHERE status IN ('queued', 'running')
		  AND (installation_id = $1 OR (installation_id IS NULL AND repo_id = ANY($2)))`,
		installationID, repos)
	if err != nil {
		return fmt.Errorf("cancel the scans of installation %d: %w", installationID, err)
	}
	return nil
}

// ErrNoScan says there is no scan with that id.
var ErrNoScan = errors.New("no such scan")

// ScanStatus is what GET /status/{scan_id} answers.
type ScanStatus struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	Status      string     `json:"status"` // queued, running, done, failed
	Incomplete  bool       `json:"incomplete"`
	PagesTotal  *int       `json:"pages_total"`
	PagesDone   int        `json:"pages_done"`
	PagesFailed int        `json:"pages_failed"`
	Items       int        `json:"items"`
	Requests    int        `json:"requests"`
	NotModified int        `json:"not_modified"`
	Errors      int        `json:"errors"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	Error       *string    `json:"error"`
	ParentID    *int64     `json:"parent_scan_id,omitempty"`
	// Scans counts the scans TreeStatus added up (1 from Status).
	Scans int `json:"scans"`
}

// Status reads one scan; ErrNoScan when there is none.
func (s *Scheduler) Status(ctx context.Context, scanID int64) (ScanStatus, error) {
	var st ScanStatus
	sc, err := models.FindScan(ctx, s.e.deps.DB, scanID)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("scan %d: %w", scanID, ErrNoScan)
	}
	if err != nil {
		return st, fmt.Errorf("read scan %d: %w", scanID, err)
	}
	st = ScanStatus{ID: sc.ID, Kind: sc.Kind, Status: sc.Status, Incomplete: sc.Incomplete,
		PagesDone: sc.PagesDone, PagesFailed: sc.PagesFailed, Items: sc.Items, Requests: sc.Requests,
		NotModified: sc.NotModified}
	if sc.PagesTotal.Valid {
		n := sc.PagesTotal.Int
		st.PagesTotal = &n
	}
	if sc.StartedAt.Valid {
		st.StartedAt = &sc.StartedAt.Time
	}
	if sc.FinishedAt.Valid {
		st.FinishedAt = &sc.FinishedAt.Time
	}
	if sc.Error.Valid {
		st.Error = &sc.Error.String
	}
	if sc.ParentScanID.Valid {
		st.ParentID = &sc.ParentScanID.Int64
	}
	params := []byte(sc.Params)
	st.Scans = 1
	var p scanParams
	if err := json.Unmarshal(params, &p); err == nil {
		st.Errors = p.Errors
	}
	return st, nil
}

// Sweep queues again the jobs of scans that stopped making progress (a
// killed worker, a lost job) and returns how many scans it touched. The
// worker pool runs it periodically; tests and tools may call it directly.
func (s *Scheduler) Sweep(ctx context.Context) (int, error) {
	return s.e.sweep(ctx)
}

// scanParams are the request details kept in scan.params.
type scanParams struct {
	Name     string `json:"name,omitempty"`
	State    string `json:"state,omitempty"`
	Children bool   `json:"children,omitempty"`
	Errors   int    `json:"errors,omitempty"`
}

func isCollection(kind string) bool {
	_, ok := collectionsByName[kind]
	return ok
}

func isSingle(kind string) bool {
	for _, k := range singleKinds {
		if k == kind {
			return true
		}
	}
	return false
}

func (r ScanRequest) validate() error {
	switch {
	case !isCollection(r.Kind) && !isSingle(r.Kind):
		return fmt.Errorf("scan: unknown kind %q", r.Kind)
	case r.Kind == CollectionRepositories:
		if r.InstallationID == 0 {
			return fmt.Errorf("scan of repositories: installation id missing")
		}
	case r.Kind == JobSyncUser:
		if r.Name == "" {
			return fmt.Errorf("scan %s: user login (Name) missing", r.Kind)
		}
	default:
		if r.Owner == "" || r.Repo == "" {
			return fmt.Errorf("scan %s: owner and repo are required", r.Kind)
		}
	}
	switch r.Kind {
	case JobSyncPullRequest, JobSyncIssue, JobSyncMilestone, CollectionPullRequestFiles,
		CollectionPullRequestReviews, CollectionPullRequestReviewComments:
		if r.Number <= 0 {
			return fmt.Errorf("scan %s of %s/%s: number missing", r.Kind, r.Owner, r.Repo)
		}
	case JobSyncLabel:
		if r.Name == "" {
			return fmt.Errorf("scan %s of %s/%s: label name missing", r.Kind, r.Owner, r.Repo)
		}
	case JobSyncCollaboratorPermission:
		if r.Name == "" {
			return fmt.Errorf("scan %s of %s/%s: collaborator login missing", r.Kind, r.Owner, r.Repo)
		}
	}
	switch r.State {
	case "", "all", "open", "closed":
	default:
		return fmt.Errorf("scan %s: state %q is not open, closed or all", r.Kind, r.State)
	}
	return nil
}

func (r ScanRequest) target() string {
	switch {
	case r.Kind == CollectionRepositories:
		return fmt.Sprintf("installation %d", r.InstallationID)
	case r.Kind == JobSyncUser:
		return r.Name
	case r.Number != 0:
		return fmt.Sprintf("%s/%s#%d", r.Owner, r.Repo, r.Number)
	}
	return r.Owner + "/" + r.Repo
}

// scanKey identifies a collection (or object): one queued or running scan
// per key, enforced by scan_running_key_idx.
func (r ScanRequest) scanKey() string {
	switch r.Kind {
	case CollectionRepositories:
		return fmt.Sprintf("%s:installation:%d", r.Kind, r.InstallationID)
	case JobSyncUser:
		return r.Kind + ":" + strings.ToLower(r.Name)
	}
	k := fmt.Sprintf("%s:%s/%s", r.Kind, strings.ToLower(r.Owner), strings.ToLower(r.Repo))
	if r.Number != 0 {
		k += fmt.Sprintf("#%d", r.Number)
	}
	if r.Name != "" {
		k += ":" + r.Name
	}
	if r.State != "" && r.State != "all" {
		k += ":state=" + r.State
	}
	return k
}

// sinceMargin covers clock skew between GitHub and us, and writes that
// landed on GitHub while the last scan was reading.
const sinceMargin = 2 * time.Minute

// startScan inserts the scan row, or finds the running one of the same
// key (joined). The caller queues the first job after commit.
func (e *engine) startScan(ctx context.Context, tx boil.ContextExecutor, req ScanRequest, parentID int64) (int64, bool, error) {
	key := req.scanKey()
	params, err := json.Marshal(scanParams{Name: req.Name, State: req.State, Children: req.Children})
	if err != nil {
		return 0, false, fmt.Errorf("scan %s of %s: params: %w", req.Kind, req.target(), err)
	}
	var repoID, instID sql.NullInt64
	if req.InstallationID != 0 {
		instID = sql.NullInt64{Int64: req.InstallationID, Valid: true}
	}
	if req.Owner != "" {
		repoID, instID, err = process.RepositoryAndInstallation(ctx, tx, req.Owner, req.Repo)
		if err != nil {
			return 0, false, fmt.Errorf("scan %s of %s: %w", req.Kind, req.target(), err)
		}
		if req.InstallationID != 0 {
			instID = sql.NullInt64{Int64: req.InstallationID, Valid: true}
		}
	}
	var since sql.NullTime
	if c, ok := collectionsByName[req.Kind]; ok && c.incremental && !req.Full {
		var last sql.NullTime
		err := tx.QueryRowContext(ctx, `
			SELECT max(started_at) FROM scan
			WHERE scan_key = $1 AND status = 'done' AND NOT incomplete`, key).Scan(&last)
		if err != nil {
			return 0, false, fmt.Errorf("scan %s of %s: last complete scan: %w", req.Kind, req.target(), err)
		}
		if last.Valid {
			since = sql.NullTime{Time: last.Time.Add(-sinceMargin), Valid: true}
		}
	}
	var parent sql.NullInt64
	if parentID != 0 {
		parent = sql.NullInt64{Int64: parentID, Valid: true}
	}
	for attempt := 0; attempt < 3; attempt++ {
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO scan (kind, scan_key, installation_id, owner, repo, repo_id, number, params,
			                  full_scan, since, parent_scan_id, requested_by)
			VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, NULLIF($7, 0), $8, $9, $10, $11, NULLIF($12, ''))
			ON CONFLICT (scan_key) WHERE status IN ('queued', 'running') DO NOTHING
			RETURNING id`,
			req.Kind, key, instID, req.Owner, req.Repo, repoID, req.Number, params,
			req.Full, since, parent, req.RequestedBy).Scan(&id)
		if err == nil {
			// The progress mark only holds the sweeper off a scan that is
			// about to start; without it (Redis down) the sweeper starts
			// the scan itself, which is what an outbox wants.
			if err := e.touch(ctx, id); err != nil {
				e.deps.Logger.Warn().Err(err).Int64("scan_id", id).Msg("scan recorded without a progress mark")
			}
			return id, false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, false, fmt.Errorf("scan %s of %s: insert: %w", req.Kind, req.target(), err)
		}
		err = tx.QueryRowContext(ctx, `
			SELECT id FROM scan WHERE scan_key = $1 AND status IN ('queued', 'running')`, key).Scan(&id)
		if err == nil {
			if err := widen(ctx, tx, id, req); err != nil {
				return 0, false, err
			}
			return id, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, false, fmt.Errorf("scan %s of %s: find the running scan: %w", req.Kind, req.target(), err)
		}
		// It ended between the two statements: try again.
	}
	return 0, false, fmt.Errorf("scan %s of %s: the running scan keeps changing", req.Kind, req.target())
}

// widen makes the running scan id that req joins do what req asks beyond
// it: chain children (read when the scan ends), and list everything when
// the scan has not started yet (a started incremental scan cannot become
// full, so that request gets the incremental one).
func widen(ctx context.Context, tx boil.ContextExecutor, id int64, req ScanRequest) error {
	if req.Children {
		if _, err := tx.ExecContext(ctx, `
			UPDATE scan SET params = jsonb_set(params, '{children}', 'true')
			WHERE id = $1 AND status IN ('queued', 'running')`, id); err != nil {
			return fmt.Errorf("scan %s of %s: add children to scan %d: %w", req.Kind, req.target(), id, err)
		}
	}
	if req.Full {
		if _, err := tx.ExecContext(ctx, `
			UPDATE scan SET full_scan = true, since = NULL
			WHERE id = $1 AND status = 'queued' AND pages_total IS NULL`, id); err != nil {
			return fmt.Errorf("scan %s of %s: make scan %d full: %w", req.Kind, req.target(), id, err)
		}
	}
	return nil
}

// firstJob is the job that starts a scan of kind.
func firstJob(kind string) string {
	if isCollection(kind) {
		return SpawnJob(kind)
	}
	return kind
}

func (e *engine) enqueueFirst(ctx context.Context, kind string, scanID int64) error {
	if err := e.enqueue(ctx, firstJob(kind), work.Q{"scan_id": scanID}); err != nil {
		return fmt.Errorf("queue %s for scan %d: %w", firstJob(kind), scanID, err)
	}
	return nil
}
