package process_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// Labels: renames, partial labels, labels by name.

// TestLabelRename: a renamed label keeps its issues and pull requests, and
// a late payload carrying the old name neither renames it back nor loses
// the association.
func TestLabelRename(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	iev := issuesEvent(t, "labeled.payload.json")
	repoID := storeRepo(t, exec, iev.Repo)
	label := iev.Issue.Labels[0]
	oldName := label.GetName()
	mustOutcome(t, process.Written)(process.Issue(ctx, exec, repoID, iev.Issue, webhook(t0)))
	pev := prEvent(t, "labeled.payload.json")
	pev.PullRequest.Labels = []*github.Label{label}
	mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, pev.PullRequest, webhook(t0)))

	renamed := *label
	renamed.Name = ptr("renamed label")
	renamed.Color = ptr("00ff00")
	mustOutcome(t, process.Written)(process.Label(ctx, exec, repoID, &renamed, webhook(t0.Add(time.Minute))))
	checkLabel(t, exec, repoID, &renamed)
	eq(t, "labels named "+oldName, count(t, exec, `SELECT count(*) FROM github_issue_label WHERE repo_id = $1 AND name = $2`, repoID, oldName), 0)
	eqLabels(t, "issue labels after rename", issueLabels(t, exec, iev.Issue.GetID()), []*github.Label{&renamed})
	eqLabels(t, "pr labels after rename", prLabels(t, exec, pev.PullRequest.GetID()), []*github.Label{&renamed})

	// A later edit of the issue whose payload still says the old name.
	late := issuesEvent(t, "labeled.payload.json").Issue
	late.UpdatedAt = stamp(late.UpdatedAt.Add(time.Minute))
	late.Title = ptr("edited after the rename")
	mustOutcome(t, process.Written)(process.Issue(ctx, exec, repoID, late, webhook(t0.Add(2*time.Minute))))
	checkLabel(t, exec, repoID, &renamed)
	eqLabels(t, "issue labels after late payload", issueLabels(t, exec, iev.Issue.GetID()), []*github.Label{&renamed})

	// Unlabeled: an empty list removes the association, the label stays.
	late.Labels = []*github.Label{}
	late.UpdatedAt = stamp(late.UpdatedAt.Add(time.Minute))
	mustOutcome(t, process.Written)(process.Issue(ctx, exec, repoID, late, webhook(t0.Add(3*time.Minute))))
	eqLabels(t, "issue labels after unlabel", issueLabels(t, exec, iev.Issue.GetID()), nil)
	checkLabel(t, exec, repoID, &renamed)

	// A label recreated under a name a deleted label had replaces it.
	recreated := &github.Label{ID: ptr(int64(999)), Name: ptr("renamed label"), Color: ptr("ffffff")}
	mustOutcome(t, process.Written)(process.Label(ctx, exec, repoID, recreated, webhook(t0.Add(4*time.Minute))))
	checkLabel(t, exec, repoID, recreated)
	eqLabels(t, "pr labels after the old label is replaced", prLabels(t, exec, pev.PullRequest.GetID()), nil)

	// A label with only a name is accepted when stored, refused otherwise.
	mustOutcome(t, process.Written)(process.Label(ctx, exec, repoID, &github.Label{Name: ptr("renamed label")}, webhook(t0)))
	checkLabel(t, exec, repoID, recreated)
	_, err := process.Label(ctx, exec, repoID, &github.Label{Name: ptr("nope")}, webhook(t0))
	isErr(t, err, process.ErrInvalid)
}

// TestPartialLabelKeepsFields: a label with an id but no color or
// description is merged in.
func TestPartialLabelKeepsFields(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	ev := payload(t, "label", "created.payload.json").(*github.LabelEvent)
	repoID := storeRepo(t, exec, ev.Repo)
	ev.Label.Description = ptr("a description")
	mustOutcome(t, process.Written)(process.Label(ctx, exec, repoID, ev.Label, webhook(t0)))
	mustOutcome(t, process.Written)(process.Label(ctx, exec, repoID, &github.Label{ID: ev.Label.ID, Name: ev.Label.Name}, webhook(t0)))
	checkLabel(t, exec, repoID, ev.Label)
}

// TestLabelsByName: a label without an id links by name when stored and is
// skipped otherwise (it cannot be created without an id).
func TestLabelsByName(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	ev := issuesEvent(t, "opened.payload.json")
	repoID := storeRepo(t, exec, ev.Repo)
	stored := &github.Label{ID: ptr(int64(31)), Name: ptr("stored"), Color: ptr("000000")}
	mustOutcome(t, process.Written)(process.Label(ctx, exec, repoID, stored, webhook(t0)))
	ev.Issue.Labels = []*github.Label{{Name: ptr("stored")}, {Name: ptr("unknown")}}
	mustOutcome(t, process.Written)(process.Issue(ctx, exec, repoID, ev.Issue, webhook(t0)))
	eqLabels(t, "issue labels", issueLabels(t, exec, ev.Issue.GetID()), []*github.Label{stored})
	checkLabel(t, exec, repoID, stored)
}

// TestIssueThatIsAPullRequest: GitHub's issue list holds pull requests too.
func TestIssueThatIsAPullRequest(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	for _, c := range []struct {
		file string
		want bool
	}{
		{"milestoned.payload.json", true},
		{"opened.payload.json", false},
	} {
		ev := issuesEvent(t, c.file)
		repoID := storeRepo(t, exec, ev.Repo)
		mustOutcome(t, process.Written)(process.Issue(ctx, exec, repoID, ev.Issue, webhook(t0)))
		row, err := models.FindGithubIssue(ctx, exec, ev.Issue.GetID())
		must(t, err)
		eq(t, c.file+" is_pull_request", row.IsPullRequest, c.want)
	}
}
