package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// The home page: anonymous, what webhookdb is, sign in and install; logged
// in, the installations and repositories the user reaches per GitHub, each
// with what the replica holds of it, how fresh it is and the scans running.

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	login, token, ok, err := u.userToken(r)
	switch {
	case errors.Is(err, errLoginEnded) && u.deps.GitHubConfig.OAuth.ClientID != "":
		// The login could not be renewed: through GitHub's login again.
		http.Redirect(w, r, AuthRoute, http.StatusFound)
		return
	case err != nil && !errors.Is(err, errLoginEnded):
		u.deps.Logger.Error().Err(err).Msg("read the session's user")
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
		return
	case !ok:
		u.render(w, r, http.StatusOK, "anonymous", page{})
		return
	}
	p := page{Title: "Your repositories", Login: login, CSRF: u.CSRFToken(r)}
	rc, err := u.reach(r.Context(), login, token)
	if err != nil {
		u.unavailable(w, r, p, err)
		return
	}
	data, err := u.homeData(r.Context(), rc)
	if err != nil {
		u.deps.Logger.Error().Err(err).Str("login", login).Msg("read the home page's data")
		p.Title = "Error"
		u.render(w, r, http.StatusInternalServerError, "error", p)
		return
	}
	p.Data = data
	u.render(w, r, http.StatusOK, "home", p)
}

// unavailable answers 502: GitHub could not say what the user can reach,
// so nothing is shown rather than what it said before.
func (u *UI) unavailable(w http.ResponseWriter, r *http.Request, p page, err error) {
	u.deps.Logger.Warn().Err(err).Str("login", p.Login).Str("path", r.URL.Path).Msg("GitHub could not be reached")
	p.Title = "GitHub could not be reached"
	u.render(w, r, http.StatusBadGateway, "unavailable", p)
}

// homeData is what the logged-in home page shows.
type homeData struct {
	Installations []homeInstallation
}

type homeInstallation struct {
	ID      int64
	Account string
	Repos   []homeRepo
}

type homeRepo struct {
	Owner, Name string
	Private     bool
	// Loaded says the replica holds the repository; the rest is only
	// known then (Scan excepted: the first load may be running).
	Loaded                  bool
	Pulls, Issues, Comments int64
	LastWebhook, LastScan   null.Time
	Scan                    *homeScan
}

// homeScan is the oldest queued or running scan of a repository.
type homeScan struct {
	ID                    int64
	Status                string
	PagesDone, PagesTotal int
	// TotalKnown is false until the scan has counted its pages: the bar
	// is then indeterminate.
	TotalKnown bool
}

// repoCount and repoTime are the rows of the per-repository aggregates.
type repoCount struct {
	RepoID int64 `boil:"repo_id"`
	N      int64 `boil:"n"`
}

type repoTime struct {
	RepoID int64     `boil:"repo_id"`
	At     null.Time `boil:"at"`
}

// homeData reads, for every repository of rc at once, what the replica
// holds: one query per kind (repositories, pull requests, issues,
// comments, deliveries, completed scans, running scans). The models'
// query mods carry "= ANY(?)" with the id array (pgx sends a []int64 as
// one array parameter) so a user with many repositories still makes seven
// queries of constant size.
func (u *UI) homeData(ctx context.Context, rc *reach) (*homeData, error) {
	var ids []int64
	var names []string
	for _, in := range rc.Installations {
		for _, rr := range in.Repos {
			ids = append(ids, rr.ID)
			names = append(names, strings.ToLower(rr.Owner+"/"+rr.Name))
		}
	}
	d := &homeData{}
	if len(ids) == 0 {
		for _, in := range rc.Installations {
			d.Installations = append(d.Installations, homeInstallation{ID: in.ID, Account: in.Account})
		}
		return d, nil
	}
	db := u.deps.DB
	repos, err := models.GithubRepositories(qm.Where(models.GithubRepositoryColumns.ID+" = ANY(?)", ids)).All(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("stored repositories: %w", err)
	}
	stored := make(map[int64]*models.GithubRepository, len(repos))
	for _, r := range repos {
		stored[r.ID] = r
	}
	pulls, err := counts(ctx, u, "pull requests", models.GithubPullRequests(
		qm.Select("base_repo_id AS repo_id", "count(*) AS n"),
		qm.Where("base_repo_id = ANY(?)", ids), qm.GroupBy("base_repo_id")))
	if err != nil {
		return nil, err
	}
	issues, err := counts(ctx, u, "issues", models.GithubIssues(
		qm.Select("repo_id", "count(*) AS n"),
		qm.Where("repo_id = ANY(?) AND NOT is_pull_request", ids), qm.GroupBy("repo_id")))
	if err != nil {
		return nil, err
	}
	comments, err := counts(ctx, u, "comments", models.GithubIssueComments(
		qm.Select("repo_id", "count(*) AS n"),
		qm.Where("repo_id = ANY(?)", ids), qm.GroupBy("repo_id")))
	if err != nil {
		return nil, err
	}
	webhooks, err := latest(ctx, u, "last webhooks", models.WebhookDeliveries(
		qm.Select("repo_id", "max(received_at) AS at"),
		qm.Where("repo_id = ANY(?)", ids), qm.GroupBy("repo_id")))
	if err != nil {
		return nil, err
	}
	scanned, err := latest(ctx, u, "last scans", models.Scans(
		qm.Select("repo_id", "max(finished_at) AS at"),
		qm.Where("status = 'done' AND repo_id = ANY(?)", ids), qm.GroupBy("repo_id")))
	if err != nil {
		return nil, err
	}
	// A repository's first load runs before the replica knows its id:
	// such a scan is found by owner/repo.
	running, err := models.Scans(
		qm.Where("status IN ('queued', 'running') AND (repo_id = ANY(?) OR (repo_id IS NULL AND lower(owner || '/' || repo) = ANY(?)))", ids, names),
		qm.OrderBy("id")).All(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("running scans: %w", err)
	}
	scanByID := map[int64]*homeScan{}
	scanByName := map[string]*homeScan{}
	for _, s := range running {
		hs := &homeScan{ID: s.ID, Status: s.Status, PagesDone: s.PagesDone, PagesTotal: s.PagesTotal.Int, TotalKnown: s.PagesTotal.Valid && s.PagesTotal.Int > 0}
		// Ordered by id: the first is the oldest, the one the others
		// (its child scans, mostly) belong to.
		if s.RepoID.Valid {
			if _, ok := scanByID[s.RepoID.Int64]; !ok {
				scanByID[s.RepoID.Int64] = hs
			}
		} else if key := strings.ToLower(s.Owner.String + "/" + s.Repo.String); scanByName[key] == nil {
			scanByName[key] = hs
		}
	}
	for _, in := range rc.Installations {
		hi := homeInstallation{ID: in.ID, Account: in.Account}
		for _, rr := range in.Repos {
			hr := homeRepo{Owner: rr.Owner, Name: rr.Name, Private: rr.Private}
			if hr.Scan = scanByID[rr.ID]; hr.Scan == nil {
				hr.Scan = scanByName[strings.ToLower(rr.Owner+"/"+rr.Name)]
			}
			if s, ok := stored[rr.ID]; ok {
				hr.Loaded = true
				hr.Pulls, hr.Issues, hr.Comments = pulls[rr.ID], issues[rr.ID], comments[rr.ID]
				hr.LastWebhook = webhooks[rr.ID]
				hr.LastScan = laterOf(scanned[rr.ID], s.PullRequestsLastScannedAt, s.IssuesLastScannedAt,
					s.IssueCommentsLastScannedAt, s.LabelsLastScannedAt, s.MilestonesLastScannedAt)
			}
			hi.Repos = append(hi.Repos, hr)
		}
		d.Installations = append(d.Installations, hi)
	}
	return d, nil
}

