package process_test

import (
	"context"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/process"
)

// TestBuriedObjectsStayDeleted: once GitHub announced a delete, a late
// write of the same id (single or in a page) is stale and writes nothing,
// and a buried label arriving late does not push out the label created
// since under its name.
func TestBuriedObjectsStayDeleted(t *testing.T) {
	ctx := context.Background()
	ev := issuesEvent(t, "opened.payload.json")
	repoID := ev.Repo.GetID()
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{name: "issue", run: func(t *testing.T) {
			x := tx(t)
			storeRepo(t, x, ev.Repo)
			mustOutcome(t, process.Written)(process.Issue(ctx, x, repoID, ev.Issue, webhook(t0)))
			must(t, process.DeleteIssue(ctx, x, ev.Issue.GetID()))
			must(t, process.Bury(ctx, x, process.KindIssue, ev.Issue.GetID(), webhook(t0)))
			mustOutcome(t, process.Stale)(process.Issue(ctx, x, repoID, ev.Issue, webhook(t0)))
			w, s, err := process.Issues(ctx, x, repoID, []*github.Issue{ev.Issue}, api(t0))
			must(t, err)
			if w != 0 || s != 1 {
				t.Fatalf("page with a buried issue: written %d, stale %d; want 0, 1", w, s)
			}
			if n := count(t, x, `SELECT count(*) FROM github_issue WHERE id = $1`, ev.Issue.GetID()); n != 0 {
				t.Fatalf("buried issue stored again")
			}
		}},
		{name: "label and the new label of the same name", run: func(t *testing.T) {
			x := tx(t)
			storeRepo(t, x, ev.Repo)
			old := &github.Label{ID: ptr(int64(901)), Name: ptr("bug"), Color: ptr("ff0000")}
			mustOutcome(t, process.Written)(process.Label(ctx, x, repoID, old, webhook(t0)))
			must(t, process.DeletedLabel(ctx, x, repoID, old))
			must(t, process.Bury(ctx, x, process.KindLabel, 901, webhook(t0)))
			recreated := &github.Label{ID: ptr(int64(902)), Name: ptr("bug"), Color: ptr("00ff00")}
			mustOutcome(t, process.Written)(process.Label(ctx, x, repoID, recreated, webhook(t0)))
			mustOutcome(t, process.Stale)(process.Label(ctx, x, repoID, old, webhook(t0)))
			if n := count(t, x, `SELECT count(*) FROM github_issue_label WHERE repo_id = $1 AND name = 'bug' AND id = 902`, repoID); n != 1 {
				t.Fatalf("the late deleted label pushed out the new label of the same name")
			}
			// Nested in an issue, the buried label is not inserted either.
			is := *ev.Issue
			is.Labels = []*github.Label{old}
			must2(t)(process.Issue(ctx, x, repoID, &is, webhook(t0)))
			if n := count(t, x, `SELECT count(*) FROM github_issue_label WHERE id = 901`); n != 0 {
				t.Fatalf("buried label inserted from an issue's labels")
			}
		}},
		{name: "bury twice and id zero", run: func(t *testing.T) {
			x := tx(t)
			must(t, process.Bury(ctx, x, process.KindMilestone, 77, webhook(t0)))
			must(t, process.Bury(ctx, x, process.KindMilestone, 77, webhook(t0)))
			must(t, process.Bury(ctx, x, process.KindMilestone, 0, webhook(t0)))
			if n := count(t, x, `SELECT count(*) FROM github_tombstone`); n != 1 {
				t.Fatalf("%d tombstones, want 1", n)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

func must2(t *testing.T) func(process.Outcome, error) {
	return func(_ process.Outcome, err error) { must(t, err) }
}
