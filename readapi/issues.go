package readapi

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"
	"github.com/volatiletech/sqlboiler/v4/types"

	"github.com/webhookdb/webhookdb/models"
)

func issueEndpoints() []endpoint {
	return []endpoint{
		{path: "/repos/{owner}/{repo}/issues", scope: repoScope, paged: true,
			params: []string{"state", "labels", "assignee", "creator", "milestone", "since", "sort", "direction"}, serve: listIssues},
		{path: "/repos/{owner}/{repo}/issues/{number}", scope: repoScope, serve: getIssue},
		{path: "/repos/{owner}/{repo}/issues/{number}/comments", scope: repoScope, paged: true,
			params: []string{"since"}, serve: listIssueComments},
		{path: "/repos/{owner}/{repo}/issues/comments", scope: repoScope, paged: true,
			params: []string{"sort", "direction", "since"}, serve: listRepoIssueComments},
	}
}

// listIssues is GET /repos/{owner}/{repo}/issues: issues and pull
// requests, as GitHub lists them. state (open, closed, all; default
// open), sort (created, updated, comments; default created), direction
// (default desc), since, and the filters labels, assignee, creator and
// milestone.
func listIssues(c *call) (*result, error) {
	state, err := enumParam(c.q, "state", "Issue", "open", "open", "closed", "all")
	if err != nil {
		return nil, err
	}
	sortBy, err := enumParam(c.q, "sort", "Issue", "created", "created", "updated", "comments")
	if err != nil {
		return nil, err
	}
	dir, err := enumParam(c.q, "direction", "Issue", "desc", "asc", "desc")
	if err != nil {
		return nil, err
	}
	since, hasSince, err := sinceParam(c.q, "Issue")
	if err != nil {
		return nil, err
	}
	mods := []qm.QueryMod{models.GithubIssueWhere.RepoID.EQ(c.repo.ID)}
	if state != "all" {
		mods = append(mods, models.GithubIssueWhere.State.EQ(state))
	}
	if hasSince {
		mods = append(mods, qm.Where("updated_at >= ?", since))
	}
	mods = append(mods, issueFilters(c)...)
	total, err := models.GithubIssues(mods...).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count issues of %s: %w", c.repo.FullName, err)
	}
	// GitHub's created order is number order; the other sorts keep
	// number order (ascending) among equals.
	order := "number " + dir
	switch sortBy {
	case "updated":
		order = "updated_at " + dir + " NULLS LAST, number ASC"
	case "comments":
		order = "coalesce(comments_count, 0) " + dir + ", number ASC"
	}
	rows, err := models.GithubIssues(append(mods, qm.OrderBy(order), qm.Limit(c.page.per), qm.Offset(c.page.offset()))...).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read issues of %s: %w", c.repo.FullName, err)
	}
	n, err := loadIssueNested(c, rows)
	if err != nil {
		return nil, err
	}
	out := make([]*github.Issue, 0, len(rows))
	var at time.Time
	for _, row := range rows {
		out = append(out, n.issue(row, false))
		newest(&at, row.LastReplicatedAt)
	}
	if len(rows) == 0 {
		at = c.repo.IssuesLastScannedAt.Time
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// issueFilters are the labels, assignee, creator and milestone filters,
// as ghfake (imitating GitHub) applies them: an empty value filters
// nothing.
func issueFilters(c *call) []qm.QueryMod {
	var mods []qm.QueryMod
	if v := c.q.Get("labels"); v != "" {
		if names := issueLabelNames(v); len(names) > 0 {
			// All of them, without regard to case.
			mods = append(mods, qm.Where(`(SELECT count(DISTINCT lower(a.label_name)) FROM github_issue_label_association a
				WHERE a.issue_id = github_issue.id AND lower(a.label_name) = ANY(?)) = ?`, types.StringArray(names), len(names)))
		}
	}
	assigned := "(assignee_login IS NOT NULL OR coalesce(cardinality(assignee_logins), 0) > 0)"
	switch v := c.q.Get("assignee"); v {
	case "":
	case "*":
		mods = append(mods, qm.Where(assigned))
	case "none":
		mods = append(mods, qm.Where("NOT "+assigned))
	default:
		mods = append(mods, qm.Where("(lower(assignee_login) = lower(?) OR lower(?) = ANY(SELECT lower(x) FROM unnest(assignee_logins) x))", v, v))
	}
	if v := c.q.Get("creator"); v != "" {
		mods = append(mods, qm.Where("lower(user_login) = lower(?)", v))
	}
	switch v := c.q.Get("milestone"); v {
	case "":
	case "*":
		mods = append(mods, models.GithubIssueWhere.MilestoneNumber.IsNotNull())
	case "none":
		mods = append(mods, models.GithubIssueWhere.MilestoneNumber.IsNull())
	default:
		// A number that is no milestone, or no number at all, lists
		// nothing, as ghfake answers (GitHub does not document it).
		n, ok := number(v)
		if !ok {
			mods = append(mods, qm.Where("false"))
		} else {
			mods = append(mods, qm.Where("milestone_number = ?", n))
		}
	}
	return mods
}

// issueLabelNames splits labels=a,b into distinct lowercase names,
// dropping empty names and the blanks around names.
func issueLabelNames(v string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range strings.Split(v, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// getIssue is GET /repos/{owner}/{repo}/issues/{number}, a pull request's
// issue side too. GitHub answers 410 for a deleted issue and 301 for a
// transferred one; the replica removes both, so they are 404 here.
func getIssue(c *call) (*result, error) {
	n, ok := number(c.r.PathValue("number"))
	if !ok {
		return nil, notFound()
	}
	row, err := findIssue(c, n)
	if err != nil {
		return nil, err
	}
	nested, err := loadIssueNested(c, []*models.GithubIssue{row})
	if err != nil {
		return nil, err
	}
	return &result{body: nested.issue(row, true), replicatedAt: row.LastReplicatedAt.Time}, nil
}

// findIssue reads issue n of the call's repository; of two rows crossing
// in a transfer, the newer.
func findIssue(c *call, n int) (*models.GithubIssue, error) {
	row, err := models.GithubIssues(models.GithubIssueWhere.RepoID.EQ(c.repo.ID), models.GithubIssueWhere.Number.EQ(n),
		qm.OrderBy("updated_at DESC NULLS LAST, id DESC")).One(c.ctx, c.api.db)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("read issue %d of %s: %w", n, c.repo.FullName, err)
	}
	return row, nil
}
