package readapi

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

func installationEndpoints() []endpoint {
	return []endpoint{
		{path: "/installation/repositories", scope: installationScope, paged: true, serve: listInstallationRepositories},
		{path: "/user/installations", scope: userScope, paged: true, serve: listUserInstallations},
	}
}

// installationRepositories is the answer of GET /installation/repositories.
type installationRepositories struct {
	TotalCount          int                  `json:"total_count"`
	RepositorySelection *string              `json:"repository_selection,omitempty"`
	Repositories        []*github.Repository `json:"repositories"`
}

// listInstallationRepositories is GET /installation/repositories: of the
// repositories GitHub lists for the installation token, those the
// replica holds, in id order.
func listInstallationRepositories(c *call) (*result, error) {
	where := qm.Where("github_repository.id = ANY(?)", int64Array(c.reached))
	total, err := models.GithubRepositories(where).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count the installation's repositories: %w", err)
	}
	rows, err := models.GithubRepositories(where, qm.OrderBy("id"), qm.Limit(c.page.per), qm.Offset(c.page.offset())).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read the installation's repositories: %w", err)
	}
	repos, at, err := repositories(c.ctx, c, rows)
	if err != nil {
		return nil, err
	}
	out := installationRepositories{TotalCount: int(total), Repositories: repos}
	// The installation is the one covering the repositories the token
	// reaches; its selection is on its row.
	if len(c.reached) > 0 {
		in, err := models.GithubInstallations(
			qm.InnerJoin("github_installation_repository ir ON ir.installation_id = github_installation.id"),
			qm.Where("ir.repo_id = ANY(?)", int64Array(c.reached)), qm.Limit(1)).One(c.ctx, c.api.db)
		switch {
		case err == nil:
			out.RepositorySelection = str(in.RepositorySelection)
		case !errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("read the installation of the token's repositories: %w", err)
		}
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// userInstallations is the answer of GET /user/installations.
type userInstallations struct {
	TotalCount    int                    `json:"total_count"`
	Installations []*github.Installation `json:"installations"`
}

// listUserInstallations is GET /user/installations: of the installations
// GitHub lists for the user token, those the replica holds, in id order.
func listUserInstallations(c *call) (*result, error) {
	where := []qm.QueryMod{qm.Where("id = ANY(?)", int64Array(c.reached)), models.GithubInstallationWhere.DeletedAt.IsNull()}
	total, err := models.GithubInstallations(where...).Count(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("count the user's installations: %w", err)
	}
	rows, err := models.GithubInstallations(append(where, qm.OrderBy("id"), qm.Limit(c.page.per), qm.Offset(c.page.offset()))...).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read the user's installations: %w", err)
	}
	var accounts []int64
	for _, in := range rows {
		accounts = append(accounts, in.AccountID)
	}
	p, err := loadPeople(c.ctx, c, accounts, nil)
	if err != nil {
		return nil, err
	}
	out := userInstallations{TotalCount: int(total), Installations: make([]*github.Installation, 0, len(rows))}
	var at time.Time
	for _, in := range rows {
		gi, err := installation(in, p)
		if err != nil {
			return nil, err
		}
		out.Installations = append(out.Installations, gi)
		newest(&at, in.LastReplicatedAt)
	}
	return &result{body: out, replicatedAt: at, total: int(total)}, nil
}

// installation renders an installation with its account from p.
func installation(in *models.GithubInstallation, p *people) (*github.Installation, error) {
	out := &github.Installation{
		ID:                  ptr(in.ID),
		AppID:               int64p(in.AppID),
		Account:             p.user(nullInt64(in.AccountID), nullString(in.AccountLogin)),
		TargetID:            ptr(in.AccountID),
		TargetType:          str(in.TargetType),
		RepositorySelection: str(in.RepositorySelection),
		HTMLURL:             str(in.HTMLURL),
		CreatedAt:           stamp(in.CreatedAt),
		UpdatedAt:           stamp(in.UpdatedAt),
		SuspendedAt:         stamp(in.SuspendedAt),
	}
	if in.Events != nil {
		out.Events = []string(in.Events)
	}
	if in.Permissions.Valid {
		var perms github.InstallationPermissions
		if err := json.Unmarshal(in.Permissions.JSON, &perms); err != nil {
			return nil, fmt.Errorf("read the permissions of installation %d: %w", in.ID, err)
		}
		out.Permissions = &perms
	}
	if in.SuspendedByLogin.Valid {
		out.SuspendedBy = p.userByLogin(in.SuspendedByLogin.String)
	}
	return out, nil
}
