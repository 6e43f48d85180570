package process

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"
)

// The list endpoint leaves out merge details, counts and the merger, and
// GitHub reports mergeable as null while computing it: those are keep
// columns, so a list page or a null never erases a value stored earlier.
var pullRequestSpec = &spec{
	table:     "github_pull_request",
	conflict:  "id",
	guard:     guardUpdatedAt,
	returning: "id::text",
	defaults:  map[string]string{"state": "'open'", "title": "''"},
	cols: cols("id!", "node_id", "number", "base_repo_id", "head_repo_id", "base_ref", "base_sha",
		"head_ref", "head_sha", "head_label", "state", "locked", "active_lock_reason", "draft", "title",
		"body", "user_id", "user_login", "assignee_id", "assignee_login", "assignee_logins",
		"requested_reviewer_logins", "milestone_number", "merged", "mergeable~", "mergeable_state~",
		"rebaseable~", "merge_commit_sha~", "merged_at", "merged_by_id~", "merged_by_login~",
		"maintainer_can_modify~", "author_association", "comments_count~", "review_comments_count~",
		"commits_count~", "additions~", "deletions~", "changed_files~", "html_url", "created_at",
		"updated_at~", "closed_at"),
}

func pullRequestRow(pr *github.PullRequest) (row, error) {
	if pr == nil || pr.ID == nil || pr.Number == nil {
		return row{}, fmt.Errorf("pull request without id or number: %w", ErrInvalid)
	}
	if pr.Base == nil || pr.Base.Repo == nil || pr.Base.Repo.ID == nil {
		return row{}, fmt.Errorf("pull request %d without base repository: %w", *pr.ID, ErrInvalid)
	}
	partial := pr.UpdatedAt == nil || pr.State == nil
	if !partial && pr.Title == nil {
		return row{}, fmt.Errorf("pull request %d without title: %w", *pr.ID, ErrInvalid)
	}
	var headRepo, milestone any
	if pr.Head != nil && pr.Head.Repo != nil {
		headRepo = i64(pr.Head.Repo.ID)
	}
	if pr.Milestone != nil {
		milestone = num(pr.Milestone.Number)
	}
	// merged is absent from lists but always equals "has merged_at".
	merged := pr.Merged
	if merged == nil {
		merged = github.Bool(pr.MergedAt != nil)
	}
	head := pr.Head
	if head == nil {
		head = &github.PullRequestBranch{}
	}
	return row{
		key:     idKey(*pr.ID),
		partial: partial,
		version: version(pr.UpdatedAt),
		vals: []any{*pr.ID, str(pr.NodeID), *pr.Number, *pr.Base.Repo.ID, headRepo, str(pr.Base.Ref),
			str(pr.Base.SHA), str(head.Ref), str(head.SHA), str(head.Label), str(pr.State), boolean(pr.Locked),
			str(pr.ActiveLockReason), boolean(pr.Draft), str(pr.Title), str(pr.Body), userID(pr.User),
			userLogin(pr.User), userID(pr.Assignee), userLogin(pr.Assignee), logins(pr.Assignees),
			logins(pr.RequestedReviewers), milestone, *merged, boolean(pr.Mergeable),
			str(pr.MergeableState), boolean(pr.Rebaseable), str(pr.MergeCommitSHA), ts(pr.MergedAt),
			userID(pr.MergedBy), userLogin(pr.MergedBy), boolean(pr.MaintainerCanModify),
			str(pr.AuthorAssociation), num(pr.Comments), num(pr.ReviewComments), num(pr.Commits),
			num(pr.Additions), num(pr.Deletions), num(pr.ChangedFiles), str(pr.HTMLURL), ts(pr.CreatedAt),
			ts(pr.UpdatedAt), ts(pr.ClosedAt)},
	}, nil
}

