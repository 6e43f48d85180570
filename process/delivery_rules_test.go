package process_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// Tests of the writes the webhook handlers used to do with their own SQL:
// each function is exercised on the real database with real payloads.

func installationEvent(t testing.TB, file string) *github.InstallationEvent {
	return payload(t, "installation", file).(*github.InstallationEvent)
}

// otherRepo is a copy of r under another id and name: a second repository
// without a second fixture.
func otherRepo(r *github.Repository, id int64) *github.Repository {
	o := *r
	o.ID = ptr(id)
	o.NodeID = ptr("other-node")
	o.Name = ptr("other")
	o.FullName = ptr(r.GetOwner().GetLogin() + "/other")
	return &o
}

func TestLinkInstallationRepository(t *testing.T) {
	ctx := context.Background()
	const missingRepoID = 424242
	for _, c := range []struct {
		name string
		// installation: "stored", "deleted" or "absent"
		installation string
		repoStored   bool
		links        int // calls
		wantLinked   bool
	}{
		{name: "stored installation and repository", installation: "stored", repoStored: true, links: 1, wantLinked: true},
		{name: "linked twice is linked once", installation: "stored", repoStored: true, links: 2, wantLinked: true},
		{name: "deleted installation is left alone", installation: "deleted", repoStored: true, links: 1},
		{name: "unknown installation is left alone", installation: "absent", repoStored: true, links: 1},
		// Installations list repositories before they are loaded.
		{name: "unstored repository is linked", installation: "stored", repoStored: false, links: 1, wantLinked: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			in := installationEvent(t, "created.payload.json").Installation
			switch c.installation {
			case "stored", "deleted":
				mustOutcome(t, process.Written)(process.Installation(ctx, exec, in, webhook(t0)))
			}
			if c.installation == "deleted" {
				must(t, process.DeleteInstallation(ctx, exec, in.GetID(), webhook(t0)))
			}
			repoID := int64(missingRepoID)
			if c.repoStored {
				repoID = storeRepo(t, exec, issuesEvent(t, "opened.payload.json").Repo)
			}
			for range c.links {
				must(t, process.LinkInstallationRepository(ctx, exec, in.GetID(), repoID))
			}
			want := 0
			if c.wantLinked {
				want = 1
			}
			eq(t, "links", count(t, exec, `SELECT count(*) FROM github_installation_repository WHERE installation_id = $1 AND repo_id = $2`, in.GetID(), repoID), want)
		})
	}
}

func TestInstallationStored(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name        string
		store, del  bool
		lookUpOther bool
		wantStored  bool
	}{
		{name: "absent", wantStored: false},
		{name: "stored", store: true, wantStored: true},
		{name: "deleted keeps its row", store: true, del: true, wantStored: true},
		{name: "another id", store: true, lookUpOther: true, wantStored: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			in := installationEvent(t, "created.payload.json").Installation
			if c.store {
				mustOutcome(t, process.Written)(process.Installation(ctx, exec, in, webhook(t0)))
			}
			if c.del {
				must(t, process.DeleteInstallation(ctx, exec, in.GetID(), webhook(t0)))
			}
			id := in.GetID()
			if c.lookUpOther {
				id++
			}
			got, err := process.InstallationStored(ctx, exec, id)
			must(t, err)
			eq(t, "stored", got, c.wantStored)
		})
	}
}

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

func TestIsPermissionLevel(t *testing.T) {
	for _, c := range []struct {
		level string
		want  bool
	}{
		{"admin", true}, {"maintain", true}, {"write", true}, {"push", true}, {"triage", true},
		{"read", true}, {"pull", true}, {"none", true},
		{"", false}, {"owner", false}, {"Admin", false}, {"security-manager", false},
	} {
		eq(t, "IsPermissionLevel("+c.level+")", process.IsPermissionLevel(c.level), c.want)
	}
}

