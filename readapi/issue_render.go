package readapi

import (
	"fmt"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// issueNested is what a page of issues embeds, read in one query per
// kind: labels, milestones, the pull requests of the pull request rows,
// and the users.
type issueNested struct {
	labels     map[int64][]*models.GithubIssueLabel
	milestones map[int]*models.GithubMilestone
	pulls      map[int]*models.GithubPullRequest
	people     *people
}

// issueLabelRow is a label with the issue it is on.
type issueLabelRow struct {
	models.GithubIssueLabel `boil:",bind"`
	IssueID                 int64 `boil:"assoc_issue_id"`
}

// loadIssueNested reads what rows (issues of the call's repository)
// embed. A pull request's labels are read from its issue row's
// associations: process keeps them in step with the pull request's.
func loadIssueNested(c *call, rows []*models.GithubIssue) (*issueNested, error) {
	n := &issueNested{labels: map[int64][]*models.GithubIssueLabel{}, milestones: map[int]*models.GithubMilestone{},
		pulls: map[int]*models.GithubPullRequest{}}
	if len(rows) == 0 {
		n.people = &people{byID: map[int64]*models.GithubUser{}, byLogin: map[string]*models.GithubUser{}}
		return n, nil
	}
	var ids []int64
	var msNumbers, prNumbers []int64
	for _, r := range rows {
		ids = append(ids, r.ID)
		if r.MilestoneNumber.Valid {
			msNumbers = append(msNumbers, int64(r.MilestoneNumber.Int))
		}
		if r.IsPullRequest {
			prNumbers = append(prNumbers, int64(r.Number))
		}
	}
	var labels []*issueLabelRow
	// GitHub lists an issue's labels by name.
	err := models.NewQuery(qm.Select("l.*", "a.issue_id AS assoc_issue_id"), qm.From("github_issue_label l"),
		qm.InnerJoin("github_issue_label_association a ON a.repo_id = l.repo_id AND a.label_name = l.name"),
		qm.Where("a.issue_id = ANY(?)", int64Array(ids)), qm.OrderBy("a.issue_id, lower(l.name), l.name")).Bind(c.ctx, c.api.db, &labels)
	if err != nil {
		return nil, fmt.Errorf("read the labels of %d issues of %s: %w", len(ids), c.repo.FullName, err)
	}
	for _, l := range labels {
		lab := l.GithubIssueLabel
		n.labels[l.IssueID] = append(n.labels[l.IssueID], &lab)
	}
	var people []int64
	if len(msNumbers) > 0 {
		ms, err := models.GithubMilestones(models.GithubMilestoneWhere.RepoID.EQ(c.repo.ID),
			qm.Where("number = ANY(?)", int64Array(dedupe(msNumbers)))).All(c.ctx, c.api.db)
		if err != nil {
			return nil, fmt.Errorf("read the milestones of %d issues of %s: %w", len(ids), c.repo.FullName, err)
		}
		for _, m := range ms {
			n.milestones[m.Number] = m
			people = append(people, m.CreatorID.Int64)
		}
	}
	if len(prNumbers) > 0 {
		prs, err := models.GithubPullRequests(models.GithubPullRequestWhere.BaseRepoID.EQ(c.repo.ID),
			qm.Where("number = ANY(?)", int64Array(prNumbers)), qm.OrderBy("updated_at ASC NULLS FIRST, id")).All(c.ctx, c.api.db)
		if err != nil {
			return nil, fmt.Errorf("read the pull requests of %d issues of %s: %w", len(ids), c.repo.FullName, err)
		}
		for _, p := range prs {
			n.pulls[p.Number] = p // the newest wins
		}
	}
	var logins []string
	for _, r := range rows {
		people = append(people, r.UserID.Int64, r.AssigneeID.Int64, r.ClosedByID.Int64)
		logins = append(logins, r.AssigneeLogins...)
	}
	if n.people, err = loadPeople(c.ctx, c, people, logins); err != nil {
		return nil, err
	}
	return n, nil
}

// issue renders row as GitHub's issue object; full is GET of one issue,
// which adds closed_by. Fields the replica does not keep (the API urls,
// reactions, timeline) are left out.
func (n *issueNested) issue(row *models.GithubIssue, full bool) *github.Issue {
	p := n.people
	out := &github.Issue{
		ID:                ptr(row.ID),
		NodeID:            str(row.NodeID),
		Number:            ptr(row.Number),
		Title:             ptr(row.Title),
		Body:              str(row.Body),
		State:             ptr(row.State),
		StateReason:       str(row.StateReason),
		Locked:            boolean(row.Locked),
		ActiveLockReason:  str(row.ActiveLockReason),
		User:              p.user(row.UserID, row.UserLogin),
		Assignee:          p.user(row.AssigneeID, row.AssigneeLogin),
		Comments:          integer(row.CommentsCount),
		AuthorAssociation: str(row.AuthorAssociation),
		HTMLURL:           str(row.HTMLURL),
		CreatedAt:         stamp(row.CreatedAt),
		UpdatedAt:         stamp(row.UpdatedAt),
		ClosedAt:          stamp(row.ClosedAt),
		Labels:            []*github.Label{},
	}
	switch {
	case row.AssigneeLogins != nil:
		out.Assignees = p.usersByLogin(row.AssigneeLogins)
	case out.Assignee != nil:
		out.Assignees = []*github.User{out.Assignee}
	}
	for _, l := range n.labels[row.ID] {
		out.Labels = append(out.Labels, label(l))
	}
	if row.MilestoneNumber.Valid {
		if m := n.milestones[row.MilestoneNumber.Int]; m != nil {
			out.Milestone = milestone(m, p)
		}
	}
	if full {
		out.ClosedBy = p.user(row.ClosedByID, row.ClosedByLogin)
	}
	if !row.IsPullRequest {
		// An issue is never a draft; GitHub sends false.
		out.Draft = ptr(false)
		return out
	}
	// go-github's IsPullRequest() looks for this object. Its API urls are
	// not stored, so only html_url and merged_at are served.
	links := &github.PullRequestLinks{HTMLURL: str(row.HTMLURL)}
	if pr := n.pulls[row.Number]; pr != nil {
		if pr.HTMLURL.Valid {
			links.HTMLURL = str(pr.HTMLURL)
		}
		links.MergedAt = stamp(pr.MergedAt)
		out.Draft = boolean(pr.Draft)
	}
	out.PullRequestLinks = links
	return out
}