// PullRequest upserts a pull request with its base and head repositories,
// user, assignees, requested reviewers, merger, milestone and labels (its
// labels replace its label associations). Newer updated_at wins; nested
// objects are written first and their staleness never blocks the pull
// request. Files, reviews and review comments have their own functions.
func PullRequest(ctx context.Context, exec boil.ContextExecutor, pr *github.PullRequest, m Meta) (Outcome, error) {
	if pr == nil || pr.ID == nil {
		return 0, fmt.Errorf("pull request without id: %w", ErrInvalid)
	}
	written, _, err := PullRequests(ctx, exec, []*github.PullRequest{pr}, m)
	if err != nil {
		return 0, err
	}
	if written == 1 {
		return Written, nil
	}
	return Stale, nil
}

// PullRequests upserts a page of pull requests in a fixed number of
// statements.
func PullRequests(ctx context.Context, exec boil.ContextExecutor, prs []*github.PullRequest, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(prs))
	var users []*github.User
	var repos []*github.Repository
	milestones := map[int64][]*github.Milestone{}
	labels := map[int64][]*github.Label{}
	for _, pr := range prs {
		r, err := pullRequestRow(pr)
		if err != nil {
			return 0, 0, err
		}
		rows = append(rows, r)
		users = append(users, pr.User, pr.Assignee, pr.MergedBy, pr.Base.User)
		users = append(users, pr.Assignees...)
		users = append(users, pr.RequestedReviewers...)
		repos = append(repos, pr.Base.Repo)
		if pr.Head != nil {
			users = append(users, pr.Head.User)
			if pr.Head.Repo != nil {
				repos = append(repos, pr.Head.Repo)
			}
		}
		base := *pr.Base.Repo.ID
		if pr.Milestone != nil {
			milestones[base] = append(milestones[base], pr.Milestone)
			users = append(users, pr.Milestone.Creator)
		}
		labels[base] = append(labels[base], pr.Labels...)
	}
	what := fmt.Sprintf("upsert %d pull requests", len(rows))
	if len(rows) == 1 {
		what = fmt.Sprintf("upsert pull request %s", rows[0].key)
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := nestedRepositories(ctx, exec, m, repos...); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	// In repository order, so that concurrent pages lock rows in one order.
	for _, repoID := range slices.Sorted(maps.Keys(milestones)) {
		if err := nestedMilestones(ctx, exec, repoID, m, milestones[repoID]); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", what, err)
		}
	}
	for _, repoID := range slices.Sorted(maps.Keys(labels)) {
		if err := nestedLabels(ctx, exec, repoID, m, labels[repoID]); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", what, err)
		}
	}
	w, err := upsert(ctx, exec, pullRequestSpec, m, rows)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	newest := map[int64]*github.PullRequest{}
	for _, pr := range prs {
		if prev, ok := newest[*pr.ID]; !ok || !version(pr.UpdatedAt).Before(version(prev.UpdatedAt)) {
			newest[*pr.ID] = pr
		}
	}
	var writtenIDs, owners, capped []int64
	var links []labelLink
	for id, pr := range newest {
		_, ok := w[idKey(id)]
		if ok {
			writtenIDs = append(writtenIDs, id)
		}
		if ok && pr.ChangedFiles != nil && *pr.ChangedFiles >= MaxListedFiles {
			capped = append(capped, id)
		}
		if !ok || pr.Labels == nil {
			continue
		}
		owners = append(owners, id)
		links = append(links, labelLinks(id, *pr.Base.Repo.ID, pr.Labels)...)
	}
	if err := replaceLabelLinks(ctx, exec, "github_pull_request_label_association", "pull_request_id", owners, links); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := syncPullRequestIssues(ctx, exec, writtenIDs, owners, m); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	// Rare (only pulls of 3,000 files or more), so it costs nothing else.
	if err := markFilesTruncated(ctx, exec, capped); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	return len(w), distinct(rows) - len(w), nil
}

// DeletePullRequest removes a pull request and everything under it (files,
// reviews, review comments, label associations).
func DeletePullRequest(ctx context.Context, exec boil.ContextExecutor, prID int64) error {
	if _, err := exec.ExecContext(ctx, `DELETE FROM github_pull_request WHERE id = $1`, prID); err != nil {
		return fmt.Errorf("delete pull request %d: %w", prID, err)
	}
	return nil
}

