package readapi

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

// pullPage is what a page of pull requests embeds, each kind read in one
// query for the whole page.
type pullPage struct {
	repos      map[int64]*github.Repository // rendered once, shared by every branch
	repoRows   map[int64]*models.GithubRepository
	milestones map[int]*models.GithubMilestone
	labels     map[int64][]*github.Label
	// issueComments are the comment counts of the pulls' issue rows
	// (full objects only), for a pull request stored from a list.
	issueComments map[int]null.Int
	people        *people
	at            time.Time
}

// pullLabel is a label with the pull request that carries it.
type pullLabel struct {
	models.GithubIssueLabel `boil:",bind"`
	PullRequestID           int64 `boil:"pull_request_id"`
}

// loadPullPage reads the repositories, milestones, labels and people the
// rows embed.
func loadPullPage(c *call, rows []*models.GithubPullRequest, full bool) (*pullPage, error) {
	pg := &pullPage{repos: map[int64]*github.Repository{}, repoRows: map[int64]*models.GithubRepository{c.repo.ID: c.repo},
		milestones: map[int]*models.GithubMilestone{}, labels: map[int64][]*github.Label{}, issueComments: map[int]null.Int{}}
	var ids, headRepos, numbers, milestoneNumbers []int64
	for _, pr := range rows {
		ids = append(ids, pr.ID)
		numbers = append(numbers, int64(pr.Number))
		if pr.HeadRepoID.Valid && pr.HeadRepoID.Int64 != c.repo.ID {
			headRepos = append(headRepos, pr.HeadRepoID.Int64)
		}
		if pr.MilestoneNumber.Valid {
			milestoneNumbers = append(milestoneNumbers, int64(pr.MilestoneNumber.Int))
		}
	}
	if headRepos = dedupe(headRepos); len(headRepos) > 0 {
		rs, err := models.GithubRepositories(qm.Where("id = ANY(?)", int64Array(headRepos))).All(c.ctx, c.api.db)
		if err != nil {
			return nil, fmt.Errorf("read the head repositories of pull requests of %s: %w", c.repo.FullName, err)
		}
		for _, r := range rs {
			pg.repoRows[r.ID] = r
		}
	}
	if milestoneNumbers = dedupe(milestoneNumbers); len(milestoneNumbers) > 0 {
		ms, err := models.GithubMilestones(models.GithubMilestoneWhere.RepoID.EQ(c.repo.ID),
			qm.Where("number = ANY(?)", int64Array(milestoneNumbers))).All(c.ctx, c.api.db)
		if err != nil {
			return nil, fmt.Errorf("read the milestones of pull requests of %s: %w", c.repo.FullName, err)
		}
		for _, m := range ms {
			pg.milestones[m.Number] = m
			newest(&pg.at, m.LastReplicatedAt)
		}
	}
	if len(ids) > 0 {
		var ls []*pullLabel
		// Name order, as the issue reads list them: the replica keeps no
		// order of a pull request's labels.
		err := models.GithubIssueLabels(qm.Select("github_issue_label.*", "a.pull_request_id AS pull_request_id"),
			qm.InnerJoin("github_pull_request_label_association a ON a.repo_id = github_issue_label.repo_id AND a.label_name = github_issue_label.name"),
			qm.Where("a.pull_request_id = ANY(?)", int64Array(ids)), qm.OrderBy("lower(github_issue_label.name), github_issue_label.name")).Bind(c.ctx, c.api.db, &ls)
		if err != nil {
			return nil, fmt.Errorf("read the labels of pull requests of %s: %w", c.repo.FullName, err)
		}
		for _, l := range ls {
			pg.labels[l.PullRequestID] = append(pg.labels[l.PullRequestID], label(&l.GithubIssueLabel))
			newest(&pg.at, l.LastReplicatedAt)
		}
	}
	if full && len(numbers) > 0 {
		is, err := models.GithubIssues(models.GithubIssueWhere.RepoID.EQ(c.repo.ID), models.GithubIssueWhere.IsPullRequest.EQ(true),
			qm.Where("number = ANY(?)", int64Array(numbers)), qm.OrderBy("updated_at ASC NULLS FIRST")).All(c.ctx, c.api.db)
		if err != nil {
			return nil, fmt.Errorf("read the issues of pull requests of %s: %w", c.repo.FullName, err)
		}
		for _, i := range is { // the newest row last, so it wins
			pg.issueComments[i.Number] = i.CommentsCount
		}
	}

	var userIDs []int64
	var logins []string
	for _, pr := range rows {
		userIDs = append(userIDs, pr.UserID.Int64, pr.AssigneeID.Int64)
		if full {
			userIDs = append(userIDs, pr.MergedByID.Int64)
		}
		logins = append(logins, pr.AssigneeLogins...)
		logins = append(logins, pr.RequestedReviewerLogins...)
		if _, ok := pg.repoRows[pr.HeadRepoID.Int64]; !ok {
			if owner, _, ok := strings.Cut(pr.HeadLabel.String, ":"); ok {
				logins = append(logins, owner)
			}
		}
	}
	for _, m := range pg.milestones {
		userIDs = append(userIDs, m.CreatorID.Int64)
	}
	for _, r := range pg.repoRows {
		userIDs = append(userIDs, r.OwnerID.Int64)
	}
	p, err := loadPeople(c.ctx, c, userIDs, logins)
	if err != nil {
		return nil, err
	}
	pg.people = p
	for id, r := range pg.repoRows {
		pg.repos[id] = repository(r, p.byID[r.OwnerID.Int64])
		newest(&pg.at, r.LastReplicatedAt)
	}
	return pg, nil
}

