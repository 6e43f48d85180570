package readapi

import (
	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
)

func repositoryEndpoints() []endpoint {
	return []endpoint{{path: "/repos/{owner}/{repo}", scope: repoScope, serve: getRepository}}
}

// getRepository is GET /repos/{owner}/{repo}, with its organization.
func getRepository(c *call) (*result, error) {
	var owner *models.GithubUser
	ids := []int64{c.repo.OwnerID.Int64}
	if c.repo.OrganizationID.Valid {
		ids = append(ids, c.repo.OrganizationID.Int64)
	}
	p, err := loadPeople(c.ctx, c, ids, nil)
	if err != nil {
		return nil, err
	}
	owner = p.byID[c.repo.OwnerID.Int64]
	out := repository(c.repo, owner)
	body := any(out)
	if c.repo.OrganizationID.Valid {
		// GitHub renders the organization as a simple user, which
		// go-github's Repository.Organization cannot carry.
		body = withOrganization{out, p.user(c.repo.OrganizationID, c.repo.OrganizationLogin)}
	}
	return &result{body: body, replicatedAt: c.repo.LastReplicatedAt.Time}, nil
}

// withOrganization is a repository with its organization rendered as
// GitHub does; the outer field hides go-github's.
type withOrganization struct {
	*github.Repository
	Organization *github.User `json:"organization,omitempty"`
}
