package process_test

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"
	"github.com/volatiletech/sqlboiler/v4/queries/qm"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// Each check reads a stored row back and compares it column by column with
// the GitHub object it came from.

func checkUser(t testing.TB, exec boil.ContextExecutor, u *github.User) *models.GithubUser {
	t.Helper()
	row, err := models.FindGithubUser(context.Background(), exec, u.GetID())
	if err != nil {
		t.Fatalf("user %d: %v", u.GetID(), err)
	}
	eq(t, "user.login", row.Login, u.GetLogin())
	eqStr(t, "user.node_id", row.NodeID, u.NodeID)
	eqStr(t, "user.type", row.Type, u.Type)
	eqBool(t, "user.site_admin", row.SiteAdmin, u.SiteAdmin)
	eqStr(t, "user.avatar_url", row.AvatarURL, u.AvatarURL)
	eqStr(t, "user.html_url", row.HTMLURL, u.HTMLURL)
	return row
}

func checkRepository(t testing.TB, exec boil.ContextExecutor, r *github.Repository) {
	t.Helper()
	row, err := models.FindGithubRepository(context.Background(), exec, r.GetID())
	if err != nil {
		t.Fatalf("repository %d: %v", r.GetID(), err)
	}
	eq(t, "repo.name", row.Name, r.GetName())
	eq(t, "repo.full_name", row.FullName, r.GetFullName())
	eqStr(t, "repo.node_id", row.NodeID, r.NodeID)
	eqI64(t, "repo.owner_id", row.OwnerID, uid(r.GetOwner()))
	eq(t, "repo.owner_login", row.OwnerLogin, r.GetOwner().GetLogin())
	eqStr(t, "repo.owner_type", row.OwnerType, utype(r.GetOwner()))
	if r.Organization != nil {
		eqI64(t, "repo.organization_id", row.OrganizationID, r.Organization.ID)
		eqStr(t, "repo.organization_login", row.OrganizationLogin, r.Organization.Login)
	}
	eqBool(t, "repo.private", row.Private, r.Private)
	eqStr(t, "repo.description", row.Description, r.Description)
	eqBool(t, "repo.fork", row.Fork, r.Fork)
	eqBool(t, "repo.archived", row.Archived, r.Archived)
	eqBool(t, "repo.disabled", row.Disabled, r.Disabled)
	eqStr(t, "repo.html_url", row.HTMLURL, r.HTMLURL)
	eqStr(t, "repo.homepage", row.Homepage, r.Homepage)
	eqStr(t, "repo.default_branch", row.DefaultBranch, r.DefaultBranch)
	eqStr(t, "repo.language", row.Language, r.Language)
	eqInt(t, "repo.size", row.Size, r.Size)
	eqInt(t, "repo.stargazers_count", row.StargazersCount, r.StargazersCount)
	eqInt(t, "repo.watchers_count", row.WatchersCount, r.WatchersCount)
	eqInt(t, "repo.forks_count", row.ForksCount, r.ForksCount)
	eqInt(t, "repo.open_issues_count", row.OpenIssuesCount, r.OpenIssuesCount)
	eqBool(t, "repo.has_issues", row.HasIssues, r.HasIssues)
	eqBool(t, "repo.has_projects", row.HasProjects, r.HasProjects)
	eqBool(t, "repo.has_wiki", row.HasWiki, r.HasWiki)
	eqBool(t, "repo.has_downloads", row.HasDownloads, r.HasDownloads)
	eqTime(t, "repo.created_at", row.CreatedAt, r.CreatedAt)
	eqTime(t, "repo.updated_at", row.UpdatedAt, r.UpdatedAt)
	eqTime(t, "repo.pushed_at", row.PushedAt, r.PushedAt)
	if r.Topics != nil && !slices.Equal([]string(row.Topics), r.Topics) {
		t.Errorf("repo.topics = %v, want %v", row.Topics, r.Topics)
	}
	checkUser(t, exec, r.Owner)
}