// Files have no updated_at: last writer wins, and a complete files scan is
// the authority (it ends with DeletePullRequestFilesExceptSince).
var pullRequestFileSpec = &spec{
	table:     "github_pull_request_file",
	conflict:  "pull_request_id, filename",
	guard:     guardNone,
	returning: "filename",
	cols: cols("pull_request_id!", "filename!", "sha", "status", "additions", "deletions", "changes",
		"patch", "previous_filename", "blob_url", "raw_url", "contents_url"),
}

// PullRequestFiles upserts files of a stored pull request with multi-row
// statements and returns the number of rows written.
func PullRequestFiles(ctx context.Context, exec boil.ContextExecutor, prID int64, files []*github.CommitFile, m Meta) (int, error) {
	if err := checkMeta(m); err != nil {
		return 0, err
	}
	rows := make([]row, 0, len(files))
	for _, f := range files {
		if f == nil || f.Filename == nil || *f.Filename == "" {
			return 0, fmt.Errorf("files of pull request %d: file without filename: %w", prID, ErrInvalid)
		}
		rows = append(rows, row{
			key: *f.Filename,
			vals: []any{prID, *f.Filename, str(f.SHA), str(f.Status), num(f.Additions), num(f.Deletions),
				num(f.Changes), str(f.Patch), str(f.PreviousFilename), str(f.BlobURL), str(f.RawURL),
				str(f.ContentsURL)},
		})
	}
	if len(rows) == 0 {
		return 0, nil
	}
	w, err := upsert(ctx, exec, pullRequestFileSpec, m, rows)
	if err != nil {
		return 0, fmt.Errorf("upsert %d files of pull request %d: %w", len(rows), prID, err)
	}
	return len(w), nil
}

// DeletePullRequestFilesExcept removes the files of a pull request that a
// complete list of its files did not name, and returns how many it removed.
func DeletePullRequestFilesExcept(ctx context.Context, exec boil.ContextExecutor, prID int64, keep []string) (int64, error) {
	return sweep(ctx, exec, fmt.Sprintf("the stale files of pull request %d", prID),
		`DELETE FROM github_pull_request_file WHERE pull_request_id = $1 AND NOT (filename = ANY($2))`, prID, keys(keep))
}

// DeletePullRequestFilesExceptSince is DeletePullRequestFilesExcept at the
// end of a files scan: files written after scanStarted (by a webhook or an
// inline sync) stay, GitHub may have added them after the scan read them.
func DeletePullRequestFilesExceptSince(ctx context.Context, exec boil.ContextExecutor, prID int64, keep []string, scanStarted time.Time) (int64, error) {
	return sweep(ctx, exec, fmt.Sprintf("the stale files of pull request %d", prID),
		`DELETE FROM github_pull_request_file WHERE pull_request_id = $1 AND NOT (filename = ANY($2))`+notNewer,
		prID, keys(keep), scanStarted)
}

// SetPullRequestFiles makes files, a complete list of a pull request's
// files, what is stored: they are upserted, stored files missing from the
// list (reverted, or renamed away) are removed and files_truncated is set
// as a files scan sets it. It returns the rows written and removed.
func SetPullRequestFiles(ctx context.Context, exec boil.ContextExecutor, prID int64, files []*github.CommitFile, m Meta) (written int, removed int64, err error) {
	written, err = PullRequestFiles(ctx, exec, prID, files, m)
	if err != nil {
		return 0, 0, err
	}
	keep := make([]string, 0, len(files))
	for _, f := range files {
		keep = append(keep, f.GetFilename())
	}
	// One statement: files_truncated follows the list (a pull request
	// pushed down from over 3,000 files is no longer truncated).
	removed, err = sweep(ctx, exec, fmt.Sprintf("the stale files of pull request %d", prID), `
		WITH t AS (UPDATE github_pull_request p SET files_truncated = `+filesTruncated("$3::bigint")+`
		           WHERE p.id = $1 AND p.files_truncated IS DISTINCT FROM `+filesTruncated("$3::bigint")+`)
		DELETE FROM github_pull_request_file WHERE pull_request_id = $1 AND NOT (filename = ANY($2))`,
		prID, keys(keep), len(keep))
	if err != nil {
		return 0, 0, err
	}
	return written, removed, nil
}

