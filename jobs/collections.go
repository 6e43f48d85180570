package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"

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
	// sweep deletes the rows GitHub no longer listed (seen: what the
	// scan's pages listed). Nil: never swept.
	sweep func(ctx context.Context, tx *sql.Tx, sc *scanRow, seen seenRows) (int64, error)
	// finish stamps <collection>_last_scanned_at (complete scans only).
	finish func(ctx context.Context, tx *sql.Tx, sc *scanRow) error
	// children are the scans chained after this one with children=true.
	children func(ctx context.Context, tx *sql.Tx, sc *scanRow) ([]ScanRequest, error)
	// missing says whether a row a page listed (when its ETag was stored)
	// is no longer stored under the scan's parent; a 304 page with a row
	// missing is fetched again.
	missing func(ctx context.Context, exec boil.ContextExecutor, sc *scanRow, listed seenRows) (bool, error)
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

// The sweeps, stamps and checks of the collections, by parent: each calls
// its process/ function (the only code that writes github_* tables).

type idSweep func(ctx context.Context, exec boil.ContextExecutor, parentID int64, seen []int64, scanStarted time.Time) (int64, error)

func sweepRepoIDs(f idSweep) func(ctx context.Context, tx *sql.Tx, sc *scanRow, seen seenRows) (int64, error) {
	return func(ctx context.Context, tx *sql.Tx, sc *scanRow, seen seenRows) (int64, error) {
		return f(ctx, tx, sc.RepoID.Int64, seen.ids, sc.StartedAt.Time)
	}
}

func sweepPullIDs(f idSweep) func(ctx context.Context, tx *sql.Tx, sc *scanRow, seen seenRows) (int64, error) {
	return func(ctx context.Context, tx *sql.Tx, sc *scanRow, seen seenRows) (int64, error) {
		return f(ctx, tx, sc.PullID.Int64, seen.ids, sc.StartedAt.Time)
	}
}

type stamp func(ctx context.Context, exec boil.ContextExecutor, parentID int64, at time.Time) error

func stampRepo(f stamp) func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
	return func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
		return f(ctx, tx, sc.RepoID.Int64, sc.StartedAt.Time)
	}
}

func stampPull(f stamp) func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
	return func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
		return f(ctx, tx, sc.PullID.Int64, sc.StartedAt.Time)
	}
}

type missingIDs func(ctx context.Context, exec boil.ContextExecutor, parentID int64, listed []int64) (bool, error)

func missingRepoIDs(f missingIDs) func(ctx context.Context, exec boil.ContextExecutor, sc *scanRow, listed seenRows) (bool, error) {
	return func(ctx context.Context, exec boil.ContextExecutor, sc *scanRow, listed seenRows) (bool, error) {
		return f(ctx, exec, sc.RepoID.Int64, listed.ids)
	}
}