func checkInstallation(t testing.TB, exec boil.ContextExecutor, in *github.Installation) {
	t.Helper()
	row, err := models.FindGithubInstallation(context.Background(), exec, in.GetID())
	if err != nil {
		t.Fatalf("installation %d: %v", in.GetID(), err)
	}
	eqI64(t, "installation.app_id", row.AppID, in.AppID)
	eq(t, "installation.account_id", row.AccountID, in.GetAccount().GetID())
	eq(t, "installation.account_login", row.AccountLogin, in.GetAccount().GetLogin())
	eqStr(t, "installation.account_type", row.AccountType, in.GetAccount().Type)
	eqStr(t, "installation.target_type", row.TargetType, in.TargetType)
	eqStr(t, "installation.repository_selection", row.RepositorySelection, in.RepositorySelection)
	eqStr(t, "installation.html_url", row.HTMLURL, in.HTMLURL)
	eqTime(t, "installation.suspended_at", row.SuspendedAt, in.SuspendedAt)
	eqStr(t, "installation.suspended_by_login", row.SuspendedByLogin, ulogin(in.GetSuspendedBy()))
	eqTime(t, "installation.created_at", row.CreatedAt, in.CreatedAt)
	eqTime(t, "installation.updated_at", row.UpdatedAt, in.UpdatedAt)
	if !slices.Equal([]string(row.Events), in.Events) {
		t.Errorf("installation.events = %v, want %v", row.Events, in.Events)
	}
	var perms github.InstallationPermissions
	if err := json.Unmarshal(row.Permissions.JSON, &perms); err != nil {
		t.Errorf("installation.permissions %s: %v", row.Permissions.JSON, err)
	} else if in.Permissions != nil && perms.GetContents() != in.Permissions.GetContents() {
		t.Errorf("installation.permissions.contents = %q, want %q", perms.GetContents(), in.Permissions.GetContents())
	}
	checkUser(t, exec, in.Account)
}

func checkLabel(t testing.TB, exec boil.ContextExecutor, repoID int64, l *github.Label) {
	t.Helper()
	row, err := models.FindGithubIssueLabel(context.Background(), exec, repoID, l.GetName())
	if err != nil {
		t.Fatalf("label %q: %v", l.GetName(), err)
	}
	eq(t, "label.id", row.ID, l.GetID())
	eqStr(t, "label.node_id", row.NodeID, l.NodeID)
	eqStr(t, "label.url", row.URL, l.URL)
	eqStr(t, "label.color", row.Color, l.Color)
	eqStr(t, "label.description", row.Description, l.Description)
	eqBool(t, "label.default", row.Default, l.Default)
}

func checkMilestone(t testing.TB, exec boil.ContextExecutor, repoID int64, ms *github.Milestone) {
	t.Helper()
	row, err := models.FindGithubMilestone(context.Background(), exec, repoID, ms.GetNumber())
	if err != nil {
		t.Fatalf("milestone %d: %v", ms.GetNumber(), err)
	}
	eq(t, "milestone.id", row.ID, ms.GetID())
	eqStr(t, "milestone.node_id", row.NodeID, ms.NodeID)
	eqStr(t, "milestone.html_url", row.HTMLURL, ms.HTMLURL)
	eqStr(t, "milestone.state", row.State, ms.State)
	eq(t, "milestone.title", row.Title, ms.GetTitle())
	eqStr(t, "milestone.description", row.Description, ms.Description)
	eqI64(t, "milestone.creator_id", row.CreatorID, uid(ms.GetCreator()))
	eqStr(t, "milestone.creator_login", row.CreatorLogin, ulogin(ms.GetCreator()))
	eqInt(t, "milestone.open_issues_count", row.OpenIssuesCount, ms.OpenIssues)
	eqInt(t, "milestone.closed_issues_count", row.ClosedIssuesCount, ms.ClosedIssues)
	eqTime(t, "milestone.created_at", row.CreatedAt, ms.CreatedAt)
	eqTime(t, "milestone.updated_at", row.UpdatedAt, ms.UpdatedAt)
	eqTime(t, "milestone.closed_at", row.ClosedAt, ms.ClosedAt)
	eqTime(t, "milestone.due_at", row.DueAt, ms.DueOn)
}

