package handlers

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// fields is what a row must hold, column by column. Values are nil (NULL),
// string, int, int64, bool, time.Time or []string.
type fields map[string]any

// p turns an optional payload field into its expected column value.
func p[T any](v *T) any {
	if v == nil {
		return nil
	}
	return *v
}

// tsv is the expected value of a timestamp column.
func tsv(v *github.Timestamp) any {
	if v == nil {
		return nil
	}
	return v.Time
}

func userIDOf(u *github.User) any {
	if u == nil {
		return nil
	}
	return p(u.ID)
}

func userLoginOf(u *github.User) any {
	if u == nil {
		return nil
	}
	return p(u.Login)
}

// loadRow reads one row as JSON, or nil when there is none.
func loadRow(t testing.TB, db *sql.DB, table, where string, args ...any) map[string]any {
	t.Helper()
	var raw []byte
	err := db.QueryRow(`SELECT to_jsonb(t) FROM `+table+` t WHERE `+where, args...).Scan(&raw)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		t.Fatalf("load %s where %s %v: %v", table, where, args, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s row: %v", table, err)
	}
	return m
}

// assertRow checks every field of want against the stored row.
func assertRow(t testing.TB, db *sql.DB, table, where string, args []any, want fields) map[string]any {
	t.Helper()
	got := loadRow(t, db, table, where, args...)
	if got == nil {
		t.Errorf("%s: no row where %s %v", table, where, args)
		return nil
	}
	cols := make([]string, 0, len(want))
	for c := range want {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		actual, ok := got[c]
		if !ok {
			t.Errorf("%s has no column %s", table, c)
			continue
		}
		if msg := compare(want[c], actual); msg != "" {
			t.Errorf("%s.%s: %s", table, c, msg)
		}
	}
	return got
}

func compare(want, got any) string {
	switch w := want.(type) {
	case nil:
		if got != nil {
			return fmt.Sprintf("got %v, want NULL", got)
		}
	case string:
		if g, ok := got.(string); !ok || g != w {
			return fmt.Sprintf("got %#v, want %q", got, w)
		}
	case bool:
		if g, ok := got.(bool); !ok || g != w {
			return fmt.Sprintf("got %#v, want %v", got, w)
		}
	case int:
		return compare(int64(w), got)
	case int64:
		if g, ok := got.(float64); !ok || int64(g) != w {
			return fmt.Sprintf("got %#v, want %d", got, w)
		}
	case time.Time:
		g, ok := got.(string)
		if !ok {
			return fmt.Sprintf("got %#v, want %s", got, w)
		}
		gt, err := time.Parse(time.RFC3339Nano, g)
		if err != nil || !gt.Equal(w) {
			return fmt.Sprintf("got %s, want %s", g, w.UTC())
		}
	case []string:
		ga, ok := got.([]any)
		if !ok && len(w) > 0 {
			return fmt.Sprintf("got %#v, want %v", got, w)
		}
		gs := make([]string, 0, len(ga))
		for _, x := range ga {
			s, _ := x.(string)
			gs = append(gs, s)
		}
		if strings.Join(gs, "\x00") != strings.Join(w, "\x00") {
			return fmt.Sprintf("got %v, want %v", gs, w)
		}
	default:
		return fmt.Sprintf("unsupported expected type %T", want)
	}
	return ""
}

// strings of a one-column query, sorted.
func column(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	sort.Strings(out)
	return out
}

func labelNames(labels []*github.Label) []string {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		out = append(out, l.GetName())
	}
	sort.Strings(out)
	return out
}

func repositoryFields(r *github.Repository) fields {
	var orgID, orgLogin any
	if r.Organization != nil {
		orgID, orgLogin = p(r.Organization.ID), p(r.Organization.Login)
	} else if r.GetOwner().GetType() == "Organization" {
		// Webhooks leave the organization out of the repository; its
		// owner is the organization.
		orgID, orgLogin = p(r.Owner.ID), p(r.Owner.Login)
	}
	return fields{
		"id": p(r.ID), "name": p(r.Name), "full_name": p(r.FullName), "owner_id": userIDOf(r.Owner),
		"owner_login": userLoginOf(r.Owner), "organization_id": orgID, "organization_login": orgLogin,
		"private": p(r.Private), "description": p(r.Description), "fork": p(r.Fork), "archived": p(r.Archived),
		"default_branch": p(r.DefaultBranch), "language": p(r.Language), "stargazers_count": p(r.StargazersCount),
		"forks_count": p(r.ForksCount), "open_issues_count": p(r.OpenIssuesCount), "created_at": tsv(r.CreatedAt),
		"updated_at": tsv(r.UpdatedAt), "pushed_at": tsv(r.PushedAt), "html_url": p(r.HTMLURL),
	}
}