// renderPulls renders rows as GitHub's pull request list items, or with
// full as GET one pull request answers it (merge state, counts, merger).
func renderPulls(c *call, rows []*models.GithubPullRequest, full bool) ([]*github.PullRequest, time.Time, error) {
	pg, err := loadPullPage(c, rows, full)
	if err != nil {
		return nil, time.Time{}, err
	}
	out := make([]*github.PullRequest, 0, len(rows))
	for _, pr := range rows {
		out = append(out, pg.pull(pr, full))
		newest(&pg.at, pr.LastReplicatedAt)
	}
	return out, pg.at, nil
}

func (pg *pullPage) pull(pr *models.GithubPullRequest, full bool) *github.PullRequest {
	p := pg.people
	out := &github.PullRequest{
		ID:                 ptr(pr.ID),
		NodeID:             str(pr.NodeID),
		HTMLURL:            str(pr.HTMLURL),
		Number:             ptr(pr.Number),
		State:              ptr(pr.State),
		Locked:             boolean(pr.Locked),
		ActiveLockReason:   str(pr.ActiveLockReason),
		Title:              ptr(pr.Title),
		User:               p.user(pr.UserID, pr.UserLogin),
		Body:               str(pr.Body),
		CreatedAt:          stamp(pr.CreatedAt),
		UpdatedAt:          stamp(pr.UpdatedAt),
		ClosedAt:           stamp(pr.ClosedAt),
		MergedAt:           stamp(pr.MergedAt),
		MergeCommitSHA:     str(pr.MergeCommitSha),
		Assignee:           p.user(pr.AssigneeID, pr.AssigneeLogin),
		RequestedReviewers: p.usersByLogin(pr.RequestedReviewerLogins),
		Labels:             pg.labels[pr.ID],
		Draft:              boolean(pr.Draft),
		AuthorAssociation:  str(pr.AuthorAssociation),
		Head:               pg.branch(pr.HeadLabel, pr.HeadRef, pr.HeadSha, pr.HeadRepoID),
		Base:               pg.branch(null.String{}, pr.BaseRef, pr.BaseSha, null.Int64From(pr.BaseRepoID)),
	}
	switch {
	case pr.AssigneeLogins != nil:
		out.Assignees = p.usersByLogin(pr.AssigneeLogins)
	case out.Assignee != nil:
		out.Assignees = []*github.User{out.Assignee}
	}
	if out.Labels == nil {
		out.Labels = []*github.Label{}
	}
	if pr.MilestoneNumber.Valid {
		if m := pg.milestones[pr.MilestoneNumber.Int]; m != nil {
			out.Milestone = milestone(m, p)
		}
	}
	if !full {
		return out
	}
	out.Merged = boolean(pr.Merged)
	if pr.MergedByID.Valid || pr.MergedByLogin.Valid {
		out.MergedBy = p.user(pr.MergedByID, pr.MergedByLogin)
	}
	out.Comments = integer(pr.CommentsCount)
	if n, ok := pg.issueComments[pr.Number]; ok && n.Valid && !pr.CommentsCount.Valid {
		// Listed pull requests carry no count; the issue row has it.
		out.Comments = integer(n)
	}
	out.ReviewComments = integer(pr.ReviewCommentsCount)
	out.MaintainerCanModify = boolean(pr.MaintainerCanModify)
	out.Commits = integer(pr.CommitsCount)
	out.Additions = integer(pr.Additions)
	out.Deletions = integer(pr.Deletions)
	out.ChangedFiles = integer(pr.ChangedFiles)
	out.Mergeable = boolean(pr.Mergeable)
	out.Rebaseable = boolean(pr.Rebaseable)
	out.MergeableState = str(pr.MergeableState)
	return out
}

// branch is head or base: label (owner:ref), ref, sha, the repository's
// owner as user, and the repository when it is stored (a deleted fork's
// is not: then repo is left out, and the user is the label's owner).
func (pg *pullPage) branch(lbl, ref, sha null.String, repoID null.Int64) *github.PullRequestBranch {
	b := &github.PullRequestBranch{Label: str(lbl), Ref: str(ref), SHA: str(sha)}
	row := pg.repoRows[repoID.Int64]
	if !repoID.Valid || row == nil {
		if owner, _, ok := strings.Cut(lbl.String, ":"); ok && owner != "" {
			b.User = pg.people.userByLogin(owner)
		}
		return b
	}
	if !lbl.Valid && ref.Valid {
		// Only the head's label is kept; GitHub's label is owner:ref.
		b.Label = ptr(row.OwnerLogin + ":" + ref.String)
	}
	b.Repo = pg.repos[row.ID]
	b.User = b.Repo.Owner
	return b
}
