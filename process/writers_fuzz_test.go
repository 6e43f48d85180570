package process_test

import (
	"context"
	"database/sql"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// The process entry points that take GitHub data, grouped by fuzz target.
// Children are written under the fixtures (repository fxRepoID, issue
// fxIssueNumber, pull request fxPullID); ids to delete come from the
// decoded objects.

// obj builds a writer of the object of type T under key; an input without
// it is skipped (no transaction is opened for it).
func obj[T any](name, key string, write func(ctx context.Context, exec *sql.Tx, v T, data []byte, m process.Meta) error) fuzzWriter {
	return fuzzWriter{name: name, key: key, prepare: func(data []byte) func(context.Context, *sql.Tx, process.Meta) error {
		v, ok := decode[T](data, key)
		if !ok {
			return nil
		}
		return func(ctx context.Context, exec *sql.Tx, m process.Meta) error { return write(ctx, exec, v, data, m) }
	}}
}

// field is the value under key, or T's zero value.
func field[T any](data []byte, key string) T {
	v, _ := decode[T](data, key)
	return v
}

func errOf[T any](_ T, err error) error { return err }

func errOf2[T, U any](_ T, _ U, err error) error { return err }

// transfer is the "transfer" key of a fuzz input: the ids of an issue
// transfer, as the handlers derive them from an issues.transferred event.
type transfer = process.IssueTransfer

var issueWriters = []fuzzWriter{
	obj("Issue", "issue", func(ctx context.Context, exec *sql.Tx, v *github.Issue, _ []byte, m process.Meta) error {
		return errOf(process.Issue(ctx, exec, fxRepoID, v, m))
	}),
	obj("Issues", "issues", func(ctx context.Context, exec *sql.Tx, v []*github.Issue, _ []byte, m process.Meta) error {
		return errOf2(process.Issues(ctx, exec, fxRepoID, v, m))
	}),
	obj("IssueComment", "comment", func(ctx context.Context, exec *sql.Tx, v *github.IssueComment, data []byte, m process.Meta) error {
		return errOf(process.IssueComment(ctx, exec, fxRepoID, issueNumber(data), v, m))
	}),
	obj("IssueComments", "comments", func(ctx context.Context, exec *sql.Tx, v []*github.IssueComment, data []byte, m process.Meta) error {
		return errOf2(process.IssueComments(ctx, exec, fxRepoID, issueNumber(data), v, m))
	}),
	obj("DeleteIssue", "issue", func(ctx context.Context, exec *sql.Tx, v *github.Issue, _ []byte, _ process.Meta) error {
		return process.DeleteIssue(ctx, exec, v.GetID())
	}),
	obj("DeleteIssueComment", "comment", func(ctx context.Context, exec *sql.Tx, v *github.IssueComment, _ []byte, _ process.Meta) error {
		return process.DeleteIssueComment(ctx, exec, v.GetID())
	}),
	obj("TransferIssue", "transfer", func(ctx context.Context, exec *sql.Tx, v transfer, _ []byte, _ process.Meta) error {
		return process.TransferIssue(ctx, exec, v)
	}),
	obj("TransferIssueComments", "transfer", func(ctx context.Context, exec *sql.Tx, v transfer, _ []byte, _ process.Meta) error {
		return errOf(process.TransferIssueComments(ctx, exec, v.OldRepoID, v.OldNumber, v.NewRepoID, v.NewNumber))
	}),
}

// issueNumber is the number of the payload's issue, else the fixture's.
func issueNumber(data []byte) int {
	if is := field[*github.Issue](data, "issue"); is != nil && is.Number != nil {
		return *is.Number
	}
	return fxIssueNumber
}

var pullWriters = []fuzzWriter{
	obj("PullRequest", "pull_request", func(ctx context.Context, exec *sql.Tx, v *github.PullRequest, _ []byte, m process.Meta) error {
		return errOf(process.PullRequest(ctx, exec, v, m))
	}),
	obj("PullRequests", "pull_requests", func(ctx context.Context, exec *sql.Tx, v []*github.PullRequest, _ []byte, m process.Meta) error {
		return errOf2(process.PullRequests(ctx, exec, v, m))
	}),
	obj("PullRequestFiles", "files", func(ctx context.Context, exec *sql.Tx, v []*github.CommitFile, _ []byte, m process.Meta) error {
		return errOf(process.PullRequestFiles(ctx, exec, fxPullID, v, m))
	}),
	obj("SetPullRequestFiles", "files", func(ctx context.Context, exec *sql.Tx, v []*github.CommitFile, _ []byte, m process.Meta) error {
		return errOf2(process.SetPullRequestFiles(ctx, exec, fxPullID, v, m))
	}),
	obj("DeletePullRequestFilesExceptSince", "files", func(ctx context.Context, exec *sql.Tx, v []*github.CommitFile, _ []byte, m process.Meta) error {
		keep := make([]string, 0, len(v))
		for _, f := range v {
			keep = append(keep, f.GetFilename())
		}
		return errOf(process.DeletePullRequestFilesExceptSince(ctx, exec, fxPullID, keep, m.FetchedAt))
	}),
	obj("PullRequestReview", "review", func(ctx context.Context, exec *sql.Tx, v *github.PullRequestReview, _ []byte, m process.Meta) error {
		return errOf(process.PullRequestReview(ctx, exec, fxPullID, v, m))
	}),
	obj("PullRequestReviews", "reviews", func(ctx context.Context, exec *sql.Tx, v []*github.PullRequestReview, _ []byte, m process.Meta) error {
		return errOf2(process.PullRequestReviews(ctx, exec, fxPullID, v, m))
	}),
	obj("PullRequestReviewComment", "comment", func(ctx context.Context, exec *sql.Tx, v *github.PullRequestComment, _ []byte, m process.Meta) error {
		return errOf(process.PullRequestReviewComment(ctx, exec, fxPullID, v, m))
	}),
	obj("PullRequestReviewComments", "comments", func(ctx context.Context, exec *sql.Tx, v []*github.PullRequestComment, _ []byte, m process.Meta) error {
		return errOf2(process.PullRequestReviewComments(ctx, exec, fxPullID, v, m))
	}),
	obj("DeletePullRequest", "pull_request", func(ctx context.Context, exec *sql.Tx, v *github.PullRequest, _ []byte, _ process.Meta) error {
		return process.DeletePullRequest(ctx, exec, v.GetID())
	}),
	obj("DeletePullRequestReview", "review", func(ctx context.Context, exec *sql.Tx, v *github.PullRequestReview, _ []byte, _ process.Meta) error {
		return process.DeletePullRequestReview(ctx, exec, v.GetID())
	}),
	obj("DeletePullRequestReviewComment", "comment", func(ctx context.Context, exec *sql.Tx, v *github.PullRequestComment, _ []byte, _ process.Meta) error {
		return process.DeletePullRequestReviewComment(ctx, exec, v.GetID())
	}),
}

var repoWriters = []fuzzWriter{
	obj("Repository", "repository", func(ctx context.Context, exec *sql.Tx, v *github.Repository, _ []byte, m process.Meta) error {
		return errOf(process.Repository(ctx, exec, v, m))
	}),
	obj("Repositories", "repositories", func(ctx context.Context, exec *sql.Tx, v []*github.Repository, _ []byte, m process.Meta) error {
		return errOf2(process.Repositories(ctx, exec, v, m))
	}),
	obj("DeleteRepository", "repository", func(ctx context.Context, exec *sql.Tx, v *github.Repository, _ []byte, _ process.Meta) error {
		return process.DeleteRepository(ctx, exec, v.GetID())
	}),
	obj("Label", "label", func(ctx context.Context, exec *sql.Tx, v *github.Label, _ []byte, m process.Meta) error {
		return errOf(process.Label(ctx, exec, fxRepoID, v, m))
	}),
	obj("Labels", "labels", func(ctx context.Context, exec *sql.Tx, v []*github.Label, _ []byte, m process.Meta) error {
		return errOf2(process.Labels(ctx, exec, fxRepoID, v, m))
	}),
	obj("DeletedLabel", "label", func(ctx context.Context, exec *sql.Tx, v *github.Label, _ []byte, _ process.Meta) error {
		return process.DeletedLabel(ctx, exec, fxRepoID, v)
	}),
	obj("DeleteLabel", "label", func(ctx context.Context, exec *sql.Tx, v *github.Label, _ []byte, _ process.Meta) error {
		return process.DeleteLabel(ctx, exec, fxRepoID, v.GetName())
	}),
	obj("DeleteLabelByID", "label", func(ctx context.Context, exec *sql.Tx, v *github.Label, _ []byte, _ process.Meta) error {
		return process.DeleteLabelByID(ctx, exec, fxRepoID, v.GetID())
	}),
	obj("Milestone", "milestone", func(ctx context.Context, exec *sql.Tx, v *github.Milestone, _ []byte, m process.Meta) error {
		return errOf(process.Milestone(ctx, exec, fxRepoID, v, m))
	}),
	obj("Milestones", "milestones", func(ctx context.Context, exec *sql.Tx, v []*github.Milestone, _ []byte, m process.Meta) error {
		return errOf2(process.Milestones(ctx, exec, fxRepoID, v, m))
	}),
	obj("DeleteMilestone", "milestone", func(ctx context.Context, exec *sql.Tx, v *github.Milestone, _ []byte, _ process.Meta) error {
		return process.DeleteMilestone(ctx, exec, fxRepoID, v.GetNumber())
	}),
	obj("User", "sender", func(ctx context.Context, exec *sql.Tx, v *github.User, _ []byte, m process.Meta) error {
		return errOf(process.User(ctx, exec, v, m))
	}),
	obj("Users", "members", func(ctx context.Context, exec *sql.Tx, v []*github.User, _ []byte, m process.Meta) error {
		return errOf2(process.Users(ctx, exec, v, m))
	}),
	obj("UserRepositoryPermission", "member", func(ctx context.Context, exec *sql.Tx, v *github.User, data []byte, m process.Meta) error {
		return withUser(ctx, exec, v, m, func() error {
			return process.UserRepositoryPermission(ctx, exec, v.GetID(), fxRepoID, field[map[string]bool](data, "permissions"), m)
		})
	}),
	obj("UserRepositoryPermissionLevel", "member", func(ctx context.Context, exec *sql.Tx, v *github.User, data []byte, m process.Meta) error {
		return withUser(ctx, exec, v, m, func() error {
			return process.UserRepositoryPermissionLevel(ctx, exec, v.GetID(), fxRepoID, field[string](data, "permission"), m)
		})
	}),
	obj("RefreshUserRepositoryPermissionLevel", "member", func(ctx context.Context, exec *sql.Tx, v *github.User, data []byte, m process.Meta) error {
		return withUser(ctx, exec, v, m, func() error {
			return errOf(process.RefreshUserRepositoryPermissionLevel(ctx, exec, v.GetID(), fxRepoID, field[string](data, "permission"), m))
		})
	}),
	obj("UserRepositoryCollaborator", "member", func(ctx context.Context, exec *sql.Tx, v *github.User, _ []byte, m process.Meta) error {
		return withUser(ctx, exec, v, m, func() error {
			return process.UserRepositoryCollaborator(ctx, exec, v.GetID(), fxRepoID, m)
		})
	}),
	obj("DeleteUserRepositoryAssociation", "member", func(ctx context.Context, exec *sql.Tx, v *github.User, _ []byte, m process.Meta) error {
		return process.DeleteUserRepositoryAssociation(ctx, exec, v.GetID(), fxRepoID, m)
	}),
	obj("Bury", "bury", func(ctx context.Context, exec *sql.Tx, v struct {
		Kind string
		ID   int64
	}, _ []byte, m process.Meta) error {
		return process.Bury(ctx, exec, v.Kind, v.ID, m)
	}),
}

// withUser writes u first, as the member handler does, so a permission
// has its user.
func withUser(ctx context.Context, exec *sql.Tx, u *github.User, m process.Meta, write func() error) error {
	if _, err := process.User(ctx, exec, u, m); err != nil {
		return err
	}
	return write()
}

var installationWriters = []fuzzWriter{
	obj("Installation", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, _ []byte, m process.Meta) error {
		return errOf(process.Installation(ctx, exec, v, m))
	}),
	obj("InstallationSuspendEvent", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, data []byte, m process.Meta) error {
		return process.InstallationSuspendEvent(ctx, exec, v, field[*github.User](data, "sender").GetLogin(), m)
	}),
	obj("InstallationUnsuspendEvent", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, _ []byte, m process.Meta) error {
		return process.InstallationUnsuspendEvent(ctx, exec, v, m)
	}),
	obj("InstallationRepositories", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, data []byte, m process.Meta) error {
		added := field[[]*github.Repository](data, "repositories_added")
		removed := field[[]*github.Repository](data, "repositories_removed")
		return process.InstallationRepositories(ctx, exec, v.GetID(), added, removed, m)
	}),
	obj("SetInstallationRepositories", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, data []byte, m process.Meta) error {
		return process.SetInstallationRepositories(ctx, exec, v.GetID(), field[[]*github.Repository](data, "repositories"), m)
	}),
	obj("LinkInstallationRepository", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, data []byte, _ process.Meta) error {
		repoID := field[*github.Repository](data, "repository").GetID()
		if repoID == 0 {
			repoID = fxRepoID
		}
		return process.LinkInstallationRepository(ctx, exec, v.GetID(), repoID)
	}),
	obj("DeleteInstallation", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, _ []byte, m process.Meta) error {
		return process.DeleteInstallation(ctx, exec, v.GetID(), m)
	}),
	obj("SuspendInstallation", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, _ []byte, m process.Meta) error {
		return process.SuspendInstallation(ctx, exec, v.GetID(), v.GetSuspendedAt().Time, v.GetSuspendedBy().GetLogin(), m)
	}),
	obj("UnsuspendInstallation", "installation", func(ctx context.Context, exec *sql.Tx, v *github.Installation, _ []byte, m process.Meta) error {
		return process.UnsuspendInstallation(ctx, exec, v.GetID(), m)
	}),
}