func checkIssue(t testing.TB, exec boil.ContextExecutor, repoID int64, is *github.Issue) {
	t.Helper()
	ctx := context.Background()
	row, err := models.FindGithubIssue(ctx, exec, is.GetID())
	if err != nil {
		t.Fatalf("issue %d: %v", is.GetID(), err)
	}
	eq(t, "issue.repo_id", row.RepoID, repoID)
	eqStr(t, "issue.node_id", row.NodeID, is.NodeID)
	eq(t, "issue.number", row.Number, is.GetNumber())
	if is.State != nil { // pinned/unpinned payloads trim it
		eq(t, "issue.state", row.State, is.GetState())
	}
	eqStr(t, "issue.state_reason", row.StateReason, is.StateReason)
	eq(t, "issue.title", row.Title, is.GetTitle())
	eqStr(t, "issue.body", row.Body, is.Body)
	eqI64(t, "issue.user_id", row.UserID, uid(is.GetUser()))
	eqStr(t, "issue.user_login", row.UserLogin, ulogin(is.GetUser()))
	eqI64(t, "issue.assignee_id", row.AssigneeID, uid(is.GetAssignee()))
	eqStr(t, "issue.assignee_login", row.AssigneeLogin, ulogin(is.GetAssignee()))
	eqInt(t, "issue.milestone_number", row.MilestoneNumber, msNum(is.GetMilestone()))
	eqInt(t, "issue.comments_count", row.CommentsCount, is.Comments)
	eqBool(t, "issue.locked", row.Locked, is.Locked)
	eqStr(t, "issue.active_lock_reason", row.ActiveLockReason, is.ActiveLockReason)
	eq(t, "issue.is_pull_request", row.IsPullRequest, is.PullRequestLinks != nil)
	eqStr(t, "issue.author_association", row.AuthorAssociation, is.AuthorAssociation)
	eqStr(t, "issue.html_url", row.HTMLURL, is.HTMLURL)
	eqTime(t, "issue.created_at", row.CreatedAt, is.CreatedAt)
	eqTime(t, "issue.updated_at", row.UpdatedAt, is.UpdatedAt)
	eqTime(t, "issue.closed_at", row.ClosedAt, is.ClosedAt)
	if is.ClosedBy != nil {
		eqI64(t, "issue.closed_by_id", row.ClosedByID, is.ClosedBy.ID)
		eqStr(t, "issue.closed_by_login", row.ClosedByLogin, is.ClosedBy.Login)
	}
	var wantAssignees []string
	for _, a := range is.Assignees {
		wantAssignees = append(wantAssignees, a.GetLogin())
	}
	if !slices.Equal([]string(row.AssigneeLogins), wantAssignees) && !(len(row.AssigneeLogins) == 0 && len(wantAssignees) == 0) {
		t.Errorf("issue.assignee_logins = %v, want %v", row.AssigneeLogins, wantAssignees)
	}
	checkUser(t, exec, is.User)
	for _, l := range is.Labels {
		checkLabel(t, exec, repoID, l)
	}
	if is.Milestone != nil {
		if _, err := models.FindGithubMilestone(ctx, exec, repoID, is.Milestone.GetNumber()); err != nil {
			t.Errorf("issue milestone %d not stored: %v", is.Milestone.GetNumber(), err)
		}
	}
	eqLabels(t, "issue labels", issueLabels(t, exec, is.GetID()), is.Labels)
}

func issueLabels(t testing.TB, exec boil.ContextExecutor, issueID int64) []string {
	t.Helper()
	as, err := models.GithubIssueLabelAssociations(qm.Where("issue_id = ?", issueID)).All(context.Background(), exec)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, a := range as {
		out = append(out, a.LabelName)
	}
	sort.Strings(out)
	return out
}

