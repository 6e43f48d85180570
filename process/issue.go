package process

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"
)

// closed_by is only in the single-issue representation, not in lists: keep.
var issueSpec = &spec{
	table:     "github_issue",
	conflict:  "id",
	guard:     guardUpdatedAt,
	returning: "id::text",
	defaults:  map[string]string{"state": "'open'", "title": "''"},
	cols: cols("id!", "node_id", "repo_id", "number", "state", "state_reason", "title", "body",
		"user_id", "user_login", "assignee_id", "assignee_login", "assignee_logins", "milestone_number",
		"comments_count", "locked", "active_lock_reason", "is_pull_request", "author_association",
		"html_url", "created_at", "updated_at~", "closed_at", "closed_by_id~", "closed_by_login~"),
}

func issueRow(repoID int64, is *github.Issue) (row, error) {
	if is == nil || is.ID == nil || is.Number == nil {
		return row{}, fmt.Errorf("issue without id or number: %w", ErrInvalid)
	}
	// Some payloads (pinned, unpinned) trim the issue: no state, labels,
	// assignee or lock. Such an issue is partial.
	partial := is.UpdatedAt == nil || is.State == nil
	if !partial && is.Title == nil {
		return row{}, fmt.Errorf("issue %d without title: %w", *is.ID, ErrInvalid)
	}
	var milestone any
	if is.Milestone != nil {
		milestone = num(is.Milestone.Number)
	}
	return row{
		key:     idKey(*is.ID),
		partial: partial,
		version: version(is.UpdatedAt),
		vals: []any{*is.ID, str(is.NodeID), repoID, *is.Number, str(is.State), str(is.StateReason), str(is.Title),
			str(is.Body), userID(is.User), userLogin(is.User), userID(is.Assignee), userLogin(is.Assignee),
			logins(is.Assignees), milestone, num(is.Comments), boolean(is.Locked), str(is.ActiveLockReason),
			is.IsPullRequest(), str(is.AuthorAssociation), str(is.HTMLURL), ts(is.CreatedAt),
			ts(is.UpdatedAt), ts(is.ClosedAt), userID(is.ClosedBy), userLogin(is.ClosedBy)},
	}, nil
}

// Issue upserts an issue of a repository (which must be stored: callers
// write the payload's repository first) with its user, assignees, closer,
// milestone and labels; the issue's labels replace its label associations.
// An issue that is really a pull request (pull_request links present) is
// stored with is_pull_request. Newer updated_at wins; when the issue is
// stale its nested objects are still written and its labels left alone.
func Issue(ctx context.Context, exec boil.ContextExecutor, repoID int64, is *github.Issue, m Meta) (Outcome, error) {
	if is == nil || is.ID == nil {
		return 0, fmt.Errorf("issue of repo %d without id: %w", repoID, ErrInvalid)
	}
	written, _, err := Issues(ctx, exec, repoID, []*github.Issue{is}, m)
	if err != nil {
		return 0, err
	}
	if written == 1 {
		return Written, nil
	}
	return Stale, nil
}

// Issues upserts a page of issues of one repository in a fixed number of
// statements (users, milestones, labels, issues, label associations).
func Issues(ctx context.Context, exec boil.ContextExecutor, repoID int64, issues []*github.Issue, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(issues))
	var users []*github.User
	var milestones []*github.Milestone
	var labels []*github.Label
	for _, is := range issues {
		r, err := issueRow(repoID, is)
		if err != nil {
			return 0, 0, fmt.Errorf("issues of repo %d: %w", repoID, err)
		}
		rows = append(rows, r)
		users = append(users, is.User, is.Assignee, is.ClosedBy)
		users = append(users, is.Assignees...)
		if is.Milestone != nil {
			milestones = append(milestones, is.Milestone)
			users = append(users, is.Milestone.Creator)
		}
		labels = append(labels, is.Labels...)
	}
	what := fmt.Sprintf("upsert %d issues of repo %d", len(rows), repoID)
	if len(rows) == 1 {
		what = fmt.Sprintf("upsert issue %s of repo %d", rows[0].key, repoID)
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := nestedMilestones(ctx, exec, repoID, m, milestones); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	if err := nestedLabels(ctx, exec, repoID, m, labels); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, missingRepo(err, repoID))
	}
	w, err := upsert(ctx, exec, issueSpec, m, rows)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, missingRepo(err, repoID))
	}
	// Only issues that were written and whose payload lists labels (nil
	// means the representation had none, not "no labels") get theirs
	// replaced; the newest copy of a duplicate decides.
	var owners []int64
	var links []labelLink
	for _, r := range dedup(rows, false) {
		owners, links = issueLinks(r, w, issues, repoID, owners, links)
	}
	for _, r := range dedup(rows, true) {
		owners, links = issueLinks(r, w, issues, repoID, owners, links)
	}
	if err := replaceLabelLinks(ctx, exec, "github_issue_label_association", "issue_id", owners, links); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	var pulls []int64
	for _, is := range issues {
		if _, ok := w[idKey(is.GetID())]; ok && is.IsPullRequest() {
			pulls = append(pulls, is.GetID())
		}
	}
	if err := syncIssuePullRequests(ctx, exec, pulls); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	return len(w), distinct(rows) - len(w), nil
}

