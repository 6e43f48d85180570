package process

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"
)

var userSpec = &spec{
	table:     "github_user",
	conflict:  "id",
	guard:     guardUpdatedAt,
	returning: "id::text",
	cols: cols("id!", "node_id", "login", "type", "site_admin", "name", "company", "blog",
		"location", "email", "hireable", "bio", "twitter_username", "avatar_url", "html_url",
		"public_repos", "public_gists", "followers", "following", "created_at", "updated_at~"),
}

// userRow maps a user. Users nested in other objects (owner, sender,
// assignee) carry no created_at/updated_at: they are partial and only add
// what they carry.
func userRow(u *github.User) (row, error) {
	if u == nil || u.ID == nil || u.Login == nil {
		return row{}, fmt.Errorf("user without id or login: %w", ErrInvalid)
	}
	return row{
		key:     idKey(*u.ID),
		partial: u.UpdatedAt == nil && u.CreatedAt == nil,
		version: version(u.UpdatedAt),
		vals: []any{*u.ID, str(u.NodeID), *u.Login, str(u.Type), boolean(u.SiteAdmin), str(u.Name),
			str(u.Company), str(u.Blog), str(u.Location), str(u.Email), boolean(u.Hireable), str(u.Bio),
			str(u.TwitterUsername), str(u.AvatarURL), str(u.HTMLURL), num(u.PublicRepos), num(u.PublicGists),
			num(u.Followers), num(u.Following), ts(u.CreatedAt), ts(u.UpdatedAt)},
	}, nil
}

// User upserts a user. A full user (from the users API) is newer-wins by
// updated_at; a partial one (nested in a payload, without updated_at) is
// merged in and never erases stored fields.
func User(ctx context.Context, exec boil.ContextExecutor, u *github.User, m Meta) (Outcome, error) {
	r, err := userRow(u)
	if err != nil {
		return 0, err
	}
	if err := checkMeta(m); err != nil {
		return 0, err
	}
	written, err := upsert(ctx, exec, userSpec, m, []row{r})
	if err != nil {
		return 0, fmt.Errorf("upsert user %s: %w", r.key, err)
	}
	return outcome(written, r.key), nil
}

// Users upserts many users in one or two statements.
func Users(ctx context.Context, exec boil.ContextExecutor, users []*github.User, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(users))
	for _, u := range users {
		r, err := userRow(u)
		if err != nil {
			return 0, 0, err
		}
		rows = append(rows, r)
	}
	w, err := upsert(ctx, exec, userSpec, m, rows)
	if err != nil {
		return 0, 0, fmt.Errorf("upsert %d users: %w", len(rows), err)
	}
	return len(w), distinct(rows) - len(w), nil
}

// nestedUsers writes the users found inside another object. Their
// staleness is ignored and users without an id are skipped: a nested
// object never blocks its parent.
func nestedUsers(ctx context.Context, exec boil.ContextExecutor, m Meta, users ...*github.User) error {
	rows := make([]row, 0, len(users))
	for _, u := range users {
		if r, err := userRow(u); err == nil {
			rows = append(rows, r)
		}
	}
	return writeNestedUsers(ctx, exec, m, rows)
}

// writeNestedUsers upserts rows of nested users now, or defers them to the
// end of the transaction when exec has a Later.
func writeNestedUsers(ctx context.Context, exec boil.ContextExecutor, m Meta, rows []row) error {
	if len(rows) == 0 {
		return nil
	}
	if l := laterOf(exec); l != nil {
		return l.addUsers(m, rows)
	}
	if _, err := upsert(ctx, exec, userSpec, m, rows); err != nil {
		return fmt.Errorf("upsert %d nested users: %w", len(rows), err)
	}
	return nil
}

// distinct counts the distinct keys of rows.
func distinct(rows []row) int {
	seen := make(map[string]struct{}, len(rows))
	for _, r := range rows {
		seen[r.key] = struct{}{}
	}
	return len(seen)
}

func userID(u *github.User) any {
	if u == nil {
		return nil
	}
	return i64(u.ID)
}

func userLogin(u *github.User) any {
	if u == nil {
		return nil
	}
	return str(u.Login)
}

func logins(users []*github.User) any {
	if users == nil {
		return nil
	}
	out := make([]string, 0, len(users))
	for _, u := range users {
		if u != nil && u.Login != nil {
			out = append(out, *u.Login)
		}
	}
	return out
}