func TestUserRepositoryCollaborator(t *testing.T) {
	ctx := context.Background()
	const userID = 9
	for _, c := range []struct {
		name string
		// stored is the level written before, "" for none.
		stored                   string
		m                        process.Meta
		wantPull, wantPush       bool
		wantAdmin                bool
		wantRole                 string
		wantWebhookAt, wantAPIAt *time.Time
	}{
		{
			name: "new collaborator starts as read", m: webhook(t0.Add(time.Minute)),
			wantPull: true, wantWebhookAt: ptr(t0.Add(time.Minute)),
		},
		{
			name: "stored level is kept", stored: "admin", m: webhook(t0.Add(time.Minute)),
			wantPull: true, wantPush: true, wantAdmin: true, wantRole: "admin",
			wantWebhookAt: ptr(t0.Add(time.Minute)),
		},
		{
			name: "an older delivery does not move the stamp back", stored: "write", m: webhook(t0.Add(-time.Hour)),
			wantPull: true, wantPush: true, wantRole: "write", wantWebhookAt: ptr(t0),
		},
		{
			name: "from the API it stamps the API column", m: api(t0),
			wantPull: true, wantAPIAt: ptr(t0),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			repoID := storeRepo(t, exec, payload(t, "member", "added.payload.json").(*github.MemberEvent).Repo)
			if c.stored != "" {
				must(t, process.UserRepositoryPermissionLevel(ctx, exec, userID, repoID, c.stored, webhook(t0)))
			}
			must(t, process.UserRepositoryCollaborator(ctx, exec, userID, repoID, c.m))
			row, err := models.FindGithubUserRepositoryAssociation(ctx, exec, userID, repoID)
			must(t, err)
			eq(t, "can_pull", row.CanPull, c.wantPull)
			eq(t, "can_push", row.CanPush, c.wantPush)
			eq(t, "can_admin", row.CanAdmin, c.wantAdmin)
			eq(t, "role_name", row.RoleName.String, c.wantRole)
			eqTime(t, "last_replicated_via_webhook_at", row.LastReplicatedViaWebhookAt, tsp(c.wantWebhookAt))
			eqTime(t, "last_replicated_via_api_at", row.LastReplicatedViaAPIAt, tsp(c.wantAPIAt))
		})
	}
	t.Run("meta without via is invalid", func(t *testing.T) {
		exec := tx(t)
		err := process.UserRepositoryCollaborator(ctx, exec, userID, 1, process.Meta{FetchedAt: t0})
		isErr(t, err, process.ErrInvalid)
	})
	t.Run("unstored repository fails", func(t *testing.T) {
		exec := tx(t)
		if err := process.UserRepositoryCollaborator(ctx, exec, userID, 424242, webhook(t0)); err == nil {
			t.Fatal("recorded a collaborator of an unstored repository")
		}
	})
}

func tsp(tm *time.Time) *github.Timestamp {
	if tm == nil {
		return nil
	}
	return stamp(*tm)
}

// TestReviewStateUpperCased: webhooks spell states in lower case, the API
// in upper case; both store the API's spelling, one review at a time or a
// page.
func TestReviewStateUpperCased(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		state *string
		m     process.Meta
		page  bool
		want  *string
	}{
		{name: "webhook approved", state: ptr("approved"), m: webhook(t0), want: ptr("APPROVED")},
		{name: "api APPROVED", state: ptr("APPROVED"), m: api(t0), want: ptr("APPROVED")},
		{name: "webhook changes_requested", state: ptr("changes_requested"), m: webhook(t0), want: ptr("CHANGES_REQUESTED")},
		{name: "webhook dismissed in a page", state: ptr("dismissed"), m: webhook(t0), page: true, want: ptr("DISMISSED")},
		{name: "api COMMENTED in a page", state: ptr("COMMENTED"), m: api(t0), page: true, want: ptr("COMMENTED")},
		{name: "no state stays null", state: nil, m: webhook(t0), want: nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			ev := payload(t, "pull_request_review", "submitted.payload.json").(*github.PullRequestReviewEvent)
			mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, ev.PullRequest, webhook(t0)))
			r := *ev.Review
			r.State = c.state
			if c.page {
				w, _, err := process.PullRequestReviews(ctx, exec, ev.PullRequest.GetID(), []*github.PullRequestReview{&r}, c.m)
				must(t, err)
				eq(t, "written", w, 1)
			} else {
				mustOutcome(t, process.Written)(process.PullRequestReview(ctx, exec, ev.PullRequest.GetID(), &r, c.m))
			}
			row, err := models.FindGithubPullRequestReview(ctx, exec, r.GetID())
			must(t, err)
			eqStr(t, "state", row.State, c.want)
			if c.state != nil {
				eq(t, "caller's review left as given", *r.State, *c.state)
			}
		})
	}
}

