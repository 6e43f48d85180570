package testutil

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// World is the part of ghfake.World that AssertReplicaMatches reads.
// ghfake satisfies it; testutil may not import ghfake (see
// internal/layering), hence the interface.
type World interface {
	Repository(owner, repo string) *github.Repository
	Labels(owner, repo string) []*github.Label
	Milestones(owner, repo string) []*github.Milestone
	IssuesAndPulls(owner, repo string) []*github.Issue
	IssueComments(owner, repo string, number int) []*github.IssueComment
	PullRequests(owner, repo string) []*github.PullRequest
	PullRequestFiles(owner, repo string, number int) []*github.CommitFile
	Reviews(owner, repo string, number int) []*github.PullRequestReview
	ReviewComments(owner, repo string, number int) []*github.PullRequestComment
}

// replicaTable is one table of the comparison: its columns (SQL
// expressions over the table aliased t) and the rows the world says it
// must hold, keyed by the first keyCols columns.
type replicaTable struct {
	name    string
	from    string // FROM clause; $1 is the repository ids
	cols    []string
	keyCols int
	want    [][]any
}

// ReplicaScope is what AssertReplicaMatches compares.
type ReplicaScope struct {
	// Repos are the repositories compared, "owner/name".
	Repos []string
	// ReviewBodyEmptyIsNull compares a review without text alike whether
	// it is NULL or "": GitHub's API sends "" and its webhooks null, so a
	// review the replica got from either spells it either way.
	ReviewBodyEmptyIsNull bool
}

// AssertReplicaMatches compares the replica's rows of the scope's
// repositories with the world, table by table and field by field: every
// row GitHub has, none it lacks, each column equal. It fails on an empty
// table too, since comparing nothing proves nothing.
func AssertReplicaMatches(t testing.TB, db *sql.DB, w World, scope ReplicaScope) {
	t.Helper()
	tables, ids, err := worldTables(w, scope)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		assertTable(t, db, tb, ids)
	}
}

// TableDiff is how one table of the replica differs from the world.
type TableDiff struct {
	Table string
	// Want is the number of rows the world has.
	Want int
	// Missing rows the world has and the replica lacks; Extra rows the
	// replica has and the world lacks; Differ rows in both with at least
	// one column unequal.
	Missing, Extra, Differ int
	// Examples are the first few differences, in words.
	Examples []string
	// MissingKeys, ExtraKeys and DifferKeys are the keys of those rows,
	// as rendered (the key columns joined by spaces).
	MissingKeys, ExtraKeys, DifferKeys []string
	// DifferColumns are, per key of DifferKeys, the columns that differ.
	DifferColumns map[string][]string
}