func issueLinks(r row, written map[string]struct{}, issues []*github.Issue, repoID int64, owners []int64, links []labelLink) ([]int64, []labelLink) {
	if _, ok := written[r.key]; !ok {
		return owners, links
	}
	id := r.vals[0].(int64)
	// The newest duplicate is the one whose row was written.
	var chosen *github.Issue
	for _, is := range issues {
		if is.GetID() == id && (chosen == nil || !version(is.UpdatedAt).Before(version(chosen.UpdatedAt))) {
			chosen = is
		}
	}
	if chosen == nil || chosen.Labels == nil {
		return owners, links
	}
	return append(owners, id), append(links, labelLinks(id, repoID, chosen.Labels)...)
}

// missingRepo names the repository when a write failed for want of it.
func missingRepo(err error, repoID int64) error {
	if isMissingParent(err) {
		return fmt.Errorf("repository %d is not stored (write it first): %w", repoID, err)
	}
	return err
}

// DeleteIssue removes an issue, its label associations and its comments.
func DeleteIssue(ctx context.Context, exec boil.ContextExecutor, issueID int64) error {
	q := `WITH d AS (DELETE FROM github_issue WHERE id = $1 RETURNING repo_id, number)
		DELETE FROM github_issue_comment c USING d WHERE c.repo_id = d.repo_id AND c.issue_number = d.number`
	if _, err := exec.ExecContext(ctx, q, issueID); err != nil {
		return fmt.Errorf("delete issue %d: %w", issueID, err)
	}
	return nil
}

// TransferIssueComments follows an issue transferred to another
// repository: GitHub keeps its comments (and their ids) on the issue in its
// new repository, under its new number. Call it before deleting the old
// issue, which would take the comments with it. It reports how many
// comments moved.
func TransferIssueComments(ctx context.Context, exec boil.ContextExecutor, fromRepoID int64, fromNumber int, toRepoID int64, toNumber int) (int64, error) {
	q := `UPDATE github_issue_comment SET repo_id = $3, issue_number = $4
		WHERE repo_id = $1 AND issue_number = $2`
	res, err := exec.ExecContext(ctx, q, fromRepoID, fromNumber, toRepoID, toNumber)
	if err != nil {
		return 0, fmt.Errorf("move comments of issue %d of repo %d to #%d of repo %d: %w", fromNumber, fromRepoID, toNumber, toRepoID, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("move comments of issue %d of repo %d to #%d of repo %d: %w", fromNumber, fromRepoID, toNumber, toRepoID, err)
	}
	return n, nil
}

// IssueTransfer is an issue moved to another repository, where GitHub
// gives it a new id and number and keeps its comments. Either side's
// repository may be unknown (0) when the payload does not carry it.
type IssueTransfer struct {
	OldIssueID int64
	OldRepoID  int64
	OldNumber  int
	NewRepoID  int64
	NewNumber  int
}

// TransferIssue applies a transfer, from either side (the old repository's
// "transferred" or the new one's "opened", in any order): when both
// repositories are known the comments move to the new issue, then the old
// issue is deleted. The new issue itself is written with Issue.
func TransferIssue(ctx context.Context, exec boil.ContextExecutor, tr IssueTransfer) error {
	// Before the delete, which takes the comments of the old issue with it.
	if tr.OldRepoID != 0 && tr.NewRepoID != 0 {
		if _, err := TransferIssueComments(ctx, exec, tr.OldRepoID, tr.OldNumber, tr.NewRepoID, tr.NewNumber); err != nil {
			return fmt.Errorf("transfer issue %d: %w", tr.OldIssueID, err)
		}
	}
	if err := DeleteIssue(ctx, exec, tr.OldIssueID); err != nil {
		return fmt.Errorf("transfer issue %d: %w", tr.OldIssueID, err)
	}
	return nil
}

var issueCommentSpec = &spec{
	table:     "github_issue_comment",
	conflict:  "id",
	guard:     guardUpdatedAt,
	returning: "id::text",
	cols: cols("id!", "node_id", "repo_id", "issue_number", "user_id", "user_login", "body",
		"author_association", "html_url", "created_at", "updated_at~"),
}

// issueNumberFromURL reads the number at the end of an issue URL
// (https://api.github.com/repos/o/r/issues/12).
func issueNumberFromURL(u string) (int, bool) {
	i := strings.LastIndex(u, "/issues/")
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimRight(u[i+len("/issues/"):], "/"))
	return n, err == nil && n > 0
}

