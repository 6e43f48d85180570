package ui

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/models"
)

// The repository page: per collection the replica's count, its last scan
// and a load button (a plain form posting to the load endpoint, which
// answers a browser 303 back here), the running and recently failed scans
// with a <progress> bar app.js keeps live, and the repository's recent
// deliveries.

// repoDeliveries is how many deliveries the repository page lists.
const repoDeliveries = 20

// failedScanWindow is how far back the page shows failed scans.
const failedScanWindow = 24 * time.Hour

// collectionRow is one collection of the repository page.
type collectionRow struct {
	Name   string // "pull requests"
	Button string // "Load pull requests"
	Action string // the load endpoint
	CSRF   string // the form's csrf_token
	Count  int64
	// Scanned is when the collection was last scanned (zero: never).
	Scanned time.Time
}

// scanView is one scan as the pages show it; app.js updates it in place.
type scanView struct {
	ID          int64
	What        string // the kind in words
	Status      string
	PagesDone   int
	PagesTotal  int // 0 while unknown
	Items       int
	Requests    int
	NotModified int
	Error       string
	Active      bool // queued or running: app.js polls it
}

// deliveryView is one webhook delivery row.
type deliveryView struct {
	GUID, Event, Action, Repo, Status, Error, RecoveredBy string
	At, GaveUp                                            time.Time
	Failed                                                bool
}

type repoData struct {
	Owner, Name, FullName string
	Private               bool
	Loaded                bool // in the replica
	Collections           []collectionRow
	Everything            collectionRow
	Scans                 []scanView
	// Queued is the scan id a load's 303 named (?scan=N), if it is this
	// repository's.
	Queued     int64
	Deliveries []deliveryView
}

// pageUser reads the logged-in user for a page. Without a login it sends
// the browser through login (or answers 404 when login is off) and ok is
// false; the caller returns.
func (u *UI) pageUser(w http.ResponseWriter, r *http.Request) (login, token string, ok bool) {
	login, token, ok, err := u.userToken(r)
	switch {
	case err != nil && !errors.Is(err, errLoginEnded):
		u.deps.Logger.Error().Err(err).Str("path", r.URL.Path).Msg("read the session's user")
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
		return "", "", false
	case ok && err == nil:
		return login, token, true
	case u.deps.GitHubConfig.OAuth.ClientID != "":
		http.Redirect(w, r, AuthRoute, http.StatusFound)
	default:
		u.notFound(w, r, page{})
	}
	return "", "", false
}

// repo serves GET /repos/{owner}/{repo}.
func (u *UI) repo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	login, token, ok := u.pageUser(w, r)
	if !ok {
		return
	}
	p := page{Login: login, CSRF: u.CSRFToken(r)}
	owner, name := r.PathValue("owner"), r.PathValue("repo")
	re, err := u.reach(ctx, login, token)
	if err != nil {
		u.deps.Logger.Error().Err(err).Str("login", login).Msg("repository page: what the user can reach")
		http.Error(w, "could not ask GitHub which repositories you can reach; try again", http.StatusBadGateway)
		return
	}
	rr, _, ok := re.repo(owner, name)
	if !ok {
		u.notFound(w, r, p)
		return
	}
	data, err := u.repoData(ctx, rr, r.URL.Query().Get("scan"))
	if err != nil {
		u.deps.Logger.Error().Err(err).Str("repo", owner+"/"+name).Msg("repository page")
		http.Error(w, "could not read the replica", http.StatusInternalServerError)
		return
	}
	for i := range data.Collections {
		data.Collections[i].CSRF = p.CSRF
	}
	data.Everything.CSRF = p.CSRF
	p.Title = data.FullName
	p.Data = data
	u.render(w, r, http.StatusOK, "repo", p)
}

