package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// pageResult is what writing one page did.
type pageResult struct {
	items int
	ids   []int64
	keys  []string
	// oldest is the oldest updated_at on the page, for the early stop of
	// incremental scans (lists sorted by updated, newest first).
	oldest time.Time
}

// pageIO decodes one page and writes it inside the page's transaction.
type pageIO struct {
	dst   any
	write func(ctx context.Context, tx *sql.Tx, sc *scanRow, m process.Meta) (pageResult, error)
}

// listPage builds the pageIO of a list of T.
func listPage[T any](write func(ctx context.Context, tx *sql.Tx, sc *scanRow, items []T, m process.Meta) (pageResult, error)) func() pageIO {
	return func() pageIO {
		items := new([]T)
		return pageIO{dst: items, write: func(ctx context.Context, tx *sql.Tx, sc *scanRow, m process.Meta) (pageResult, error) {
			return write(ctx, tx, sc, *items, m)
		}}
	}
}

// collection is how one collection is listed, written, swept and chained.
type collection struct {
	name string
	// incremental lists are sorted by updated, newest first: after a
	// complete scan, a scan reads pages until one is older than it.
	incremental bool
	// parent says what the scan needs resolved: "repo" or "pull".
	parent string
	// path is the list URL (relative to the API base) without the page.
	path    func(sc *scanRow) string
	newPage func() pageIO
	// sweep deletes the rows GitHub no longer listed; the seen ids and
	// keys are in scan_page of scan $1. Nil: never swept.
	sweep func(ctx context.Context, tx *sql.Tx, sc *scanRow) (int64, error)
	// finish stamps <collection>_last_scanned_at (complete scans only).
	finish func(ctx context.Context, tx *sql.Tx, sc *scanRow) error
	// children are the scans chained after this one with children=true.
	children func(ctx context.Context, tx *sql.Tx, sc *scanRow) ([]ScanRequest, error)
	// stored is SQL true when the row of s.v, one of the ids (or keys,
	// with byKey) a page listed, is stored under parent $2; a 304 page
	// with a row missing is fetched again.
	stored string
	byKey  bool
}

// parentID is the $2 of collection.stored.
func (c *collection) parentID(sc *scanRow) int64 {
	switch c.parent {
	case "repo":
		return sc.RepoID.Int64
	case "pull":
		return sc.PullID.Int64
	}
	return sc.InstallationID.Int64
}

// repoPath is the API path of the scan's repository, or of rest under it.
func repoPath(sc *scanRow, rest string) string {
	p := fmt.Sprintf("repos/%s/%s", url.PathEscape(sc.Owner), url.PathEscape(sc.Repo))
	if rest == "" {
		return p
	}
	return p + "/" + rest
}

func stateOf(sc *scanRow) string {
	if sc.Params.State == "" {
		return "all"
	}
	return sc.Params.State
}

// seenIDs and seenKeys are SQL for the ids and keys every page of scan $1
// listed (a 304 page has its ids copied from api_etag).
const (
	seenIDs  = `ARRAY(SELECT DISTINCT unnest(seen_ids) FROM scan_page WHERE scan_id = $1 AND seen_ids IS NOT NULL)`
	seenKeys = `ARRAY(SELECT DISTINCT unnest(seen_keys) FROM scan_page WHERE scan_id = $1 AND seen_keys IS NOT NULL)`
	// notNewer keeps rows written after the scan started, by a webhook
	// or another API read (an inline sync): GitHub may have created them
	// after we read their page.
	notNewer = ` AND (last_replicated_at IS NULL OR last_replicated_at < $3)`
)