// Reviews have no updated_at (an edit or dismissal changes body or state
// only), and their state only moves forward (PENDING, then COMMENTED,
// APPROVED or CHANGES_REQUESTED, then DISMISSED): a write of a lower state
// (a late submitted after the dismissed, an older API page) is stale as a
// whole, whatever its fetch time; a higher one wins. Within a state's rank,
// the data fetched at least as late as the stored replication wins.
var reviewSpec = &spec{
	table:     "github_pull_request_review",
	conflict:  "id",
	guard:     guardFetched,
	rank:      reviewStateRank,
	returning: "id::text",
	cols: cols("id!", "node_id", "pull_request_id", "user_id", "user_login", "state", "body", "commit_id",
		"author_association", "html_url", "submitted_at"),
}

// reviewStateRank ranks a stored (upper-cased) review state; unknown
// states rank with the submitted ones, no state with PENDING.
const reviewStateRank = `(CASE WHEN %[1]s.state IS NULL OR %[1]s.state = 'PENDING' THEN 0` +
	` WHEN %[1]s.state = 'DISMISSED' THEN 2 ELSE 1 END)`

func reviewRow(prID int64, r *github.PullRequestReview) (row, error) {
	if r == nil || r.ID == nil {
		return row{}, fmt.Errorf("review of pull request %d without id: %w", prID, ErrInvalid)
	}
	// Webhooks spell review states in lower case ("approved"), the REST
	// API in upper case ("APPROVED"): one spelling is stored whatever the
	// source, so backfills and webhooks agree.
	var state any
	if r.State != nil {
		state = strings.ToUpper(*r.State)
	}
	return row{
		key: idKey(*r.ID),
		vals: []any{*r.ID, str(r.NodeID), prID, userID(r.User), userLogin(r.User), state, str(r.Body),
			str(r.CommitID), str(r.AuthorAssociation), str(r.HTMLURL), ts(r.SubmittedAt)},
	}, nil
}

// PullRequestReview upserts a review of a stored pull request and its user.
// The state is stored upper-cased ("APPROVED"), as the REST API spells it.
func PullRequestReview(ctx context.Context, exec boil.ContextExecutor, prID int64, r *github.PullRequestReview, m Meta) (Outcome, error) {
	if r == nil || r.ID == nil {
		return 0, fmt.Errorf("review of pull request %d without id: %w", prID, ErrInvalid)
	}
	written, _, err := PullRequestReviews(ctx, exec, prID, []*github.PullRequestReview{r}, m)
	if err != nil {
		return 0, err
	}
	if written == 1 {
		return Written, nil
	}
	return Stale, nil
}

// PullRequestReviews upserts a page of reviews of one pull request, states
// upper-cased like PullRequestReview.
func PullRequestReviews(ctx context.Context, exec boil.ContextExecutor, prID int64, reviews []*github.PullRequestReview, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(reviews))
	users := make([]*github.User, 0, len(reviews))
	for _, r := range reviews {
		rw, err := reviewRow(prID, r)
		if err != nil {
			return 0, 0, err
		}
		rows = append(rows, rw)
		users = append(users, r.User)
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return 0, 0, fmt.Errorf("upsert reviews of pull request %d: %w", prID, err)
	}
	w, err := upsert(ctx, exec, reviewSpec, m, rows)
	if err != nil {
		return 0, 0, fmt.Errorf("upsert %d reviews of pull request %d: %w", len(rows), prID, err)
	}
	return len(w), distinct(rows) - len(w), nil
}

// PullRequestReviewStored reports whether a review has a row: a review
// comment naming an unknown review calls for fetching the reviews.
func PullRequestReviewStored(ctx context.Context, exec boil.ContextExecutor, reviewID int64) (bool, error) {
	var ok bool
	q := `SELECT EXISTS (SELECT 1 FROM github_pull_request_review WHERE id = $1)`
	if err := exec.QueryRowContext(ctx, q, reviewID).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up review %d: %w", reviewID, err)
	}
	return ok, nil
}