// repoData reads the page of repository rr from the replica; queued is
// the ?scan= parameter.
func (u *UI) repoData(ctx context.Context, rr repoReach, queued string) (*repoData, error) {
	db := u.deps.DB
	d := &repoData{Owner: rr.Owner, Name: rr.Name, FullName: rr.Owner + "/" + rr.Name, Private: rr.Private}
	base := "/load/repos/" + url.PathEscape(rr.Owner) + "/" + url.PathEscape(rr.Name)
	d.Everything = collectionRow{Name: "everything", Button: "Load everything", Action: base + "?children=true"}
	stored, err := models.FindGithubRepository(ctx, db, rr.ID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("read repository %d: %w", rr.ID, err)
	default:
		d.Loaded = true
		d.FullName = stored.FullName
		if err := u.fillCollections(ctx, d, stored, base); err != nil {
			return nil, err
		}
	}
	if d.Scans, err = u.repoScans(ctx, rr); err != nil {
		return nil, err
	}
	if id, err := strconv.ParseInt(queued, 10, 64); err == nil && id > 0 {
		d.Queued = id
		if err := u.addQueuedScan(ctx, d, rr, id); err != nil {
			return nil, err
		}
	}
	rows, err := models.WebhookDeliveries(
		models.WebhookDeliveryWhere.RepoID.EQ(null.Int64From(rr.ID)),
		qm.OrderBy(models.WebhookDeliveryColumns.ReceivedAt+" DESC"), qm.Limit(repoDeliveries),
	).All(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("read the deliveries of repository %d: %w", rr.ID, err)
	}
	for _, row := range rows {
		v := newDeliveryView(row)
		v.Repo = d.FullName
		d.Deliveries = append(d.Deliveries, v)
	}
	return d, nil
}

// fillCollections counts the collections of a stored repository.
func (u *UI) fillCollections(ctx context.Context, d *repoData, repo *models.GithubRepository, base string) error {
	db, id := u.deps.DB, repo.ID
	type count struct {
		name, path string
		scanned    null.Time
		n          func() (int64, error)
	}
	counts := []count{
		{"pull requests", "/pulls", repo.PullRequestsLastScannedAt, func() (int64, error) {
			return models.GithubPullRequests(models.GithubPullRequestWhere.BaseRepoID.EQ(id)).Count(ctx, db)
		}},
		{"issues", "/issues", repo.IssuesLastScannedAt, func() (int64, error) {
			// GitHub's issue list holds pull requests too; they count above.
			return models.GithubIssues(models.GithubIssueWhere.RepoID.EQ(id), models.GithubIssueWhere.IsPullRequest.EQ(false)).Count(ctx, db)
		}},
		{"comments", "/issues/comments", repo.IssueCommentsLastScannedAt, func() (int64, error) {
			return models.GithubIssueComments(models.GithubIssueCommentWhere.RepoID.EQ(id)).Count(ctx, db)
		}},
		{"labels", "/labels", repo.LabelsLastScannedAt, func() (int64, error) {
			return models.GithubIssueLabels(models.GithubIssueLabelWhere.RepoID.EQ(id)).Count(ctx, db)
		}},
		{"milestones", "/milestones", repo.MilestonesLastScannedAt, func() (int64, error) {
			return models.GithubMilestones(models.GithubMilestoneWhere.RepoID.EQ(id)).Count(ctx, db)
		}},
	}
	// Everything is as fresh as its stalest collection.
	oldest, never := time.Time{}, false
	var total int64
	for _, c := range counts {
		n, err := c.n()
		if err != nil {
			return fmt.Errorf("count the %s of repository %d: %w", c.name, id, err)
		}
		total += n
		row := collectionRow{Name: c.name, Button: "Load " + c.name, Action: base + c.path, Count: n}
		if c.scanned.Valid {
			row.Scanned = c.scanned.Time
			if oldest.IsZero() || row.Scanned.Before(oldest) {
				oldest = row.Scanned
			}
		} else {
			never = true
		}
		d.Collections = append(d.Collections, row)
	}
	d.Everything.Count = total
	if !never {
		d.Everything.Scanned = oldest
	}
	return nil
}

