package readapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"
	"github.com/volatiletech/sqlboiler/v4/types"

	"github.com/webhookdb/webhookdb/models"
)

// Rendering turns replica rows into go-github v60 values, whose JSON is
// GitHub's. A field the replica does not store stays nil and so is left
// out of the answer: nothing is made up (docs/read-api.md lists what is
// served). Nested objects are read in one query per page, never per row.

func str(s null.String) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func integer(n null.Int) *int {
	if !n.Valid {
		return nil
	}
	return &n.Int
}

func int64p(n null.Int64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func boolean(b null.Bool) *bool {
	if !b.Valid {
		return nil
	}
	return &b.Bool
}

func stamp(t null.Time) *github.Timestamp {
	if !t.Valid {
		return nil
	}
	return &github.Timestamp{Time: t.Time.UTC()}
}

func ptr[T any](v T) *T { return &v }

// newest keeps the latest replication time of what an answer holds.
func newest(at *time.Time, t null.Time) {
	if t.Valid && t.Time.After(*at) {
		*at = t.Time
	}
}

// people are the users an answer embeds, read once per page.
type people struct {
	byID    map[int64]*models.GithubUser
	byLogin map[string]*models.GithubUser
}

// loadPeople reads the users of ids and logins (either may be empty).
func loadPeople(ctx context.Context, c *call, ids []int64, logins []string) (*people, error) {
	p := &people{byID: map[int64]*models.GithubUser{}, byLogin: map[string]*models.GithubUser{}}
	ids = dedupe(ids)
	lower := make([]string, 0, len(logins))
	for _, l := range logins {
		lower = append(lower, strings.ToLower(l))
	}
	if len(ids) == 0 && len(lower) == 0 {
		return p, nil
	}
	users, err := models.GithubUsers(qm.Where("id = ANY(?) OR lower(login) = ANY(?)",
		types.Int64Array(ids), types.StringArray(lower))).All(ctx, c.api.db)
	if err != nil {
		return nil, fmt.Errorf("read %d users: %w", len(ids)+len(lower), err)
	}
	for _, u := range users {
		p.byID[u.ID] = u
		p.byLogin[strings.ToLower(u.Login)] = u
	}
	return p, nil
}

func dedupe(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// user is the simple user GitHub embeds, from the user's row, or from the
// id and login the embedding row keeps when the user's row is missing.
func (p *people) user(id null.Int64, login null.String) *github.User {
	if !id.Valid && !login.Valid {
		return nil
	}
	if u := p.byID[id.Int64]; id.Valid && u != nil {
		return simpleUser(u)
	}
	return &github.User{ID: int64p(id), Login: str(login)}
}

// userByLogin is the simple user of a login (assignees, reviewers are
// kept by login).
func (p *people) userByLogin(login string) *github.User {
	if u := p.byLogin[strings.ToLower(login)]; u != nil {
		return simpleUser(u)
	}
	return &github.User{Login: ptr(login)}
}

func (p *people) usersByLogin(logins []string) []*github.User {
	out := make([]*github.User, 0, len(logins))
	for _, l := range logins {
		out = append(out, p.userByLogin(l))
	}
	return out
}

// simpleUser is the user as GitHub embeds it in other objects.
func simpleUser(u *models.GithubUser) *github.User {
	return &github.User{
		Login:     ptr(u.Login),
		ID:        ptr(u.ID),
		NodeID:    str(u.NodeID),
		AvatarURL: str(u.AvatarURL),
		HTMLURL:   str(u.HTMLURL),
		Type:      str(u.Type),
		SiteAdmin: boolean(u.SiteAdmin),
	}
}

// fullUser is GET /users/{login}: the simple user and the profile.
func fullUser(u *models.GithubUser) *github.User {
	out := simpleUser(u)
	out.Name = str(u.Name)
	out.Company = str(u.Company)
	out.Blog = str(u.Blog)
	out.Location = str(u.Location)
	out.Email = str(u.Email)
	out.Hireable = boolean(u.Hireable)
	out.Bio = str(u.Bio)
	out.TwitterUsername = str(u.TwitterUsername)
	out.PublicRepos = integer(u.PublicRepos)
	out.PublicGists = integer(u.PublicGists)
	out.Followers = integer(u.Followers)
	out.Following = integer(u.Following)
	out.CreatedAt = stamp(u.CreatedAt)
	out.UpdatedAt = stamp(u.UpdatedAt)
	return out
}

// repository renders a repository; owner is its owner's row, if stored.
func repository(r *models.GithubRepository, owner *models.GithubUser) *github.Repository {
	out := &github.Repository{
		ID:              ptr(r.ID),
		NodeID:          str(r.NodeID),
		Name:            ptr(r.Name),
		FullName:        ptr(r.FullName),
		Private:         boolean(r.Private),
		Visibility:      str(r.Visibility),
		Description:     str(r.Description),
		Fork:            boolean(r.Fork),
		Archived:        boolean(r.Archived),
		Disabled:        boolean(r.Disabled),
		IsTemplate:      boolean(r.IsTemplate),
		HTMLURL:         str(r.HTMLURL),
		Homepage:        str(r.Homepage),
		DefaultBranch:   str(r.DefaultBranch),
		Language:        str(r.Language),
		Size:            integer(r.Size),
		StargazersCount: integer(r.StargazersCount),
		WatchersCount:   integer(r.WatchersCount),
		Watchers:        integer(r.WatchersCount),
		ForksCount:      integer(r.ForksCount),
		OpenIssuesCount: integer(r.OpenIssuesCount),
		OpenIssues:      integer(r.OpenIssuesCount),
		HasIssues:       boolean(r.HasIssues),
		HasProjects:     boolean(r.HasProjects),
		HasWiki:         boolean(r.HasWiki),
		HasDownloads:    boolean(r.HasDownloads),
		CreatedAt:       stamp(r.CreatedAt),
		UpdatedAt:       stamp(r.UpdatedAt),
		PushedAt:        stamp(r.PushedAt),
	}
	if r.Topics != nil {
		out.Topics = []string(r.Topics)
	}
	if owner != nil {
		out.Owner = simpleUser(owner)
	} else {
		out.Owner = &github.User{ID: int64p(r.OwnerID), Login: ptr(r.OwnerLogin), Type: str(r.OwnerType)}
	}
	return out
}

// repositories renders rows with their owners, read in one query.
func repositories(ctx context.Context, c *call, rows []*models.GithubRepository) ([]*github.Repository, time.Time, error) {
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		if r.OwnerID.Valid {
			ids = append(ids, r.OwnerID.Int64)
		}
	}
	p, err := loadPeople(ctx, c, ids, nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	out := make([]*github.Repository, 0, len(rows))
	var at time.Time
	for _, r := range rows {
		out = append(out, repository(r, p.byID[r.OwnerID.Int64]))
		newest(&at, r.LastReplicatedAt)
	}
	return out, at, nil
}

// label renders a label.
func label(l *models.GithubIssueLabel) *github.Label {
	return &github.Label{
		ID:          ptr(l.ID),
		NodeID:      str(l.NodeID),
		URL:         str(l.URL),
		Name:        ptr(l.Name),
		Color:       str(l.Color),
		Description: str(l.Description),
		Default:     boolean(l.Default),
	}
}

// milestone renders a milestone with its creator from p.
func milestone(m *models.GithubMilestone, p *people) *github.Milestone {
	return &github.Milestone{
		HTMLURL:      str(m.HTMLURL),
		ID:           ptr(m.ID),
		NodeID:       str(m.NodeID),
		Number:       ptr(m.Number),
		State:        str(m.State),
		Title:        ptr(m.Title),
		Description:  str(m.Description),
		Creator:      p.user(m.CreatorID, m.CreatorLogin),
		OpenIssues:   integer(m.OpenIssuesCount),
		ClosedIssues: integer(m.ClosedIssuesCount),
		CreatedAt:    stamp(m.CreatedAt),
		UpdatedAt:    stamp(m.UpdatedAt),
		ClosedAt:     stamp(m.ClosedAt),
		DueOn:        stamp(m.DueAt),
	}
}