func missingPullIDs(f missingIDs) func(ctx context.Context, exec boil.ContextExecutor, sc *scanRow, listed seenRows) (bool, error) {
	return func(ctx context.Context, exec boil.ContextExecutor, sc *scanRow, listed seenRows) (bool, error) {
		return f(ctx, exec, sc.PullID.Int64, listed.ids)
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
		name: CollectionRepositories,
		missing: func(ctx context.Context, exec boil.ContextExecutor, sc *scanRow, listed seenRows) (bool, error) {
			return process.MissingInstallationRepositories(ctx, exec, sc.InstallationID.Int64, listed.ids)
		},
		path: func(sc *scanRow) string { return "installation/repositories?per_page=100" },
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
		sweep: func(ctx context.Context, tx *sql.Tx, sc *scanRow, seen seenRows) (int64, error) {
			return process.SweepInstallationRepositories(ctx, tx, sc.InstallationID.Int64, seen.ids, sc.StartedAt.Time)
		},
		finish: func(ctx context.Context, tx *sql.Tx, sc *scanRow) error {
			return process.StampRepositoriesScanned(ctx, tx, sc.InstallationID.Int64, sc.StartedAt.Time)
		},
		children: func(ctx context.Context, tx *sql.Tx, sc *scanRow) ([]ScanRequest, error) {
			seen, err := scanSeen(ctx, tx, sc.ID, false)
			if err != nil {
				return nil, err
			}
			repos, err := process.RepositoryNames(ctx, tx, seen.ids)
			if err != nil {
				return nil, fmt.Errorf("repositories of %s: %w", sc.target(), err)
			}
			var out []ScanRequest
			for _, r := range repos {
				out = append(out, repoChildren(sc.InstallationID.Int64, r.Owner, r.Name, sc.RequestedBy, sc.Full)...)
			}
			return out, nil
		},
	},
	{
		name:        CollectionPullRequests,
		missing:     missingRepoIDs(process.MissingPullRequests),
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
		finish: stampRepo(process.StampPullRequestsScanned),
		// The list leaves out what only GET of one pull request has: the
		// counts (the files scan sums them, or fetches a pull request whose
		// files GitHub truncated), mergeable and merged_by. A merged pull
		// request's merged_by never changes, so it is fetched
		// once (a sync_pull_request child, with its ETag) for merged rows
		// that lack it. Open pull requests are not fetched: mergeable is
		// volatile and GitHub computes it lazily (the first GET often
		// answers null), so a backfill would pay one request per open pull
		// for a value that is stale or missing; webhooks bring it.
		children: func(ctx context.Context, tx *sql.Tx, sc *scanRow) ([]ScanRequest, error) {
			// Incremental: only pull requests on pages that changed can
			// have new files, reviews or comments.
			seen, err := scanSeen(ctx, tx, sc.ID, sc.Since.Valid)
			if err != nil {
				return nil, err
			}
			prs, err := process.ListedPullRequests(ctx, tx, seen.ids)
			if err != nil {
				return nil, fmt.Errorf("pull requests of %s: %w", sc.target(), err)
			}
			var out []ScanRequest
			for _, pr := range prs {
				for _, k := range []string{CollectionPullRequestFiles, CollectionPullRequestReviews, CollectionPullRequestReviewComments} {
					// The files scan's child fetches a truncated pull request
					// for its totals.
					out = append(out, ScanRequest{Kind: k, InstallationID: sc.InstallationID.Int64, Owner: sc.Owner,
						Repo: sc.Repo, Number: pr.Number, RequestedBy: sc.RequestedBy, Full: sc.Full,
						Children: k == CollectionPullRequestFiles})
				}
				if pr.NeedsMerger {
					// Never Full: the stored ETag makes the next try of a
					// pull GitHub gives no merger for (a deleted account)
					// a free 304.
					out = append(out, ScanRequest{Kind: JobSyncPullRequest, InstallationID: sc.InstallationID.Int64,
						Owner: sc.Owner, Repo: sc.Repo, Number: pr.Number, RequestedBy: sc.RequestedBy})
				}
			}
			return out, nil
		},
	},
	{
		name: CollectionPullRequestFiles,
		missing: func(ctx context.Context, exec boil.ContextExecutor, sc *scanRow, listed seenRows) (bool, error) {
			return process.MissingPullRequestFiles(ctx, exec, sc.PullID.Int64, listed.keys)
		},
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
		sweep: func(ctx context.Context, tx *sql.Tx, sc *scanRow, seen seenRows) (int64, error) {
			return process.DeletePullRequestFilesExceptSince(ctx, tx, sc.PullID.Int64, seen.keys, sc.StartedAt.Time)
		},
		// GitHub lists at most 3,000 files: the stamp marks a longer pull
		// request files_truncated, and sums the files into its totals only
		// when no pull request object gave them (the list lacks them).
		finish: stampPull(process.StampFilesScanned),
		// A truncated list sums to less than the pull request changes: one
		// GET of the pull request (rare: over 3,000 files, never fetched
		// alone) gives the true totals. Not Full: its ETag makes a re-try
		// free.
		children: func(ctx context.Context, tx *sql.Tx, sc *scanRow) ([]ScanRequest, error) {
			short, err := process.TruncatedWithoutTotals(ctx, tx, sc.PullID.Int64)
			if err != nil || !short {
				return nil, err
			}
			return []ScanRequest{{Kind: JobSyncPullRequest, InstallationID: sc.InstallationID.Int64, Owner: sc.Owner,
				Repo: sc.Repo, Number: sc.Number, RequestedBy: sc.RequestedBy}}, nil
		},
	},
	{
		name:    CollectionPullRequestReviews,
		missing: missingPullIDs(process.MissingPullRequestReviews),
		parent:  "pull",
		path:    func(sc *scanRow) string { return repoPath(sc, fmt.Sprintf("pulls/%d/reviews?per_page=100", sc.Number)) },
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
		sweep:  sweepPullIDs(process.SweepPullRequestReviews),
		finish: stampPull(process.StampReviewsScanned),
	},
	{
		name:    CollectionPullRequestReviewComments,
		missing: missingPullIDs(process.MissingPullRequestReviewComments),
		parent:  "pull",
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
		sweep:  sweepPullIDs(process.SweepPullRequestReviewComments),
		finish: stampPull(process.StampReviewCommentsScanned),
	},
	{
		name:        CollectionIssues,
		missing:     missingRepoIDs(process.MissingIssues),
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
		sweep:  sweepRepoIDs(process.SweepIssues),
		finish: stampRepo(process.StampIssuesScanned),
	},
	{
		name:        CollectionIssueComments,
		missing:     missingRepoIDs(process.MissingIssueComments),
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
		sweep:  sweepRepoIDs(process.SweepIssueComments),
		finish: stampRepo(process.StampIssueCommentsScanned),
	},
	{
		name: CollectionLabels,
		missing: func(ctx context.Context, exec boil.ContextExecutor, sc *scanRow, listed seenRows) (bool, error) {
			return process.MissingLabels(ctx, exec, sc.RepoID.Int64, listed.keys)
		},
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
		sweep: func(ctx context.Context, tx *sql.Tx, sc *scanRow, seen seenRows) (int64, error) {
			return process.SweepLabels(ctx, tx, sc.RepoID.Int64, seen.keys, sc.StartedAt.Time)
		},
		finish: stampRepo(process.StampLabelsScanned),
	},
	{
		name:    CollectionMilestones,
		missing: missingRepoIDs(process.MissingMilestones),
		parent:  "repo",
		path:    func(sc *scanRow) string { return repoPath(sc, "milestones?state=all&per_page=100") },
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
		sweep:  sweepRepoIDs(process.SweepMilestones),
		finish: stampRepo(process.StampMilestonesScanned),
	},
}

var collectionsByName = func() map[string]*collection {
	m := map[string]*collection{}
	for _, c := range collections {
		m[c.name] = c
	}
	return m
}()
