package readapi

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

func pullEndpoints() []endpoint {
	return []endpoint{
		{path: "/repos/{owner}/{repo}/pulls", scope: repoScope, paged: true,
			params: []string{"state", "sort", "direction", "head", "base"}, serve: listPulls},
		{path: "/repos/{owner}/{repo}/pulls/{number}", scope: repoScope, serve: getPull},
		{path: "/repos/{owner}/{repo}/pulls/{number}/files", scope: repoScope, paged: true, serve: listPullFiles},
		{path: "/repos/{owner}/{repo}/pulls/{number}/reviews", scope: repoScope, paged: true, serve: listPullReviews},
		{path: "/repos/{owner}/{repo}/pulls/{number}/comments", scope: repoScope, paged: true,
			params: []string{"sort", "direction", "since"}, serve: listPullReviewComments},
	}
}

// pullCommentsOrder is the popularity sort: GitHub's "number of
// comments", the issue comments. A pull request listed by the API has no
// count of its own; its issue row keeps the one the issue list and the
// issue_comment deliveries carry.
const pullCommentsOrder = `coalesce(github_pull_request.comments_count, (SELECT i.comments_count FROM github_issue i
	WHERE i.repo_id = github_pull_request.base_repo_id AND i.number = github_pull_request.number AND i.is_pull_request
	ORDER BY i.updated_at DESC NULLS LAST LIMIT 1), 0)`

// listPulls is GET /repos/{owner}/{repo}/pulls: state (open, closed, all;
// default open), sort (created, updated, popularity; default created),
// direction (desc for created or no sort, asc otherwise, unless given),
// head (owner:ref) and base (a branch).
func listPulls(c *call) (*result, error) {
	state, err := enumParam(c.q, "state", "PullRequest", "open", "open", "closed", "all")
	if err != nil {
		return nil, err
	}
	if c.q.Get("sort") == "long-running" {
		// GitHub's long-running is "created, limited to pulls open over a
		// month with activity in the past month", judged against its own
		// clock and activity we do not replicate. ghfake answers it as
		// popularity, which is not what GitHub does: refuse rather than
		// guess.
		return nil, unsupported("sort", `sort "long-running" on /repos/{owner}/{repo}/pulls`)
	}
	sortBy, err := enumParam(c.q, "sort", "PullRequest", "created", "created", "updated", "popularity")
	if err != nil {
		return nil, err
	}
	// GitHub: desc when sorting by creation, asc for the other sorts,
	// unless direction says otherwise.
	def := "desc"
	if sortBy != "created" {
		def = "asc"
	}
	dir, err := enumParam(c.q, "direction", "PullRequest", def, "asc", "desc")
	if err != nil {
		return nil, err
	}
	mods := []qm.QueryMod{models.GithubPullRequestWhere.BaseRepoID.EQ(c.repo.ID)}
	if state != "all" {
		mods = append(mods, models.GithubPullRequestWhere.State.EQ(state))
	}
	if base := c.q.Get("base"); base != "" {
		mods = append(mods, models.GithubPullRequestWhere.BaseRef.EQ(nullString(base)))
	}
	// head is user:ref-name; a value without ':' filters nothing, as on
	// GitHub. The owner is the head repository's (case-insensitive), kept
	// in head_label; the ref is case-sensitive, as git's are.
	if owner, ref, ok := strings.Cut(c.q.Get("head"), ":"); ok {
		mods = append(mods, models.GithubPullRequestWhere.HeadRef.EQ(nullString(ref)),
			qm.Where("lower(split_part(head_label, ':', 1)) = lower(?)", owner))
	}
	total, err := models.GithubPullRequests(mods...).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count pull requests of %s: %w", c.repo.FullName, err)
	}
	// Creation order is number order; the other sorts keep number order
	// (ascending) among equals, as GitHub's (and ghfake's) stable sorts do.
	order := "number " + dir
	switch sortBy {
	case "updated":
		order = "updated_at " + dir + " NULLS LAST, number ASC"
	case "popularity":
		order = pullCommentsOrder + " " + dir + ", number ASC"
	}
	rows, err := models.GithubPullRequests(append(mods, qm.OrderBy(order), qm.Limit(c.page.per), qm.Offset(c.page.offset()))...).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read pull requests of %s: %w", c.repo.FullName, err)
	}
	out, at, err := renderPulls(c, rows, false)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		at = c.repo.PullRequestsLastScannedAt.Time
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// getPull is GET /repos/{owner}/{repo}/pulls/{number}: the full object.
func getPull(c *call) (*result, error) {
	pr, err := findPull(c)
	if err != nil {
		return nil, err
	}
	out, at, err := renderPulls(c, []*models.GithubPullRequest{pr}, true)
	if err != nil {
		return nil, err
	}
	return &result{body: out[0], replicatedAt: at}, nil
}

// findPull reads the pull request the path names, or answers 404.
func findPull(c *call) (*models.GithubPullRequest, error) {
	n, ok := number(c.r.PathValue("number"))
	if !ok {
		return nil, notFound()
	}
	pr, err := models.GithubPullRequests(models.GithubPullRequestWhere.BaseRepoID.EQ(c.repo.ID),
		models.GithubPullRequestWhere.Number.EQ(n), qm.OrderBy("updated_at DESC NULLS LAST")).One(c.ctx, c.api.db)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("read pull request %d of %s: %w", n, c.repo.FullName, err)
	}
	return pr, nil
}
