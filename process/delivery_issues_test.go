package process_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// Delivery writes of issues and labels: transfers, label deletes.

// commentsOf returns the ids of the comments stored on an issue.
func commentsOf(t testing.TB, exec *sql.Tx, repoID int64, number int) []int64 {
	t.Helper()
	rows, err := models.GithubIssueComments(
		models.GithubIssueCommentWhere.RepoID.EQ(repoID),
		models.GithubIssueCommentWhere.IssueNumber.EQ(number),
	).All(context.Background(), exec)
	must(t, err)
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

func eqIDs(t testing.TB, name string, got, want []int64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func TestTransferIssueComments(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// from the issue with comments (true) or from one without (false)
		fromCommented bool
		wantMoved     int64
	}{
		{name: "comments follow the issue", fromCommented: true, wantMoved: 2},
		{name: "an issue without comments moves nothing", fromCommented: false, wantMoved: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			ev := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent)
			oldRepo := storeRepo(t, exec, ev.Repo)
			newRepo := storeRepo(t, exec, otherRepo(ev.Repo, ev.Repo.GetID()+1))
			number := ev.Issue.GetNumber()
			mustOutcome(t, process.Written)(process.Issue(ctx, exec, oldRepo, ev.Issue, webhook(t0)))
			second := *ev.Comment
			second.ID = ptr(ev.Comment.GetID() + 1)
			// A comment on another issue of the same repository stays.
			elsewhere := *ev.Comment
			elsewhere.ID = ptr(ev.Comment.GetID() + 2)
			for _, cm := range []*github.IssueComment{ev.Comment, &second} {
				mustOutcome(t, process.Written)(process.IssueComment(ctx, exec, oldRepo, number, cm, webhook(t0)))
			}
			mustOutcome(t, process.Written)(process.IssueComment(ctx, exec, oldRepo, number+1, &elsewhere, webhook(t0)))

			from := number
			if !c.fromCommented {
				from = number + 100
			}
			const newNumber = 7
			moved, err := process.TransferIssueComments(ctx, exec, oldRepo, from, newRepo, newNumber)
			must(t, err)
			eq(t, "moved", moved, c.wantMoved)
			if c.fromCommented {
				eqIDs(t, "comments on the new issue", commentsOf(t, exec, newRepo, newNumber), []int64{ev.Comment.GetID(), second.GetID()})
				eq(t, "comments left on the old issue", len(commentsOf(t, exec, oldRepo, number)), 0)
				// Deleting the old issue, as a transfer does next, keeps them.
				must(t, process.DeleteIssue(ctx, exec, ev.Issue.GetID()))
				eq(t, "comments on the new issue after the old one is deleted", len(commentsOf(t, exec, newRepo, newNumber)), 2)
				// The moved comment is the same row: its text is intact.
				row, err := models.FindGithubIssueComment(ctx, exec, ev.Comment.GetID())
				must(t, err)
				eqStr(t, "moved comment body", row.Body, ev.Comment.Body)
			} else {
				eq(t, "comments on the old issue", len(commentsOf(t, exec, oldRepo, number)), 2)
				eq(t, "comments on the new issue", len(commentsOf(t, exec, newRepo, newNumber)), 0)
			}
			eqIDs(t, "comments on the other issue", commentsOf(t, exec, oldRepo, number+1), []int64{elsewhere.GetID()})
		})
	}
}

// transferPayload is issues/opened.with-transfer: the issue as opened in
// its new repository, with where it came from.
type transferPayload struct {
	github.IssuesEvent
	Changes struct {
		OldIssue      *github.Issue      `json:"old_issue"`
		OldRepository *github.Repository `json:"old_repository"`
	} `json:"changes"`
}

