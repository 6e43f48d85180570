package process

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/go-github/v60/github"
	"github.com/volatiletech/sqlboiler/v4/boil"
)

var milestoneSpec = &spec{
	table:     "github_milestone",
	conflict:  "repo_id, number",
	guard:     guardUpdatedAt,
	returning: "number::text",
	cols: cols("repo_id!", "number!", "id", "node_id", "html_url", "state", "title", "description",
		"creator_id", "creator_login", "open_issues_count", "closed_issues_count", "created_at",
		"updated_at~", "closed_at", "due_at"),
}

func milestoneRow(repoID int64, ms *github.Milestone) (row, error) {
	if ms == nil || ms.ID == nil || ms.Number == nil || ms.Title == nil {
		return row{}, fmt.Errorf("milestone without id, number or title: %w", ErrInvalid)
	}
	return row{
		key:     strconv.Itoa(*ms.Number),
		partial: ms.UpdatedAt == nil,
		version: version(ms.UpdatedAt),
		vals: []any{repoID, *ms.Number, *ms.ID, str(ms.NodeID), str(ms.HTMLURL), str(ms.State), *ms.Title,
			str(ms.Description), userID(ms.Creator), userLogin(ms.Creator), num(ms.OpenIssues),
			num(ms.ClosedIssues), ts(ms.CreatedAt), ts(ms.UpdatedAt), ts(ms.ClosedAt), ts(ms.DueOn)},
	}, nil
}

// Milestone upserts a milestone of a repository (which must be stored) and
// its creator. Newer updated_at wins.
func Milestone(ctx context.Context, exec boil.ContextExecutor, repoID int64, ms *github.Milestone, m Meta) (Outcome, error) {
	r, err := milestoneRow(repoID, ms)
	if err != nil {
		return 0, err
	}
	if err := checkMeta(m); err != nil {
		return 0, err
	}
	if err := nestedUsers(ctx, exec, m, ms.Creator); err != nil {
		return 0, fmt.Errorf("upsert milestone %d of repo %d: %w", *ms.Number, repoID, err)
	}
	written, err := upsert(ctx, exec, milestoneSpec, m, []row{r})
	if err != nil {
		return 0, fmt.Errorf("upsert milestone %d of repo %d: %w", *ms.Number, repoID, err)
	}
	return outcome(written, r.key), nil
}

// Milestones upserts a page of milestones of one repository.
func Milestones(ctx context.Context, exec boil.ContextExecutor, repoID int64, list []*github.Milestone, m Meta) (written, stale int, err error) {
	if err := checkMeta(m); err != nil {
		return 0, 0, err
	}
	rows := make([]row, 0, len(list))
	users := make([]*github.User, 0, len(list))
	for _, ms := range list {
		r, err := milestoneRow(repoID, ms)
		if err != nil {
			return 0, 0, fmt.Errorf("milestones of repo %d: %w", repoID, err)
		}
		rows = append(rows, r)
		users = append(users, ms.Creator)
	}
	if err := nestedUsers(ctx, exec, m, users...); err != nil {
		return 0, 0, fmt.Errorf("upsert %d milestones of repo %d: %w", len(rows), repoID, err)
	}
	w, err := upsert(ctx, exec, milestoneSpec, m, rows)
	if err != nil {
		return 0, 0, fmt.Errorf("upsert %d milestones of repo %d: %w", len(rows), repoID, err)
	}
	return len(w), distinct(rows) - len(w), nil
}

// nestedMilestones writes the milestones of issues or pull requests of one
// repository, ignoring staleness. The caller writes their creators with
// its other users, saving a round trip.
func nestedMilestones(ctx context.Context, exec boil.ContextExecutor, repoID int64, m Meta, list []*github.Milestone) error {
	rows := make([]row, 0, len(list))
	for _, ms := range list {
		if r, err := milestoneRow(repoID, ms); err == nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := upsert(ctx, exec, milestoneSpec, m, rows); err != nil {
		return fmt.Errorf("upsert %d milestones of repo %d: %w", len(rows), repoID, err)
	}
	return nil
}

// DeleteMilestone removes a milestone; GitHub takes it off its issues and
// pull requests too.
func DeleteMilestone(ctx context.Context, exec boil.ContextExecutor, repoID int64, number int) error {
	q := `WITH i AS (
			UPDATE github_issue SET milestone_number = NULL WHERE repo_id = $1 AND milestone_number = $2
		), p AS (
			UPDATE github_pull_request SET milestone_number = NULL WHERE base_repo_id = $1 AND milestone_number = $2
		)
		DELETE FROM github_milestone WHERE repo_id = $1 AND number = $2`
	if _, err := exec.ExecContext(ctx, q, repoID, number); err != nil {
		return fmt.Errorf("delete milestone %d of repo %d: %w", number, repoID, classify(err))
	}
	return nil
}
