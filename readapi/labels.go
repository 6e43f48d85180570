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

func labelEndpoints() []endpoint {
	return []endpoint{
		{path: "/repos/{owner}/{repo}/labels", scope: repoScope, paged: true, serve: listLabels},
		{path: "/repos/{owner}/{repo}/labels/{name}", scope: repoScope, serve: getLabel},
	}
}

// listLabels is GET /repos/{owner}/{repo}/labels, in id order as GitHub
// lists them (creation order).
func listLabels(c *call) (*result, error) {
	where := models.GithubIssueLabelWhere.RepoID.EQ(c.repo.ID)
	total, err := models.GithubIssueLabels(where).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count labels of %s: %w", c.repo.FullName, err)
	}
	rows, err := models.GithubIssueLabels(where, qm.OrderBy("id"), qm.Limit(c.page.per), qm.Offset(c.page.offset())).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read labels of %s: %w", c.repo.FullName, err)
	}
	out := make([]*github.Label, 0, len(rows))
	var at time.Time
	for _, l := range rows {
		out = append(out, label(l))
		newest(&at, l.LastReplicatedAt)
	}
	if len(rows) == 0 {
		at = c.repo.LabelsLastScannedAt.Time
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// getLabel is GET /repos/{owner}/{repo}/labels/{name}; GitHub matches
// the name without regard to case.
func getLabel(c *call) (*result, error) {
	l, err := models.GithubIssueLabels(models.GithubIssueLabelWhere.RepoID.EQ(c.repo.ID),
		qm.Where("lower(name) = lower(?)", c.r.PathValue("name")), qm.OrderBy("name = ? DESC", c.r.PathValue("name"))).One(c.ctx, c.api.db)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("read label %q of %s: %w", c.r.PathValue("name"), c.repo.FullName, err)
	}
	return &result{body: label(l), replicatedAt: l.LastReplicatedAt.Time}, nil
}