func issueCommentRow(repoID int64, issueNumber int, c *github.IssueComment) (row, error) {
	if c == nil || c.ID == nil {
		return row{}, fmt.Errorf("issue comment without id: %w", ErrInvalid)
	}
	if issueNumber == 0 {
		n, ok := issueNumberFromURL(c.GetIssueURL())
		if !ok {
			return row{}, fmt.Errorf("issue comment %d without issue number (issue_url %q): %w", *c.ID, c.GetIssueURL(), ErrInvalid)
		}
		issueNumber = n
	}
	return row{
		key:     idKey(*c.ID),
		partial: c.UpdatedAt == nil,
		version: version(c.UpdatedAt),
		vals: []any{*c.ID, str(c.NodeID), repoID, issueNumber, userID(c.User), userLogin(c.User), str(c.Body),
			str(c.AuthorAssociation), str(c.HTMLURL), ts(c.CreatedAt), ts(c.UpdatedAt)},
	}, nil
}

// IssueComment upserts a comment on issue issueNumber of a repository
// (which must be stored); issueNumber 0 reads it from the comment's
// issue_url. Newer updated_at wins.
func IssueComment(ctx context.Context, exec boil.ContextExecutor, repoID int64, issueNumber int, c *github.IssueComment, m Meta) (Outcome, error) {
	if c == nil || c.ID == nil {
		return 0, fmt.Errorf("issue comment of repo %d without id: %w", repoID, ErrInvalid)
	}
	written, _, err := IssueComments(ctx, exec, repoID, issueNumber, []*github.IssueComment{c}, m)
	if err != nil {
		return 0, err
	}
	if written == 1 {
		return Written, nil
	}
	return Stale, nil
}

// IssueComments upserts a page of comments of one repository; issueNumber
// 0 reads each comment's issue from its issue_url (the repository-wide
// comment list).
func IssueComments(ctx context.Context, exec boil.ContextExecutor, repoID int64, issueNumber int, comments []*github.IssueComment, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(comments))
	users := make([]*github.User, 0, len(comments))
	for _, c := range comments {
		r, err := issueCommentRow(repoID, issueNumber, c)
		if err != nil {
			return 0, 0, fmt.Errorf("issue comments of repo %d: %w", repoID, err)
		}
		rows = append(rows, r)
		users = append(users, c.User)
	}
	what := fmt.Sprintf("upsert %d issue comments of repo %d", len(rows), repoID)
	if len(rows) == 1 {
		what = fmt.Sprintf("upsert issue comment %s of repo %d", rows[0].key, repoID)
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	w, err := upsert(ctx, exec, issueCommentSpec, m, rows)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", what, missingRepo(err, repoID))
	}
	return len(w), distinct(rows) - len(w), nil
}

// DeleteIssueComment removes an issue comment.
func DeleteIssueComment(ctx context.Context, exec boil.ContextExecutor, commentID int64) error {
	if _, err := exec.ExecContext(ctx, `DELETE FROM github_issue_comment WHERE id = $1`, commentID); err != nil {
		return fmt.Errorf("delete issue comment %d: %w", commentID, err)
	}
	return nil
}
