package readapi

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

func milestoneEndpoints() []endpoint {
	return []endpoint{
		{path: "/repos/{owner}/{repo}/milestones", scope: repoScope, paged: true,
			params: []string{"state", "sort", "direction"}, serve: listMilestones},
		{path: "/repos/{owner}/{repo}/milestones/{number}", scope: repoScope, serve: getMilestone},
	}
}

// listMilestones is GET /repos/{owner}/{repo}/milestones: state (open,
// closed, all; default open), sort (due_on, completeness; default
// due_on) and direction (asc, desc; default asc).
func listMilestones(c *call) (*result, error) {
	state, err := enumParam(c.q, "state", "Milestone", "open", "open", "closed", "all")
	if err != nil {
		return nil, err
	}
	sortBy, err := enumParam(c.q, "sort", "Milestone", "due_on", "due_on", "completeness")
	if err != nil {
		return nil, err
	}
	dir, err := enumParam(c.q, "direction", "Milestone", "asc", "asc", "desc")
	if err != nil {
		return nil, err
	}
	mods := []qm.QueryMod{models.GithubMilestoneWhere.RepoID.EQ(c.repo.ID)}
	if state != "all" {
		mods = append(mods, models.GithubMilestoneWhere.State.EQ(nullString(state)))
	}
	total, err := models.GithubMilestones(mods...).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count milestones of %s: %w", c.repo.FullName, err)
	}
	// GitHub puts milestones without a due date after those with one;
	// ties go in creation (number) order.
	order := "due_at " + dir + " NULLS LAST, number " + dir
	if sortBy == "completeness" {
		order = "(CASE WHEN coalesce(open_issues_count,0)+coalesce(closed_issues_count,0) = 0 THEN 0 ELSE closed_issues_count::float / (open_issues_count+closed_issues_count) END) " + dir + ", number " + dir
	}
	rows, err := models.GithubMilestones(append(mods, qm.OrderBy(order), qm.Limit(c.page.per), qm.Offset(c.page.offset()))...).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read milestones of %s: %w", c.repo.FullName, err)
	}
	var creators []int64
	for _, m := range rows {
		creators = append(creators, m.CreatorID.Int64)
	}
	p, err := loadPeople(c.ctx, c, creators, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*github.Milestone, 0, len(rows))
	var at time.Time
	for _, m := range rows {
		out = append(out, milestone(m, p))
		newest(&at, m.LastReplicatedAt)
	}
	if len(rows) == 0 {
		at = c.repo.MilestonesLastScannedAt.Time
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// getMilestone is GET /repos/{owner}/{repo}/milestones/{number}.
func getMilestone(c *call) (*result, error) {
	n, ok := number(c.r.PathValue("number"))
	if !ok {
		return nil, notFound()
	}
	m, err := models.FindGithubMilestone(c.ctx, c.api.db, c.repo.ID, n)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("read milestone %d of %s: %w", n, c.repo.FullName, err)
	}
	p, err := loadPeople(c.ctx, c, []int64{m.CreatorID.Int64}, nil)
	if err != nil {
		return nil, err
	}
	return &result{body: milestone(m, p), replicatedAt: m.LastReplicatedAt.Time}, nil
}