// binder is a models query (GithubPullRequests(...) and the like).
type binder interface {
	Bind(ctx context.Context, exec boil.Executor, obj interface{}) error
}

func counts(ctx context.Context, u *UI, what string, q binder) (map[int64]int64, error) {
	var rows []repoCount
	if err := q.Bind(ctx, u.deps.DB, &rows); err != nil {
		return nil, fmt.Errorf("count %s: %w", what, err)
	}
	out := make(map[int64]int64, len(rows))
	for _, r := range rows {
		out[r.RepoID] = r.N
	}
	return out, nil
}

func latest(ctx context.Context, u *UI, what string, q binder) (map[int64]null.Time, error) {
	var rows []repoTime
	if err := q.Bind(ctx, u.deps.DB, &rows); err != nil {
		return nil, fmt.Errorf("read the %s: %w", what, err)
	}
	out := make(map[int64]null.Time, len(rows))
	for _, r := range rows {
		out[r.RepoID] = r.At
	}
	return out, nil
}

// laterOf is the latest valid time of ts.
func laterOf(ts ...null.Time) null.Time {
	var out null.Time
	for _, t := range ts {
		if t.Valid && (!out.Valid || t.Time.After(out.Time)) {
			out = t
		}
	}
	return out
}

// slugRetry is how long after a failed GET /app the slug is not asked
// again, so pages do not each wait for a GitHub that is down.
const slugRetry = time.Minute

// slugCache is the app's slug once GitHub said it. The zero value is ready.
type slugCache struct {
	mu       sync.Mutex
	slug     string
	failedAt time.Time
}

// appSlug is the configured slug, else GitHub's (GET /app with the app's
// JWT), asked once; "" when unknown.
func (u *UI) appSlug(ctx context.Context) string {
	if u.deps.AppSlug != "" {
		return u.deps.AppSlug
	}
	if u.deps.GitHub == nil {
		return ""
	}
	// Held while asking: concurrent first pages wait for the one answer.
	u.slug.mu.Lock()
	defer u.slug.mu.Unlock()
	if u.slug.slug != "" {
		return u.slug.slug
	}
	if !u.slug.failedAt.IsZero() && time.Since(u.slug.failedAt) < slugRetry {
		return ""
	}
	slug, err := u.fetchSlug(ctx)
	if err != nil {
		u.slug.failedAt = time.Now()
		u.deps.Logger.Warn().Err(err).Msg("ask GitHub for the app's slug: no installation link for now")
		return ""
	}
	u.slug.slug = slug
	return slug
}

func (u *UI) fetchSlug(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := u.deps.GitHub.NewAppClient()
	if err != nil {
		return "", fmt.Errorf("app client: %w", err)
	}
	app, _, err := c.Apps.Get(ctx, "")
	if err != nil {
		return "", fmt.Errorf("GET /app: %w", err)
	}
	if app.GetSlug() == "" {
		return "", errors.New("GET /app: no slug")
	}
	return app.GetSlug(), nil
}