// CompareReplica is AssertReplicaMatches that counts instead of failing:
// per table, the rows missing, extra and different. Its error is a failure
// to read the world or the database, never a difference.
func CompareReplica(ctx context.Context, db *sql.DB, w World, scope ReplicaScope) ([]TableDiff, error) {
	tables, ids, err := worldTables(w, scope)
	if err != nil {
		return nil, err
	}
	var out []TableDiff
	for _, tb := range tables {
		d, _, err := compareTable(ctx, db, tb, ids)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// worldTables fills the tables with the rows the world says the replica
// must hold, and returns the scope's repository ids.
func worldTables(w World, scope ReplicaScope) ([]replicaTable, []int64, error) {
	var ids []int64
	tables := replicaTables()
	reviewBody := func(b *string) *string { return b }
	if scope.ReviewBodyEmptyIsNull {
		tables[7].cols[4] = "coalesce(t.body, '') AS body"
		reviewBody = func(b *string) *string {
			if b == nil {
				return new(string)
			}
			return b
		}
	}
	add := func(i int, row ...any) { tables[i].want = append(tables[i].want, row) }
	for _, fn := range scope.Repos {
		owner, name, _ := strings.Cut(fn, "/")
		r := w.Repository(owner, name)
		if r == nil {
			return nil, nil, fmt.Errorf("the world has no repository %s", fn)
		}
		rid := r.GetID()
		ids = append(ids, rid)
		add(0, r.ID, r.FullName, loginOf(r.Owner), r.Private, r.Description, r.Fork, r.Archived, r.DefaultBranch,
			r.Language, r.HTMLURL, r.CreatedAt)
		for _, l := range w.Labels(owner, name) {
			add(1, rid, l.Name, l.ID, l.Color, l.Description)
		}
		for _, m := range w.Milestones(owner, name) {
			add(2, rid, m.Number, m.ID, m.Title, m.State, m.Description, loginOf(m.Creator), m.OpenIssues,
				m.ClosedIssues, m.DueOn, m.ClosedAt, m.CreatedAt)
		}
		for _, is := range w.IssuesAndPulls(owner, name) {
			var labels []string
			for _, l := range is.Labels {
				labels = append(labels, l.GetName())
			}
			sort.Strings(labels)
			var ms *int
			if is.Milestone != nil {
				ms = is.Milestone.Number
			}
			add(3, is.ID, rid, is.Number, is.State, is.Title, is.Body, loginOf(is.User), loginOf(is.Assignee), ms,
				is.Comments, is.Locked, is.IsPullRequest(), is.CreatedAt, is.UpdatedAt, is.ClosedAt, strings.Join(labels, ","))
			for _, c := range w.IssueComments(owner, name, is.GetNumber()) {
				add(4, c.ID, rid, is.Number, loginOf(c.User), c.Body, c.CreatedAt, c.UpdatedAt)
			}
		}
		for _, pr := range w.PullRequests(owner, name) {
			add(5, pr.ID, rid, pr.Number, pr.State, pr.Title, pr.Body, loginOf(pr.User), pr.Head.SHA, pr.Head.Ref,
				pr.Base.Ref, pr.Draft, pr.Merged, pr.MergedAt, loginOf(pr.MergedBy), pr.Additions, pr.Deletions,
				pr.ChangedFiles, pr.CreatedAt, pr.UpdatedAt, pr.ClosedAt)
			for _, f := range w.PullRequestFiles(owner, name, pr.GetNumber()) {
				add(6, pr.ID, f.Filename, f.Status, f.Additions, f.Deletions, f.Changes, f.SHA, f.Patch, f.PreviousFilename)
			}
			for _, rv := range w.Reviews(owner, name, pr.GetNumber()) {
				// One spelling of the state whatever the source (webhooks
				// send it in lower case, the API in upper case).
				add(7, rv.ID, pr.ID, strings.ToUpper(rv.GetState()), loginOf(rv.User), reviewBody(rv.Body), rv.CommitID, rv.SubmittedAt)
			}
			for _, rc := range w.ReviewComments(owner, name, pr.GetNumber()) {
				add(8, rc.ID, pr.ID, rc.PullRequestReviewID, loginOf(rc.User), rc.Path, rc.Line, rc.Body, rc.InReplyTo,
					rc.CommitID, rc.DiffHunk, rc.CreatedAt, rc.UpdatedAt)
			}
		}
	}
	return tables, ids, nil
}

// colName is the column's name in messages: its alias, or the column.
func colName(expr string) string {
	if _, alias, ok := strings.Cut(expr, " AS "); ok {
		return alias
	}
	return strings.TrimPrefix(expr, "t.")
}

func loginOf(u *github.User) *string {
	if u == nil {
		return nil
	}
	return u.Login
}

const pullsOf = ` t JOIN github_pull_request p ON p.id = t.pull_request_id WHERE p.base_repo_id = ANY($1)`

func replicaTables() []replicaTable {
	return []replicaTable{
		{name: "github_repository", from: `github_repository t WHERE t.id = ANY($1)`, keyCols: 1,
			cols: []string{"t.id", "t.full_name", "t.owner_login", "t.private", "t.description", "t.fork", "t.archived",
				"t.default_branch", "t.language", "t.html_url", "t.created_at"}},
		{name: "github_issue_label", from: `github_issue_label t WHERE t.repo_id = ANY($1)`, keyCols: 2,
			cols: []string{"t.repo_id", "t.name", "t.id", "t.color", "t.description"}},
		{name: "github_milestone", from: `github_milestone t WHERE t.repo_id = ANY($1)`, keyCols: 2,
			cols: []string{"t.repo_id", "t.number", "t.id", "t.title", "t.state", "t.description", "t.creator_login",
				"t.open_issues_count", "t.closed_issues_count", "t.due_at", "t.closed_at", "t.created_at"}},
		{name: "github_issue", from: `github_issue t WHERE t.repo_id = ANY($1)`, keyCols: 1,
			cols: []string{"t.id", "t.repo_id", "t.number", "t.state", "t.title", "t.body", "t.user_login", "t.assignee_login",
				"t.milestone_number", "t.comments_count", "t.locked", "t.is_pull_request", "t.created_at", "t.updated_at", "t.closed_at",
				`coalesce((SELECT string_agg(a.label_name, ',' ORDER BY a.label_name) FROM github_issue_label_association a WHERE a.issue_id = t.id), '') AS labels`}},
		{name: "github_issue_comment", from: `github_issue_comment t WHERE t.repo_id = ANY($1)`, keyCols: 1,
			cols: []string{"t.id", "t.repo_id", "t.issue_number", "t.user_login", "t.body", "t.created_at", "t.updated_at"}},
		{name: "github_pull_request", from: `github_pull_request t WHERE t.base_repo_id = ANY($1)`, keyCols: 1,
			cols: []string{"t.id", "t.base_repo_id", "t.number", "t.state", "t.title", "t.body", "t.user_login", "t.head_sha",
				"t.head_ref", "t.base_ref", "t.draft", "t.merged", "t.merged_at", "t.merged_by_login", "t.additions", "t.deletions",
				"t.changed_files", "t.created_at", "t.updated_at", "t.closed_at"}},
		{name: "github_pull_request_file", from: `github_pull_request_file` + pullsOf, keyCols: 2,
			cols: []string{"t.pull_request_id", "t.filename", "t.status", "t.additions", "t.deletions", "t.changes", "t.sha",
				"t.patch", "t.previous_filename"}},
		{name: "github_pull_request_review", from: `github_pull_request_review` + pullsOf, keyCols: 1,
			cols: []string{"t.id", "t.pull_request_id", "t.state", "t.user_login", "t.body", "t.commit_id", "t.submitted_at"}},
		{name: "github_pull_request_review_comment", from: `github_pull_request_review_comment` + pullsOf, keyCols: 1,
			cols: []string{"t.id", "t.pull_request_id", "t.review_id", "t.user_login", "t.path", "t.line", "t.body",
				"t.in_reply_to_id", "t.commit_id", "t.diff_hunk", "t.created_at", "t.updated_at"}},
	}
}

// assertTable reports the rows missing from the replica, the rows it has
// that GitHub lacks, and every column that differs.
func assertTable(t testing.TB, db *sql.DB, tb replicaTable, repoIDs []int64) {
	t.Helper()
	if len(tb.want) == 0 {
		t.Errorf("%s: the world has no rows; the comparison would prove nothing", tb.name)
	}
	_, problems, err := compareTable(context.Background(), db, tb, repoIDs)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range problems {
		if i == 10 {
			t.Errorf("%s: ... %d more differences", tb.name, len(problems)-10)
			break
		}
		t.Error(p)
	}
}

// compareTable counts how the replica's rows of tb differ from the
// world's and lists every difference, sorted.
func compareTable(ctx context.Context, db *sql.DB, tb replicaTable, repoIDs []int64) (TableDiff, []string, error) {
	d := TableDiff{Table: tb.name, Want: len(tb.want), DifferColumns: map[string][]string{}}
	want := map[string][]string{}
	for _, row := range tb.want {
		vals := make([]string, len(row))
		for i, v := range row {
			vals[i] = render(v)
		}
		want[strings.Join(vals[:tb.keyCols], " ")] = vals
	}
	rows, err := db.QueryContext(ctx, `SELECT `+strings.Join(tb.cols, ", ")+` FROM `+tb.from, repoIDs)
	if err != nil {
		return d, nil, fmt.Errorf("%s: %w", tb.name, err)
	}
	defer rows.Close()
	got := map[string][]string{}
	for rows.Next() {
		raw := make([]any, len(tb.cols))
		ptrs := make([]any, len(raw))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return d, nil, fmt.Errorf("%s: %w", tb.name, err)
		}
		vals := make([]string, len(raw))
		for i, v := range raw {
			vals[i] = render(v)
		}
		got[strings.Join(vals[:tb.keyCols], " ")] = vals
	}
	if err := rows.Err(); err != nil {
		return d, nil, fmt.Errorf("%s: %w", tb.name, err)
	}
	var problems []string
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			d.Missing++
			d.MissingKeys = append(d.MissingKeys, k)
			problems = append(problems, fmt.Sprintf("%s %s: missing from the replica", tb.name, k))
			continue
		}
		differs := false
		for i := tb.keyCols; i < len(w); i++ {
			if w[i] == g[i] {
				continue
			}
			differs = true
			d.DifferColumns[k] = append(d.DifferColumns[k], colName(tb.cols[i]))
			problems = append(problems, fmt.Sprintf("%s %s: %s = %s, GitHub has %s", tb.name, k, colName(tb.cols[i]), g[i], w[i]))
		}
		if differs {
			d.Differ++
			d.DifferKeys = append(d.DifferKeys, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d.Extra++
			d.ExtraKeys = append(d.ExtraKeys, k)
			problems = append(problems, fmt.Sprintf("%s %s: in the replica, not on GitHub", tb.name, k))
		}
	}
	sort.Strings(problems)
	if len(problems) > 5 {
		d.Examples = problems[:5]
	} else {
		d.Examples = problems
	}
	return d, problems, nil
}

// render spells a world value (go-github pointers) and a scanned column
// value alike: NULL for nil, timestamps in UTC to the second (GitHub's
// precision).
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case *string:
		if x == nil {
			return "NULL"
		}
		return fmt.Sprintf("%q", *x)
	case string:
		return fmt.Sprintf("%q", x)
	case []byte:
		return fmt.Sprintf("%q", string(x))
	case *int:
		if x == nil {
			return "NULL"
		}
		return fmt.Sprint(*x)
	case *int64:
		if x == nil {
			return "NULL"
		}
		return fmt.Sprint(*x)
	case *bool:
		if x == nil {
			return "NULL"
		}
		return fmt.Sprint(*x)
	case *github.Timestamp:
		if x == nil {
			return "NULL"
		}
		return render(x.Time)
	case time.Time:
		return x.UTC().Truncate(time.Second).Format(time.RFC3339)
	default:
		return fmt.Sprint(x)
	}
}