func TestPullRequestReviewStored(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		store      bool
		otherID    bool
		wantStored bool
	}{
		{name: "unknown review", wantStored: false},
		{name: "stored review", store: true, wantStored: true},
		{name: "another review id", store: true, otherID: true, wantStored: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			ev := payload(t, "pull_request_review", "submitted.payload.json").(*github.PullRequestReviewEvent)
			if c.store {
				mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, ev.PullRequest, webhook(t0)))
				mustOutcome(t, process.Written)(process.PullRequestReview(ctx, exec, ev.PullRequest.GetID(), ev.Review, webhook(t0)))
			}
			id := ev.Review.GetID()
			if c.otherID {
				id++
			}
			got, err := process.PullRequestReviewStored(ctx, exec, id)
			must(t, err)
			eq(t, "stored", got, c.wantStored)
		})
	}
}

func TestSetPullRequestFiles(t *testing.T) {
	ctx := context.Background()
	file := func(name string) *github.CommitFile {
		return &github.CommitFile{Filename: ptr(name), SHA: ptr("0123456789012345678901234567890123456789"), Status: ptr("modified"),
			Additions: ptr(1), Deletions: ptr(1), Changes: ptr(2)}
	}
	for _, c := range []struct {
		name        string
		list        []string
		wantWritten int
		wantRemoved int64
		wantStored  []string
	}{
		{name: "files gone from the list are removed", list: []string{"a.go", "d.go"}, wantWritten: 2, wantRemoved: 2, wantStored: []string{"a.go", "d.go"}},
		{name: "the same list removes nothing", list: []string{"a.go", "b.go", "c.go"}, wantWritten: 3, wantRemoved: 0, wantStored: []string{"a.go", "b.go", "c.go"}},
		{name: "an empty list removes everything", list: []string{}, wantWritten: 0, wantRemoved: 3, wantStored: []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			pr := prEvent(t, "opened.payload.json").PullRequest
			mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, pr, webhook(t0)))
			_, err := process.PullRequestFiles(ctx, exec, pr.GetID(), []*github.CommitFile{file("a.go"), file("b.go"), file("c.go")}, api(t0))
			must(t, err)
			files := make([]*github.CommitFile, 0, len(c.list))
			for _, n := range c.list {
				files = append(files, file(n))
			}
			written, removed, err := process.SetPullRequestFiles(ctx, exec, pr.GetID(), files, api(t0.Add(time.Minute)))
			must(t, err)
			eq(t, "written", written, c.wantWritten)
			eq(t, "removed", removed, c.wantRemoved)
			rows, err := models.GithubPullRequestFiles(models.GithubPullRequestFileWhere.PullRequestID.EQ(pr.GetID())).All(ctx, exec)
			must(t, err)
			got := []string{}
			for _, r := range rows {
				got = append(got, r.Filename)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.wantStored) {
				t.Errorf("stored files = %v, want %v", got, c.wantStored)
			}
		})
	}
	t.Run("a file without a name is invalid and removes nothing", func(t *testing.T) {
		exec := tx(t)
		pr := prEvent(t, "opened.payload.json").PullRequest
		mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, pr, webhook(t0)))
		_, err := process.PullRequestFiles(ctx, exec, pr.GetID(), []*github.CommitFile{file("a.go")}, api(t0))
		must(t, err)
		_, _, err = process.SetPullRequestFiles(ctx, exec, pr.GetID(), []*github.CommitFile{{SHA: ptr("x")}}, api(t0))
		if !errors.Is(err, process.ErrInvalid) {
			t.Fatalf("error %v, want ErrInvalid", err)
		}
		eq(t, "stored", count(t, exec, `SELECT count(*) FROM github_pull_request_file WHERE pull_request_id = $1`, pr.GetID()), 1)
	})
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

