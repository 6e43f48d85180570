package readapi

import (
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// listIssueComments is GET /repos/{owner}/{repo}/issues/{number}/comments
// (a pull request's conversation too): in id order as GitHub lists them,
// since filtering on updated_at. A number the replica has no issue of
// answers 404, as GitHub does.
func listIssueComments(c *call) (*result, error) {
	n, ok := number(c.r.PathValue("number"))
	if !ok {
		return nil, notFound()
	}
	since, hasSince, err := sinceParam(c.q, "IssueComment")
	if err != nil {
		return nil, err
	}
	if _, err := findIssue(c, n); err != nil {
		return nil, err
	}
	mods := []qm.QueryMod{models.GithubIssueCommentWhere.RepoID.EQ(c.repo.ID), models.GithubIssueCommentWhere.IssueNumber.EQ(n)}
	if hasSince {
		mods = append(mods, qm.Where("updated_at >= ?", since))
	}
	return issueCommentPage(c, mods, "id ASC", fmt.Sprintf("issue %d of %s", n, c.repo.FullName))
}

// listRepoIssueComments is GET /repos/{owner}/{repo}/issues/comments:
// sort created (default) or updated, direction asc (default) or desc,
// ties in id order the same way, and since.
func listRepoIssueComments(c *call) (*result, error) {
	sortBy, err := enumParam(c.q, "sort", "IssueComment", "created", "created", "updated")
	if err != nil {
		return nil, err
	}
	dir, err := enumParam(c.q, "direction", "IssueComment", "asc", "asc", "desc")
	if err != nil {
		return nil, err
	}
	since, hasSince, err := sinceParam(c.q, "IssueComment")
	if err != nil {
		return nil, err
	}
	mods := []qm.QueryMod{models.GithubIssueCommentWhere.RepoID.EQ(c.repo.ID)}
	if hasSince {
		mods = append(mods, qm.Where("updated_at >= ?", since))
	}
	col := "created_at"
	if sortBy == "updated" {
		col = "updated_at"
	}
	return issueCommentPage(c, mods, col+" "+dir+" NULLS LAST, id "+dir, c.repo.FullName)
}

// issueCommentPage counts and reads one page of the comments mods
// select, in order, with their users.
func issueCommentPage(c *call, mods []qm.QueryMod, order, of string) (*result, error) {
	total, err := models.GithubIssueComments(mods...).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count the issue comments of %s: %w", of, err)
	}
	rows, err := models.GithubIssueComments(append(mods, qm.OrderBy(order), qm.Limit(c.page.per), qm.Offset(c.page.offset()))...).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read the issue comments of %s: %w", of, err)
	}
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.UserID.Int64)
	}
	p, err := loadPeople(c.ctx, c, ids, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*github.IssueComment, 0, len(rows))
	var at time.Time
	for _, r := range rows {
		out = append(out, issueComment(r, p))
		newest(&at, r.LastReplicatedAt)
	}
	if len(rows) == 0 {
		at = c.repo.IssueCommentsLastScannedAt.Time
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// issueComment renders a comment; its API urls (url, issue_url) and
// reactions are not stored and so left out.
func issueComment(r *models.GithubIssueComment, p *people) *github.IssueComment {
	return &github.IssueComment{
		ID:                ptr(r.ID),
		NodeID:            str(r.NodeID),
		HTMLURL:           str(r.HTMLURL),
		Body:              str(r.Body),
		User:              p.user(r.UserID, r.UserLogin),
		AuthorAssociation: str(r.AuthorAssociation),
		CreatedAt:         stamp(r.CreatedAt),
		UpdatedAt:         stamp(r.UpdatedAt),
	}
}