// DeletePullRequestReview removes a review (a scan that no longer lists it).
func DeletePullRequestReview(ctx context.Context, exec boil.ContextExecutor, reviewID int64) error {
	if _, err := exec.ExecContext(ctx, `DELETE FROM github_pull_request_review WHERE id = $1`, reviewID); err != nil {
		return fmt.Errorf("delete review %d: %w", reviewID, err)
	}
	return nil
}

var reviewCommentSpec = &spec{
	table:     "github_pull_request_review_comment",
	conflict:  "id",
	guard:     guardUpdatedAt,
	returning: "id::text",
	cols: cols("id!", "node_id", "pull_request_id", "review_id", "user_id", "user_login", "path",
		"position", "original_position", "line", "original_line", "start_line", "original_start_line",
		"side", "start_side", "commit_id", "original_commit_id", "diff_hunk", "body", "in_reply_to_id",
		"author_association", "html_url", "created_at", "updated_at~"),
}

func reviewCommentRow(prID int64, c *github.PullRequestComment) (row, error) {
	if c == nil || c.ID == nil {
		return row{}, fmt.Errorf("review comment of pull request %d without id: %w", prID, ErrInvalid)
	}
	return row{
		key:     idKey(*c.ID),
		partial: c.UpdatedAt == nil,
		version: version(c.UpdatedAt),
		vals: []any{*c.ID, str(c.NodeID), prID, i64(c.PullRequestReviewID), userID(c.User), userLogin(c.User),
			str(c.Path), num(c.Position), num(c.OriginalPosition), num(c.Line), num(c.OriginalLine),
			num(c.StartLine), num(c.OriginalStartLine), str(c.Side), str(c.StartSide), str(c.CommitID),
			str(c.OriginalCommitID), str(c.DiffHunk), str(c.Body), i64(c.InReplyTo), str(c.AuthorAssociation),
			str(c.HTMLURL), ts(c.CreatedAt), ts(c.UpdatedAt)},
	}, nil
}

// PullRequestReviewComment upserts a review comment of a stored pull
// request and its user. Newer updated_at wins.
func PullRequestReviewComment(ctx context.Context, exec boil.ContextExecutor, prID int64, c *github.PullRequestComment, m Meta) (Outcome, error) {
	if c == nil || c.ID == nil {
		return 0, fmt.Errorf("review comment of pull request %d without id: %w", prID, ErrInvalid)
	}
	written, _, err := PullRequestReviewComments(ctx, exec, prID, []*github.PullRequestComment{c}, m)
	if err != nil {
		return 0, err
	}
	if written == 1 {
		return Written, nil
	}
	return Stale, nil
}

// PullRequestReviewComments upserts a page of review comments of one pull request.
func PullRequestReviewComments(ctx context.Context, exec boil.ContextExecutor, prID int64, comments []*github.PullRequestComment, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(comments))
	users := make([]*github.User, 0, len(comments))
	for _, c := range comments {
		rw, err := reviewCommentRow(prID, c)
		if err != nil {
			return 0, 0, err
		}
		rows = append(rows, rw)
		users = append(users, c.User)
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return 0, 0, fmt.Errorf("upsert review comments of pull request %d: %w", prID, err)
	}
	w, err := upsert(ctx, exec, reviewCommentSpec, m, rows)
	if err != nil {
		return 0, 0, fmt.Errorf("upsert %d review comments of pull request %d: %w", len(rows), prID, err)
	}
	return len(w), distinct(rows) - len(w), nil
}

// DeletePullRequestReviewComment removes a review comment.
func DeletePullRequestReviewComment(ctx context.Context, exec boil.ContextExecutor, commentID int64) error {
	if _, err := exec.ExecContext(ctx, `DELETE FROM github_pull_request_review_comment WHERE id = $1`, commentID); err != nil {
		return fmt.Errorf("delete review comment %d: %w", commentID, err)
	}
	return nil
}
