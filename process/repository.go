package process

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"
)

// Columns some repository representations leave out (the list endpoints
// have no organization, older payloads no topics or visibility) are keep
// columns.
var repositorySpec = &spec{
	table:     "github_repository",
	conflict:  "id",
	guard:     guardUpdatedAt,
	returning: "id::text",
	cols: cols("id!", "node_id", "name", "full_name", "owner_id", "owner_login", "owner_type",
		"organization_id~", "organization_login~", "private", "visibility~", "description", "fork",
		"archived", "disabled~", "is_template~", "html_url", "homepage", "default_branch", "language",
		"topics~", "size", "stargazers_count", "watchers_count", "forks_count", "open_issues_count",
		"has_issues", "has_projects", "has_wiki", "has_downloads", "created_at", "updated_at~", "pushed_at"),
}

// repositoryRow maps a repository. Repositories without updated_at (the
// ones listed in installation payloads: id, name, full_name, private) are
// partial. Owner login and name are derived from full_name when absent.
func repositoryRow(r *github.Repository) (row, error) {
	if r == nil || r.ID == nil {
		return row{}, fmt.Errorf("repository without id: %w", ErrInvalid)
	}
	name, fullName, ownerLogin := r.GetName(), r.GetFullName(), r.GetOwner().GetLogin()
	if o, n, ok := strings.Cut(fullName, "/"); ok {
		if ownerLogin == "" {
			ownerLogin = o
		}
		if name == "" {
			name = n
		}
	}
	if fullName == "" && ownerLogin != "" && name != "" {
		fullName = ownerLogin + "/" + name
	}
	if name == "" || fullName == "" || ownerLogin == "" {
		return row{}, fmt.Errorf("repository %d without name, full name or owner: %w", *r.ID, ErrInvalid)
	}
	owner := r.Owner
	ownerType, orgID, orgLogin := any(nil), any(nil), any(nil)
	if owner != nil {
		ownerType = str(owner.Type)
	}
	if r.Organization != nil {
		orgID, orgLogin = i64(r.Organization.ID), str(r.Organization.Login)
	} else if owner.GetType() == "Organization" {
		// Webhook payloads carry the organization beside the repository,
		// not in it: an organization's repository is owned by it.
		orgID, orgLogin = i64(owner.ID), ownerLogin
	}
	return row{
		key:     idKey(*r.ID),
		partial: r.UpdatedAt == nil,
		version: version(r.UpdatedAt),
		vals: []any{*r.ID, str(r.NodeID), name, fullName, userID(owner), ownerLogin, ownerType,
			orgID, orgLogin, boolean(r.Private), str(r.Visibility), str(r.Description), boolean(r.Fork),
			boolean(r.Archived), boolean(r.Disabled), boolean(r.IsTemplate), str(r.HTMLURL), str(r.Homepage),
			str(r.DefaultBranch), str(r.Language), strs(r.Topics), num(r.Size), num(r.StargazersCount),
			num(r.WatchersCount), num(r.ForksCount), num(r.OpenIssuesCount), boolean(r.HasIssues),
			boolean(r.HasProjects), boolean(r.HasWiki), boolean(r.HasDownloads), ts(r.CreatedAt),
			ts(r.UpdatedAt), ts(r.PushedAt)},
	}, nil
}

// Repository upserts a repository and its owner (a partial user; the
// organization is recorded by id and login only). Newer updated_at wins; a
// partial repository only adds what it carries.
func Repository(ctx context.Context, exec boil.ContextExecutor, r *github.Repository, m Meta) (Outcome, error) {
	rw, err := repositoryRow(r)
	if err != nil {
		return 0, err
	}
	if err := checkMeta(m); err != nil {
		return 0, err
	}
	if err := nestedUsers(ctx, exec, m, r.Owner); err != nil {
		return 0, fmt.Errorf("upsert repository %d: %w", *r.ID, err)
	}
	written, err := upsert(ctx, exec, repositorySpec, m, []row{rw})
	if err != nil {
		return 0, fmt.Errorf("upsert repository %d: %w", *r.ID, err)
	}
	return outcome(written, rw.key), nil
}

// Repositories upserts a page of repositories and their owners.
func Repositories(ctx context.Context, exec boil.ContextExecutor, repos []*github.Repository, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(repos))
	users := make([]*github.User, 0, len(repos))
	for _, r := range repos {
		rw, err := repositoryRow(r)
		if err != nil {
			return 0, 0, err
		}
		rows = append(rows, rw)
		users = append(users, r.Owner)
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return 0, 0, fmt.Errorf("upsert %d repositories: %w", len(rows), err)
	}
	w, err := writeRepositories(ctx, exec, m, rows)
	if err != nil {
		return 0, 0, err
	}
	return len(w), distinct(rows) - len(w), nil
}

func writeRepositories(ctx context.Context, exec boil.ContextExecutor, m Meta, rows []row) (map[string]struct{}, error) {
	w, err := upsert(ctx, exec, repositorySpec, m, rows)
	if err != nil {
		return nil, fmt.Errorf("upsert %d repositories: %w", len(rows), err)
	}
	return w, nil
}

// nestedRepositories writes repositories found inside another object (a
// pull request's base and head), ignoring their staleness.
func nestedRepositories(ctx context.Context, exec boil.ContextExecutor, m Meta, repos ...*github.Repository) error {
	rows := make([]row, 0, len(repos))
	users := make([]*github.User, 0, 2*len(repos))
	for _, r := range repos {
		rw, err := repositoryRow(r)
		if err != nil {
			continue
		}
		rows = append(rows, rw)
		users = append(users, r.Owner)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return err
	}
	_, err := writeRepositories(ctx, exec, m, rows)
	return err
}

// DeleteRepository removes a repository; its issues, pull requests, labels,
// milestones, comments and permissions go with it (ON DELETE CASCADE), and
// no installation lists it any more. After repository.deleted the caller
// also buries it (KindRepository); after a 404 it does not (lost access
// is no deletion).
func DeleteRepository(ctx context.Context, exec boil.ContextExecutor, repoID int64) error {
	if _, err := exec.ExecContext(ctx, `DELETE FROM github_installation_repository WHERE repo_id = $1`, repoID); err != nil {
		return fmt.Errorf("delete installation links of repository %d: %w", repoID, err)
	}
	if _, err := exec.ExecContext(ctx, `DELETE FROM github_repository WHERE id = $1`, repoID); err != nil {
		return fmt.Errorf("delete repository %d: %w", repoID, err)
	}
	return nil
}