func execCount(ctx context.Context, tx *sql.Tx, what, q string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

func sweepByRepo(table, col, seen string) func(ctx context.Context, tx *sql.Tx, sc *scanRow) (int64, error) {
	return func(ctx context.Context, tx *sql.Tx, sc *scanRow) (int64, error) {
		q := `DELETE FROM ` + table + ` WHERE repo_id = $2 AND NOT (` + col + ` = ANY(` + seen + `))` + notNewer
		return execCount(ctx, tx, "sweep "+table+" of "+sc.target(), q, sc.ID, sc.RepoID.Int64, sc.StartedAt.Time)
	}
}

func sweepByPull(table, col, seen string) func(ctx context.Context, tx *sql.Tx, sc *scanRow) (int64, error) {
	return func(ctx context.Context, tx *sql.Tx, sc *scanRow) (int64, error) {
		q := `DELETE FROM ` + table + ` WHERE pull_request_id = $2 AND NOT (` + col + ` = ANY(` + seen + `))` + notNewer
		return execCount(ctx, tx, "sweep "+table+" of "+sc.target(), q, sc.ID, sc.PullID.Int64, sc.StartedAt.Time)
	}
}

func stampRepo(col string) func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
	return func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
		_, err := tx.ExecContext(ctx, `UPDATE github_repository SET `+col+` = $2 WHERE id = $1`, sc.RepoID.Int64, sc.StartedAt.Time)
		if err != nil {
			return fmt.Errorf("stamp %s of %s: %w", col, sc.target(), err)
		}
		return nil
	}
}

func stampPull(col string) func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
	return func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
		_, err := tx.ExecContext(ctx, `UPDATE github_pull_request SET `+col+` = $2 WHERE id = $1`, sc.PullID.Int64, sc.StartedAt.Time)
		if err != nil {
			return fmt.Errorf("stamp %s of %s: %w", col, sc.target(), err)
		}
		return nil
	}
}

func oldestOf(t *github.Timestamp, cur time.Time) time.Time {
	if t == nil {
		return cur
	}
	if cur.IsZero() || t.Time.Before(cur) {
		return t.Time
	}
	return cur
}

// repoChildren are the collections of a repository loaded with children.
// A full scan's children are full too.
func repoChildren(inst int64, owner, repo, by string, full bool) []ScanRequest {
	kinds := []string{CollectionLabels, CollectionMilestones, CollectionPullRequests, CollectionIssues, CollectionIssueComments}
	out := make([]ScanRequest, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, ScanRequest{Kind: k, InstallationID: inst, Owner: owner, Repo: repo,
			Children: k == CollectionPullRequests, RequestedBy: by, Full: full})
	}
	return out
}