func TestTransferIssue(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name           string
		storeOld       bool
		oldRepoKnown   bool
		times          int
		wantOnNew      int
		wantOldRemains bool
	}{
		{name: "comments follow the issue", storeOld: true, oldRepoKnown: true, times: 1, wantOnNew: 2},
		{name: "both sides delivered", storeOld: true, oldRepoKnown: true, times: 2, wantOnNew: 2},
		{name: "old repository unknown: old issue and its comments go", storeOld: true, times: 1, wantOnNew: 0},
		{name: "old issue never stored", oldRepoKnown: true, times: 1, wantOnNew: 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			data, err := os.ReadFile(filepath.Join(payloadDir(), "issues", "opened.with-transfer.payload.json"))
			must(t, err)
			var ev transferPayload
			must(t, json.Unmarshal(data, &ev))
			oldIssue, oldRepo := ev.Changes.OldIssue, ev.Changes.OldRepository
			newRepoID := storeRepo(t, exec, ev.Repo)
			mustOutcome(t, process.Written)(process.Issue(ctx, exec, newRepoID, ev.Issue, webhook(t0)))
			oldRepoID := storeRepo(t, exec, oldRepo)
			comments := []int64{}
			if c.storeOld {
				mustOutcome(t, process.Written)(process.Issue(ctx, exec, oldRepoID, oldIssue, webhook(t0)))
				base := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent).Comment
				for i := range 2 {
					cm := *base
					cm.ID = ptr(base.GetID() + int64(i))
					mustOutcome(t, process.Written)(process.IssueComment(ctx, exec, oldRepoID, oldIssue.GetNumber(), &cm, webhook(t0)))
					comments = append(comments, cm.GetID())
				}
			}
			tr := process.IssueTransfer{
				OldIssueID: oldIssue.GetID(), OldNumber: oldIssue.GetNumber(),
				NewRepoID: newRepoID, NewNumber: ev.Issue.GetNumber(),
			}
			if c.oldRepoKnown {
				tr.OldRepoID = oldRepoID
			}
			for range c.times {
				must(t, process.TransferIssue(ctx, exec, tr))
			}
			eq(t, "old issue rows", count(t, exec, `SELECT count(*) FROM github_issue WHERE id = $1`, oldIssue.GetID()), 0)
			eq(t, "new issue rows", count(t, exec, `SELECT count(*) FROM github_issue WHERE id = $1`, ev.Issue.GetID()), 1)
			eq(t, "comments left in the old repository", len(commentsOf(t, exec, oldRepoID, oldIssue.GetNumber())), 0)
			got := commentsOf(t, exec, newRepoID, ev.Issue.GetNumber())
			if c.wantOnNew > 0 {
				eqIDs(t, "comments on the new issue", got, comments)
			} else {
				eq(t, "comments on the new issue", len(got), 0)
			}
		})
	}
}

// labelState stores the label of labeled.payload.json on its issue and
// returns the event, the repository id and the label as stored.
func labelState(t *testing.T, exec *sql.Tx) (*github.IssuesEvent, int64, *github.Label) {
	t.Helper()
	ev := issuesEvent(t, "labeled.payload.json")
	repoID := storeRepo(t, exec, ev.Repo)
	mustOutcome(t, process.Written)(process.Issue(context.Background(), exec, repoID, ev.Issue, webhook(t0)))
	return ev, repoID, ev.Issue.Labels[0]
}

func TestDeleteLabelByID(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		otherRepo bool // delete the id in another repository
		wantLeft  int
	}{
		{name: "label and its associations go", wantLeft: 0},
		{name: "another repository's id is not this label", otherRepo: true, wantLeft: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			ev, repoID, label := labelState(t, exec)
			target := repoID
			if c.otherRepo {
				target = storeRepo(t, exec, otherRepo(ev.Repo, repoID+1))
			}
			must(t, process.DeleteLabelByID(ctx, exec, target, label.GetID()))
			eq(t, "labels with the id", count(t, exec, `SELECT count(*) FROM github_issue_label WHERE repo_id = $1 AND id = $2`, repoID, label.GetID()), c.wantLeft)
			eq(t, "associations", len(issueLabels(t, exec, ev.Issue.GetID())), c.wantLeft*len(ev.Issue.Labels))
		})
	}
}

func TestDeletedLabel(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		// deleted builds the label of the delete event from the stored one.
		deleted  func(stored *github.Label) *github.Label
		wantLeft int
		wantErr  error
	}{
		{
			name:    "by name and id",
			deleted: func(l *github.Label) *github.Label { return &github.Label{ID: l.ID, Name: l.Name} },
		},
		{
			name:    "by name when the payload has no id",
			deleted: func(l *github.Label) *github.Label { return &github.Label{Name: l.Name} },
		},
		{
			// Renamed on GitHub, the rename's delivery not received yet.
			name:    "by id when the name is one we never stored",
			deleted: func(l *github.Label) *github.Label { return &github.Label{ID: l.ID, Name: ptr("renamed since")} },
		},
		{
			name: "another label is kept",
			deleted: func(l *github.Label) *github.Label {
				return &github.Label{ID: ptr(l.GetID() + 1), Name: ptr("not this one")}
			},
			wantLeft: 1,
		},
		{
			name:     "neither name nor id is invalid",
			deleted:  func(*github.Label) *github.Label { return &github.Label{Color: ptr("ffffff")} },
			wantLeft: 1,
			wantErr:  process.ErrInvalid,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			ev, repoID, label := labelState(t, exec)
			err := process.DeletedLabel(ctx, exec, repoID, c.deleted(label))
			if c.wantErr != nil {
				isErr(t, err, c.wantErr)
			} else {
				must(t, err)
			}
			eq(t, "labels left", count(t, exec, `SELECT count(*) FROM github_issue_label WHERE repo_id = $1 AND id = $2`, repoID, label.GetID()), c.wantLeft)
			eq(t, "associations left", len(issueLabels(t, exec, ev.Issue.GetID())), c.wantLeft*len(ev.Issue.Labels))
		})
	}
}
