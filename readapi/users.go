package readapi

import (
	"fmt"

	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
)

func userEndpoints() []endpoint {
	return []endpoint{{path: "/users/{username}", scope: tokenScope, serve: getUser}}
}

// getUser is GET /users/{username}, a public profile any token may read
// on GitHub; logins match without regard to case.
func getUser(c *call) (*result, error) {
	login := c.r.PathValue("username")
	rows, err := models.GithubUsers(qm.Where("lower(login) = lower(?)", login), qm.OrderBy("updated_at DESC NULLS LAST, id"), qm.Limit(1)).All(c.ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read user %q: %w", login, err)
	}
	if len(rows) == 0 {
		return nil, notFound()
	}
	return &result{body: fullUser(rows[0]), replicatedAt: rows[0].LastReplicatedAt.Time}, nil
}