var collections = []*collection{
	{
		name:   CollectionRepositories,
		stored: `EXISTS (SELECT 1 FROM github_installation_repository WHERE installation_id = $2 AND repo_id = s.v)`,
		path:   func(sc *scanRow) string { return "installation/repositories?per_page=100" },
		newPage: func() pageIO {
			var lr github.ListRepositories
			return pageIO{dst: &lr, write: func(ctx context.Context, tx *sql.Tx, sc *scanRow, m process.Meta) (pageResult, error) {
				var r pageResult
				if err := process.InstallationRepositories(ctx, tx, sc.InstallationID.Int64, lr.Repositories, nil, m); err != nil {
					return r, fmt.Errorf("write repositories of installation %d: %w", sc.InstallationID.Int64, err)
				}
				for _, repo := range lr.Repositories {
					r.ids = append(r.ids, repo.GetID())
				}
				r.items = len(lr.Repositories)
				return r, nil
			}}
		},
		sweep: func(ctx context.Context, tx *sql.Tx, sc *scanRow) (int64, error) {
			return execCount(ctx, tx, "sweep the repositories of "+sc.target(), `
				DELETE FROM github_installation_repository
				WHERE installation_id = $2 AND NOT (repo_id = ANY(`+seenIDs+`)) AND created_at < $3`,
				sc.ID, sc.InstallationID.Int64, sc.StartedAt.Time)
		},
		finish: func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
			_, err := tx.ExecContext(ctx, `UPDATE github_installation SET repositories_last_scanned_at = $2 WHERE id = $1`,
				sc.InstallationID.Int64, sc.StartedAt.Time)
			if err != nil {
				return fmt.Errorf("stamp repositories_last_scanned_at of %s: %w", sc.target(), err)
			}
			return nil
		},
		children: func(ctx context.Context, tx *sql.Tx, sc *scanRow) ([]ScanRequest, error) {
			rows, err := tx.QueryContext(ctx, `
				SELECT owner_login, name FROM github_repository WHERE id = ANY(`+seenIDs+`) ORDER BY id`, sc.ID)
			if err != nil {
				return nil, fmt.Errorf("repositories of %s: %w", sc.target(), err)
			}
			defer rows.Close()
			var out []ScanRequest
			for rows.Next() {
				var owner, name string
				if err := rows.Scan(&owner, &name); err != nil {
					return nil, fmt.Errorf("repositories of %s: %w", sc.target(), err)
				}
				out = append(out, repoChildren(sc.InstallationID.Int64, owner, name, sc.RequestedBy, sc.Full)...)
			}
			return out, rows.Err()
		},
	},
	{
		name:        CollectionPullRequests,
		stored:      `EXISTS (SELECT 1 FROM github_pull_request WHERE id = s.v AND base_repo_id = $2)`,
		incremental: true,
		parent:      "repo",
		path: func(sc *scanRow) string {
			return repoPath(sc, "pulls?state="+stateOf(sc)+"&sort=updated&direction=desc&per_page=100")
		},
		newPage: listPage(func(ctx context.Context, tx *sql.Tx, sc *scanRow, prs []*github.PullRequest, m process.Meta) (pageResult, error) {
			var r pageResult
			if _, _, err := process.PullRequests(ctx, tx, prs, m); err != nil {
				return r, fmt.Errorf("write pull requests of %s: %w", sc.target(), err)
			}
			for _, pr := range prs {
				r.ids = append(r.ids, pr.GetID())
				r.oldest = oldestOf(pr.UpdatedAt, r.oldest)
			}
			r.items = len(prs)
			return r, nil
		}),
		// Pull requests are not deleted on GitHub; a wrong sweep would also
		// drop their files and reviews, so they are never swept.
		finish: stampRepo("pull_requests_last_scanned_at"),
		// The list leaves out what only GET of one pull request has: the
		// counts (the files scan sums them), mergeable and merged_by. A
		// merged pull request's merged_by never changes, so it is fetched
		// once (a sync_pull_request child, with its ETag) for merged rows
		// that lack it. Open pull requests are not fetched: mergeable is
		// volatile and GitHub computes it lazily (the first GET often
		// answers null), so a backfill would pay one request per open pull
		// for a value that is stale or missing; webhooks bring it.
		children: func(ctx context.Context, tx *sql.Tx, sc *scanRow) ([]ScanRequest, error) {
			seen := seenIDs
			if sc.Since.Valid {
				// Incremental: only pull requests on pages that changed
				// can have new files, reviews or comments.
				seen = `ARRAY(SELECT DISTINCT unnest(seen_ids) FROM scan_page WHERE scan_id = $1 AND seen_ids IS NOT NULL AND NOT not_modified)`
			}
			rows, err := tx.QueryContext(ctx, `
				SELECT number, merged_at IS NOT NULL AND merged_by_id IS NULL
				FROM github_pull_request WHERE id = ANY(`+seen+`) ORDER BY number`, sc.ID)
			if err != nil {
				return nil, fmt.Errorf("pull requests of %s: %w", sc.target(), err)
			}
			defer rows.Close()
			var out []ScanRequest
			for rows.Next() {
				var n int
				var needMerger bool
				if err := rows.Scan(&n, &needMerger); err != nil {
					return nil, fmt.Errorf("pull requests of %s: %w", sc.target(), err)
				}
				for _, k := range []string{CollectionPullRequestFiles, CollectionPullRequestReviews, CollectionPullRequestReviewComments} {
					out = append(out, ScanRequest{Kind: k, InstallationID: sc.InstallationID.Int64, Owner: sc.Owner,
						Repo: sc.Repo, Number: n, RequestedBy: sc.RequestedBy, Full: sc.Full})
				}
				if needMerger {
					// Never Full: the stored ETag makes the next try of a
					// pull GitHub gives no merger for (a deleted account)
					// a free 304.
					out = append(out, ScanRequest{Kind: JobSyncPullRequest, InstallationID: sc.InstallationID.Int64,
						Owner: sc.Owner, Repo: sc.Repo, Number: n, RequestedBy: sc.RequestedBy})
				}
			}
			return out, rows.Err()
		},
	},
	{
		name:   CollectionPullRequestFiles,
		stored: `EXISTS (SELECT 1 FROM github_pull_request_file WHERE pull_request_id = $2 AND filename = s.v)`,
		byKey:  true,
		parent: "pull",
		path:   func(sc *scanRow) string { return repoPath(sc, fmt.Sprintf("pulls/%d/files?per_page=100", sc.Number)) },
		newPage: listPage(func(ctx context.Context, tx *sql.Tx, sc *scanRow, files []*github.CommitFile, m process.Meta) (pageResult, error) {
			var r pageResult
			if _, err := process.PullRequestFiles(ctx, tx, sc.PullID.Int64, files, m); err != nil {
				return r, fmt.Errorf("write files of %s: %w", sc.target(), err)
			}
			for _, f := range files {
				r.keys = append(r.keys, f.GetFilename())
			}
			r.items = len(files)
			return r, nil
		}),
		sweep: func(ctx context.Context, tx *sql.Tx, sc *scanRow) (int64, error) {
			return execCount(ctx, tx, "sweep the files of "+sc.target(), `
				DELETE FROM github_pull_request_file
				WHERE pull_request_id = $2 AND NOT (filename = ANY(`+seenKeys+`))`+notNewer,
				sc.ID, sc.PullID.Int64, sc.StartedAt.Time)
		},
		finish: func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
			// The pull request list lacks additions, deletions and
			// changed_files; the files just read give them.
			_, err := tx.ExecContext(ctx, `
				UPDATE github_pull_request p
				SET additions = f.additions, deletions = f.deletions, changed_files = f.n,
				    files_last_scanned_at = $2
				FROM (SELECT coalesce(sum(additions), 0) AS additions, coalesce(sum(deletions), 0) AS deletions,
				             count(*) AS n
				      FROM github_pull_request_file WHERE pull_request_id = $1) f
				WHERE p.id = $1`, sc.PullID.Int64, sc.StartedAt.Time)
			if err != nil {
				return fmt.Errorf("sum the files of %s: %w", sc.target(), err)
			}
			return nil
		},
	},
	{
		name:   CollectionPullRequestReviews,
		stored: `EXISTS (SELECT 1 FROM github_pull_request_review WHERE id = s.v AND pull_request_id = $2)`,
		parent: "pull",
		path:   func(sc *scanRow) string { return repoPath(sc, fmt.Sprintf("pulls/%d/reviews?per_page=100", sc.Number)) },
		newPage: listPage(func(ctx context.Context, tx *sql.Tx, sc *scanRow, reviews []*github.PullRequestReview, m process.Meta) (pageResult, error) {
			var r pageResult
			if _, _, err := process.PullRequestReviews(ctx, tx, sc.PullID.Int64, reviews, m); err != nil {
				return r, fmt.Errorf("write reviews of %s: %w", sc.target(), err)
			}
			for _, rv := range reviews {
				r.ids = append(r.ids, rv.GetID())
			}
			r.items = len(reviews)
			return r, nil
		}),
		sweep:  sweepByPull("github_pull_request_review", "id", seenIDs),
		finish: stampPull("reviews_last_scanned_at"),
	},
	{
		name:   CollectionPullRequestReviewComments,
		stored: `EXISTS (SELECT 1 FROM github_pull_request_review_comment WHERE id = s.v AND pull_request_id = $2)`,
		parent: "pull",
		path: func(sc *scanRow) string {
			return repoPath(sc, fmt.Sprintf("pulls/%d/comments?per_page=100", sc.Number))
		},
		newPage: listPage(func(ctx context.Context, tx *sql.Tx, sc *scanRow, comments []*github.PullRequestComment, m process.Meta) (pageResult, error) {
			var r pageResult
			if _, _, err := process.PullRequestReviewComments(ctx, tx, sc.PullID.Int64, comments, m); err != nil {
				return r, fmt.Errorf("write review comments of %s: %w", sc.target(), err)
			}
			for _, c := range comments {
				r.ids = append(r.ids, c.GetID())
			}
			r.items = len(comments)
			return r, nil
		}),
		sweep:  sweepByPull("github_pull_request_review_comment", "id", seenIDs),
		finish: stampPull("review_comments_last_scanned_at"),
	},
	{
		name:        CollectionIssues,
		stored:      `EXISTS (SELECT 1 FROM github_issue WHERE id = s.v AND repo_id = $2)`,
		incremental: true,
		parent:      "repo",
		path: func(sc *scanRow) string {
			return repoPath(sc, "issues?state="+stateOf(sc)+"&sort=updated&direction=desc&per_page=100")
		},
		newPage: listPage(func(ctx context.Context, tx *sql.Tx, sc *scanRow, issues []*github.Issue, m process.Meta) (pageResult, error) {
			var r pageResult
			if _, _, err := process.Issues(ctx, tx, sc.RepoID.Int64, issues, m); err != nil {
				return r, fmt.Errorf("write issues of %s: %w", sc.target(), err)
			}
			for _, is := range issues {
				r.ids = append(r.ids, is.GetID())
				r.oldest = oldestOf(is.UpdatedAt, r.oldest)
			}
			r.items = len(issues)
			return r, nil
		}),
		sweep:  sweepByRepo("github_issue", "id", seenIDs),
		finish: stampRepo("issues_last_scanned_at"),
	},
	{
		name:        CollectionIssueComments,
		stored:      `EXISTS (SELECT 1 FROM github_issue_comment WHERE id = s.v AND repo_id = $2)`,
		incremental: true,
		parent:      "repo",
		path: func(sc *scanRow) string {
			return repoPath(sc, "issues/comments?sort=updated&direction=desc&per_page=100")
		},
		newPage: listPage(func(ctx context.Context, tx *sql.Tx, sc *scanRow, comments []*github.IssueComment, m process.Meta) (pageResult, error) {
			var r pageResult
			if _, _, err := process.IssueComments(ctx, tx, sc.RepoID.Int64, 0, comments, m); err != nil {
				return r, fmt.Errorf("write issue comments of %s: %w", sc.target(), err)
			}
			for _, c := range comments {
				r.ids = append(r.ids, c.GetID())
				r.oldest = oldestOf(c.UpdatedAt, r.oldest)
			}
			r.items = len(comments)
			return r, nil
		}),
		sweep:  sweepByRepo("github_issue_comment", "id", seenIDs),
		finish: stampRepo("issue_comments_last_scanned_at"),
	},
	{
		name:   CollectionLabels,
		stored: `EXISTS (SELECT 1 FROM github_issue_label WHERE repo_id = $2 AND name = s.v)`,
		byKey:  true,
		parent: "repo",
		path:   func(sc *scanRow) string { return repoPath(sc, "labels?per_page=100") },
		newPage: listPage(func(ctx context.Context, tx *sql.Tx, sc *scanRow, labels []*github.Label, m process.Meta) (pageResult, error) {
			var r pageResult
			if _, _, err := process.Labels(ctx, tx, sc.RepoID.Int64, labels, m); err != nil {
				return r, fmt.Errorf("write labels of %s: %w", sc.target(), err)
			}
			for _, l := range labels {
				r.keys = append(r.keys, l.GetName())
			}
			r.items = len(labels)
			return r, nil
		}),
		sweep:  sweepByRepo("github_issue_label", "name", seenKeys),
		finish: stampRepo("labels_last_scanned_at"),
	},
	{
		name:   CollectionMilestones,
		stored: `EXISTS (SELECT 1 FROM github_milestone WHERE id = s.v AND repo_id = $2)`,
		parent: "repo",
		path:   func(sc *scanRow) string { return repoPath(sc, "milestones?state=all&per_page=100") },
		newPage: listPage(func(ctx context.Context, tx *sql.Tx, sc *scanRow, list []*github.Milestone, m process.Meta) (pageResult, error) {
			var r pageResult
			if _, _, err := process.Milestones(ctx, tx, sc.RepoID.Int64, list, m); err != nil {
				return r, fmt.Errorf("write milestones of %s: %w", sc.target(), err)
			}
			for _, ms := range list {
				r.ids = append(r.ids, ms.GetID())
			}
			r.items = len(list)
			return r, nil
		}),
		sweep:  sweepByRepo("github_milestone", "id", seenIDs),
		finish: stampRepo("milestones_last_scanned_at"),
	},
}

var collectionsByName = func() map[string]*collection {
	m := map[string]*collection{}
	for _, c := range collections {
		m[c.name] = c
	}
	return m
}()