func prLabels(t testing.TB, exec boil.ContextExecutor, prID int64) []string {
	t.Helper()
	as, err := models.GithubPullRequestLabelAssociations(qm.Where("pull_request_id = ?", prID)).All(context.Background(), exec)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, a := range as {
		out = append(out, a.LabelName)
	}
	sort.Strings(out)
	return out
}

func eqLabels(t testing.TB, what string, got []string, labels []*github.Label) {
	t.Helper()
	want := []string{}
	for _, l := range labels {
		want = append(want, l.GetName())
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func checkIssueComment(t testing.TB, exec boil.ContextExecutor, repoID int64, number int, c *github.IssueComment) {
	t.Helper()
	row, err := models.FindGithubIssueComment(context.Background(), exec, c.GetID())
	if err != nil {
		t.Fatalf("issue comment %d: %v", c.GetID(), err)
	}
	eq(t, "comment.repo_id", row.RepoID, repoID)
	eq(t, "comment.issue_number", row.IssueNumber, number)
	eqStr(t, "comment.node_id", row.NodeID, c.NodeID)
	eqI64(t, "comment.user_id", row.UserID, uid(c.GetUser()))
	eqStr(t, "comment.user_login", row.UserLogin, ulogin(c.GetUser()))
	eqStr(t, "comment.body", row.Body, c.Body)
	eqStr(t, "comment.author_association", row.AuthorAssociation, c.AuthorAssociation)
	eqStr(t, "comment.html_url", row.HTMLURL, c.HTMLURL)
	eqTime(t, "comment.created_at", row.CreatedAt, c.CreatedAt)
	eqTime(t, "comment.updated_at", row.UpdatedAt, c.UpdatedAt)
	checkUser(t, exec, c.User)
}

func checkPullRequest(t testing.TB, exec boil.ContextExecutor, pr *github.PullRequest) {
	t.Helper()
	row, err := models.FindGithubPullRequest(context.Background(), exec, pr.GetID())
	if err != nil {
		t.Fatalf("pull request %d: %v", pr.GetID(), err)
	}
	eqStr(t, "pr.node_id", row.NodeID, pr.NodeID)
	eq(t, "pr.number", row.Number, pr.GetNumber())
	eq(t, "pr.base_repo_id", row.BaseRepoID, pr.GetBase().GetRepo().GetID())
	eqI64(t, "pr.head_repo_id", row.HeadRepoID, repoIDp(pr.GetHead().GetRepo()))
	eqStr(t, "pr.base_ref", row.BaseRef, pr.GetBase().Ref)
	eqStr(t, "pr.base_sha", row.BaseSha, pr.GetBase().SHA)
	eqStr(t, "pr.head_ref", row.HeadRef, pr.GetHead().Ref)
	eqStr(t, "pr.head_sha", row.HeadSha, pr.GetHead().SHA)
	eqStr(t, "pr.head_label", row.HeadLabel, pr.GetHead().Label)
	eq(t, "pr.state", row.State, pr.GetState())
	eqBool(t, "pr.locked", row.Locked, pr.Locked)
	eqStr(t, "pr.active_lock_reason", row.ActiveLockReason, pr.ActiveLockReason)
	eqBool(t, "pr.draft", row.Draft, pr.Draft)
	eq(t, "pr.title", row.Title, pr.GetTitle())
	eqStr(t, "pr.body", row.Body, pr.Body)
	eqI64(t, "pr.user_id", row.UserID, uid(pr.GetUser()))
	eqStr(t, "pr.user_login", row.UserLogin, ulogin(pr.GetUser()))
	eqI64(t, "pr.assignee_id", row.AssigneeID, uid(pr.GetAssignee()))
	eqStr(t, "pr.assignee_login", row.AssigneeLogin, ulogin(pr.GetAssignee()))
	eqInt(t, "pr.milestone_number", row.MilestoneNumber, msNum(pr.GetMilestone()))
	// Lists and review payloads leave merged out; it equals "has merged_at".
	eqBool(t, "pr.merged", row.Merged, ptr(pr.Merged != nil && *pr.Merged || pr.Merged == nil && pr.MergedAt != nil))
	eqBool(t, "pr.mergeable", row.Mergeable, pr.Mergeable)
	eqStr(t, "pr.mergeable_state", row.MergeableState, pr.MergeableState)
	eqBool(t, "pr.rebaseable", row.Rebaseable, pr.Rebaseable)
	eqStr(t, "pr.merge_commit_sha", row.MergeCommitSha, pr.MergeCommitSHA)
	eqTime(t, "pr.merged_at", row.MergedAt, pr.MergedAt)
	eqI64(t, "pr.merged_by_id", row.MergedByID, uid(pr.GetMergedBy()))
	eqStr(t, "pr.merged_by_login", row.MergedByLogin, ulogin(pr.GetMergedBy()))
	eqBool(t, "pr.maintainer_can_modify", row.MaintainerCanModify, pr.MaintainerCanModify)
	eqStr(t, "pr.author_association", row.AuthorAssociation, pr.AuthorAssociation)
	eqInt(t, "pr.comments_count", row.CommentsCount, pr.Comments)
	eqInt(t, "pr.review_comments_count", row.ReviewCommentsCount, pr.ReviewComments)
	eqInt(t, "pr.commits_count", row.CommitsCount, pr.Commits)
	eqInt(t, "pr.additions", row.Additions, pr.Additions)
	eqInt(t, "pr.deletions", row.Deletions, pr.Deletions)
	eqInt(t, "pr.changed_files", row.ChangedFiles, pr.ChangedFiles)
	eqStr(t, "pr.html_url", row.HTMLURL, pr.HTMLURL)
	eqTime(t, "pr.created_at", row.CreatedAt, pr.CreatedAt)
	eqTime(t, "pr.updated_at", row.UpdatedAt, pr.UpdatedAt)
	eqTime(t, "pr.closed_at", row.ClosedAt, pr.ClosedAt)
	var reviewers []string
	for _, u := range pr.RequestedReviewers {
		reviewers = append(reviewers, u.GetLogin())
	}
	if strings.Join(row.RequestedReviewerLogins, ",") != strings.Join(reviewers, ",") {
		t.Errorf("pr.requested_reviewer_logins = %v, want %v", row.RequestedReviewerLogins, reviewers)
	}
	checkUser(t, exec, pr.User)
	checkRepository(t, exec, pr.Base.Repo)
	for _, l := range pr.Labels {
		checkLabel(t, exec, pr.Base.Repo.GetID(), l)
	}
	if pr.Milestone != nil {
		checkMilestone(t, exec, pr.Base.Repo.GetID(), pr.Milestone)
	}
	eqLabels(t, "pr labels", prLabels(t, exec, pr.GetID()), pr.Labels)
}

func checkReview(t testing.TB, exec boil.ContextExecutor, prID int64, r *github.PullRequestReview) {
	t.Helper()
	row, err := models.FindGithubPullRequestReview(context.Background(), exec, r.GetID())
	if err != nil {
		t.Fatalf("review %d: %v", r.GetID(), err)
	}
	eq(t, "review.pull_request_id", row.PullRequestID, prID)
	eqStr(t, "review.node_id", row.NodeID, r.NodeID)
	eqI64(t, "review.user_id", row.UserID, uid(r.GetUser()))
	eqStr(t, "review.user_login", row.UserLogin, ulogin(r.GetUser()))
	// Stored upper-cased whatever the source spelling.
	var state *string
	if r.State != nil {
		state = ptr(strings.ToUpper(*r.State))
	}
	eqStr(t, "review.state", row.State, state)
	eqStr(t, "review.body", row.Body, r.Body)
	eqStr(t, "review.commit_id", row.CommitID, r.CommitID)
	eqStr(t, "review.author_association", row.AuthorAssociation, r.AuthorAssociation)
	eqStr(t, "review.html_url", row.HTMLURL, r.HTMLURL)
	eqTime(t, "review.submitted_at", row.SubmittedAt, r.SubmittedAt)
}

func checkReviewComment(t testing.TB, exec boil.ContextExecutor, prID int64, c *github.PullRequestComment) {
	t.Helper()
	row, err := models.FindGithubPullRequestReviewComment(context.Background(), exec, c.GetID())
	if err != nil {
		t.Fatalf("review comment %d: %v", c.GetID(), err)
	}
	eq(t, "review_comment.pull_request_id", row.PullRequestID, prID)
	eqStr(t, "review_comment.node_id", row.NodeID, c.NodeID)
	eqI64(t, "review_comment.review_id", row.ReviewID, c.PullRequestReviewID)
	eqI64(t, "review_comment.user_id", row.UserID, uid(c.GetUser()))
	eqStr(t, "review_comment.user_login", row.UserLogin, ulogin(c.GetUser()))
	eqStr(t, "review_comment.path", row.Path, c.Path)
	eqInt(t, "review_comment.position", row.Position, c.Position)
	eqInt(t, "review_comment.original_position", row.OriginalPosition, c.OriginalPosition)
	eqInt(t, "review_comment.line", row.Line, c.Line)
	eqInt(t, "review_comment.original_line", row.OriginalLine, c.OriginalLine)
	eqInt(t, "review_comment.start_line", row.StartLine, c.StartLine)
	eqInt(t, "review_comment.original_start_line", row.OriginalStartLine, c.OriginalStartLine)
	eqStr(t, "review_comment.side", row.Side, c.Side)
	eqStr(t, "review_comment.start_side", row.StartSide, c.StartSide)
	eqStr(t, "review_comment.commit_id", row.CommitID, c.CommitID)
	eqStr(t, "review_comment.original_commit_id", row.OriginalCommitID, c.OriginalCommitID)
	eqStr(t, "review_comment.diff_hunk", row.DiffHunk, c.DiffHunk)
	eqStr(t, "review_comment.body", row.Body, c.Body)
	eqI64(t, "review_comment.in_reply_to_id", row.InReplyToID, c.InReplyTo)
	eqStr(t, "review_comment.author_association", row.AuthorAssociation, c.AuthorAssociation)
	eqStr(t, "review_comment.html_url", row.HTMLURL, c.HTMLURL)
	eqTime(t, "review_comment.created_at", row.CreatedAt, c.CreatedAt)
	eqTime(t, "review_comment.updated_at", row.UpdatedAt, c.UpdatedAt)
}

// checkStamp asserts the replication timestamp of via was set to at.
func checkStamp(t testing.TB, exec boil.ContextExecutor, table, where string, m process.Meta, args ...any) {
	t.Helper()
	col := "last_replicated_via_webhook_at"
	if m.Via == process.ViaAPI {
		col = "last_replicated_via_api_at"
	}
	n := count(t, exec, `SELECT count(*) FROM `+table+` WHERE `+where+` AND `+col+` = $`+strconv.Itoa(len(args)+1)+` AND last_replicated_at >= `+col, append(args, m.FetchedAt)...)
	if n != 1 {
		t.Errorf("%s where %s: %s not stamped with %v", table, where, col, m.FetchedAt)
	}
}

func uid(u *github.User) *int64 {
	if u == nil {
		return nil
	}
	return u.ID
}

func ulogin(u *github.User) *string {
	if u == nil {
		return nil
	}
	return u.Login
}

func utype(u *github.User) *string {
	if u == nil {
		return nil
	}
	return u.Type
}

func repoIDp(r *github.Repository) *int64 {
	if r == nil {
		return nil
	}
	return r.ID
}

func msNum(ms *github.Milestone) *int {
	if ms == nil {
		return nil
	}
	return ms.Number
}