func TestInstallationSuspendEvents(t *testing.T) {
	ctx := context.Background()
	at := t0.Add(time.Hour)
	for _, c := range []struct {
		name    string
		suspend bool   // a suspend event, else unsuspend
		before  string // payload of the installation as stored before
		// payloadSuspended: the event's payload carries suspended_at and
		// suspended_by (those of suspend.payload.json), else neither.
		payloadSuspended bool
		wantSuspended    bool
		wantAt           *time.Time // suspended_at, when not the payload's
		wantBy           string
	}{
		{name: "suspend keeps the payload's suspended_at", suspend: true, before: "unsuspend.payload.json", payloadSuspended: true, wantSuspended: true, wantBy: "Codertocat"},
		{name: "suspend without suspended_at is dated by the event", suspend: true, before: "unsuspend.payload.json", wantSuspended: true, wantAt: &at, wantBy: "admin"},
		{name: "unsuspend clears the suspension", before: "suspend.payload.json"},
		{name: "unsuspend whose payload still describes a suspension clears it", before: "suspend.payload.json", payloadSuspended: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			before := installationEvent(t, c.before).Installation
			mustOutcome(t, process.Written)(process.Installation(ctx, exec, before, webhook(t0)))
			file := "unsuspend.payload.json"
			if c.suspend {
				file = "suspend.payload.json"
			}
			in := installationEvent(t, file).Installation
			in.SuspendedAt, in.SuspendedBy = nil, nil
			if c.payloadSuspended {
				sus := installationEvent(t, "suspend.payload.json").Installation
				in.SuspendedAt, in.SuspendedBy = sus.SuspendedAt, sus.SuspendedBy
			}
			in.UpdatedAt = stamp(before.GetUpdatedAt().Add(time.Minute))
			m := webhook(at)
			mustOutcome(t, process.Written)(process.Installation(ctx, exec, in, m))
			var err error
			if c.suspend {
				err = process.InstallationSuspendEvent(ctx, exec, in, "admin", m)
			} else {
				err = process.InstallationUnsuspendEvent(ctx, exec, in, m)
			}
			must(t, err)
			row, err := models.FindGithubInstallation(ctx, exec, in.GetID())
			must(t, err)
			eq(t, "suspended", row.SuspendedAt.Valid, c.wantSuspended)
			if !c.wantSuspended {
				eq(t, "suspended_by_login set", row.SuspendedByLogin.Valid, false)
				return
			}
			want := in.GetSuspendedAt().Time
			if c.wantAt != nil {
				want = *c.wantAt
			}
			eq(t, "suspended_at", row.SuspendedAt.Time.Equal(want), true)
			eq(t, "suspended_by_login", row.SuspendedByLogin.String, c.wantBy)
		})
	}
	t.Run("installation without id is invalid", func(t *testing.T) {
		exec := tx(t)
		isErr(t, process.InstallationSuspendEvent(ctx, exec, &github.Installation{}, "", webhook(t0)), process.ErrInvalid)
		isErr(t, process.InstallationUnsuspendEvent(ctx, exec, nil, webhook(t0)), process.ErrInvalid)
	})
}