// repoScans are the repository's running scans and those failed in the
// last day, newest first. A child scan is left out when its parent is the
// same repository's: the parent's progress (GET /status) adds it up.
func (u *UI) repoScans(ctx context.Context, rr repoReach) ([]scanView, error) {
	since := u.now().Add(-failedScanWindow)
	rows, err := models.Scans(
		qm.Where(`(scan.repo_id = ? OR (lower(scan.owner) = lower(?) AND lower(scan.repo) = lower(?)))`, rr.ID, rr.Owner, rr.Name),
		qm.Where(`(scan.status IN ('queued', 'running') OR (scan.status = 'failed' AND scan.created_at >= ?))`, since),
		qm.Where(`NOT EXISTS (SELECT 1 FROM scan p WHERE p.id = scan.parent_scan_id
			AND (p.repo_id = ? OR (lower(p.owner) = lower(?) AND lower(p.repo) = lower(?))))`, rr.ID, rr.Owner, rr.Name),
		qm.OrderBy("scan.id DESC"), qm.Limit(20),
	).All(ctx, u.deps.DB)
	if err != nil {
		return nil, fmt.Errorf("read the scans of repository %d: %w", rr.ID, err)
	}
	out := make([]scanView, 0, len(rows))
	for _, s := range rows {
		out = append(out, newScanView(s))
	}
	return out, nil
}

// addQueuedScan puts the scan a load's 303 named first on the page, when
// it is this repository's and not listed already (it may be done).
func (u *UI) addQueuedScan(ctx context.Context, d *repoData, rr repoReach, id int64) error {
	for _, s := range d.Scans {
		if s.ID == id {
			return nil
		}
	}
	s, err := models.FindScan(ctx, u.deps.DB, id)
	if errors.Is(err, sql.ErrNoRows) {
		d.Queued = 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("read scan %d: %w", id, err)
	}
	mine := (s.RepoID.Valid && s.RepoID.Int64 == rr.ID) ||
		(strings.EqualFold(s.Owner.String, rr.Owner) && strings.EqualFold(s.Repo.String, rr.Name))
	if !mine {
		// Another repository's scan: not told here.
		d.Queued = 0
		return nil
	}
	d.Scans = append([]scanView{newScanView(s)}, d.Scans...)
	return nil
}

func newScanView(s *models.Scan) scanView {
	v := scanView{ID: s.ID, What: scanKindText(s.Kind), Status: s.Status, PagesDone: s.PagesDone,
		Items: s.Items, Requests: s.Requests, NotModified: s.NotModified,
		Active: s.Status == "queued" || s.Status == "running"}
	if s.PagesTotal.Valid {
		v.PagesTotal = s.PagesTotal.Int
	}
	if s.Status == "failed" {
		v.Error = scanReason(s.Error.String)
	}
	return v
}

// scanKindText names a scan kind in words.
func scanKindText(kind string) string {
	switch kind {
	case jobs.CollectionPullRequests:
		return "pull requests"
	case jobs.CollectionIssues:
		return "issues"
	case jobs.CollectionIssueComments:
		return "comments"
	case jobs.CollectionLabels:
		return "labels"
	case jobs.CollectionMilestones:
		return "milestones"
	case jobs.CollectionRepositories:
		return "repositories of the installation"
	case jobs.JobSyncRepository:
		return "the repository"
	}
	return strings.ReplaceAll(kind, "_", " ")
}

// scanReason is the short reason a page tells for a failed scan. The
// stored text names paths and GitHub's words; like GET /status (load's
// publicReason, which the ui package may not import) the page tells only
// its kind.
func scanReason(stored string) string {
	s := strings.ToLower(stored)
	switch {
	case strings.Contains(s, strings.ToLower(jobs.ErrNotFound.Error())):
		return "GitHub has no such object"
	case strings.Contains(s, "rate limit"):
		return "GitHub's rate limit was spent"
	case stored == "installation deleted":
		return "the installation was deleted"
	case strings.Contains(s, "github answered") || strings.Contains(s, "github"):
		return "GitHub failed"
	}
	return "internal error"
}

func newDeliveryView(d *models.WebhookDelivery) deliveryView {
	return deliveryView{GUID: d.DeliveryID, Event: d.Event, Action: d.Action.String, Status: d.Status,
		Error: d.Error.String, RecoveredBy: d.RecoveredBy.String, At: d.ReceivedAt,
		GaveUp: d.GaveUpAt.Time, Failed: d.Status == "failed"}
}