func issueFields(repoID int64, is *github.Issue) fields {
	var ms any
	if is.Milestone != nil {
		ms = p(is.Milestone.Number)
	}
	// state is NOT NULL; a payload without one (pinned, unpinned) is an
	// open issue to the process layer.
	state := p(is.State)
	if state == nil {
		state = "open"
	}
	return fields{
		"id": p(is.ID), "repo_id": repoID, "number": p(is.Number), "state": state, "title": p(is.Title),
		"body": p(is.Body), "user_id": userIDOf(is.User), "user_login": userLoginOf(is.User),
		"assignee_id": userIDOf(is.Assignee), "assignee_login": userLoginOf(is.Assignee), "milestone_number": ms,
		"comments_count": p(is.Comments), "locked": p(is.Locked), "is_pull_request": is.IsPullRequest(),
		"created_at": tsv(is.CreatedAt), "updated_at": tsv(is.UpdatedAt), "closed_at": tsv(is.ClosedAt),
		"html_url": p(is.HTMLURL),
	}
}

func pullRequestFields(pr *github.PullRequest) fields {
	var ms any
	if pr.Milestone != nil {
		ms = p(pr.Milestone.Number)
	}
	var headRepo any
	if pr.Head.Repo != nil {
		headRepo = p(pr.Head.Repo.ID)
	}
	return fields{
		"id": p(pr.ID), "number": p(pr.Number), "base_repo_id": p(pr.Base.Repo.ID), "head_repo_id": headRepo,
		"base_ref": p(pr.Base.Ref), "head_ref": p(pr.Head.Ref), "head_sha": p(pr.Head.SHA), "state": p(pr.State),
		"locked": p(pr.Locked), "draft": p(pr.Draft), "title": p(pr.Title), "body": p(pr.Body),
		"user_id": userIDOf(pr.User), "user_login": userLoginOf(pr.User), "assignee_id": userIDOf(pr.Assignee),
		"assignee_login": userLoginOf(pr.Assignee), "milestone_number": ms, "merged": p(pr.Merged),
		"mergeable": p(pr.Mergeable), "merged_at": tsv(pr.MergedAt), "merged_by_id": userIDOf(pr.MergedBy),
		"merged_by_login": userLoginOf(pr.MergedBy), "comments_count": p(pr.Comments),
		"review_comments_count": p(pr.ReviewComments), "commits_count": p(pr.Commits),
		"additions": p(pr.Additions), "deletions": p(pr.Deletions), "changed_files": p(pr.ChangedFiles),
		"created_at": tsv(pr.CreatedAt), "updated_at": tsv(pr.UpdatedAt), "closed_at": tsv(pr.ClosedAt),
	}
}

func milestoneFields(repoID int64, m *github.Milestone) fields {
	return fields{
		"repo_id": repoID, "number": p(m.Number), "id": p(m.ID), "state": p(m.State), "title": p(m.Title),
		"description": p(m.Description), "creator_id": userIDOf(m.Creator), "creator_login": userLoginOf(m.Creator),
		"open_issues_count": p(m.OpenIssues), "closed_issues_count": p(m.ClosedIssues),
		"created_at": tsv(m.CreatedAt), "updated_at": tsv(m.UpdatedAt), "closed_at": tsv(m.ClosedAt),
		"due_at": tsv(m.DueOn),
	}
}

func labelFields(repoID int64, l *github.Label) fields {
	return fields{"repo_id": repoID, "name": p(l.Name), "id": p(l.ID), "color": p(l.Color), "description": p(l.Description)}
}

func issueCommentFields(repoID int64, number int, c *github.IssueComment) fields {
	return fields{
		"id": p(c.ID), "repo_id": repoID, "issue_number": number, "user_id": userIDOf(c.User),
		"user_login": userLoginOf(c.User), "body": p(c.Body), "created_at": tsv(c.CreatedAt), "updated_at": tsv(c.UpdatedAt),
	}
}

func reviewFields(prID int64, r *github.PullRequestReview) fields {
	// One spelling of the state whatever the source (webhooks send it in
	// lower case, the API in upper case).
	var state any
	if r.State != nil {
		state = strings.ToUpper(*r.State)
	}
	return fields{
		"id": p(r.ID), "pull_request_id": prID, "user_id": userIDOf(r.User), "user_login": userLoginOf(r.User),
		"state": state, "body": p(r.Body), "commit_id": p(r.CommitID), "submitted_at": tsv(r.SubmittedAt),
	}
}

func reviewCommentFields(prID int64, c *github.PullRequestComment) fields {
	return fields{
		"id": p(c.ID), "pull_request_id": prID, "review_id": p(c.PullRequestReviewID), "user_id": userIDOf(c.User),
		"user_login": userLoginOf(c.User), "path": p(c.Path), "line": p(c.Line), "body": p(c.Body),
		"in_reply_to_id": p(c.InReplyTo), "created_at": tsv(c.CreatedAt), "updated_at": tsv(c.UpdatedAt),
	}
}
