package process_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

func issuesEvent(t testing.TB, file string) *github.IssuesEvent {
	return payload(t, "issues", file).(*github.IssuesEvent)
}

func prEvent(t testing.TB, file string) *github.PullRequestEvent {
	return payload(t, "pull_request", file).(*github.PullRequestEvent)
}

func storeRepo(t testing.TB, exec *sql.Tx, r *github.Repository) int64 {
	t.Helper()
	if _, err := process.Repository(context.Background(), exec, r, webhook(t0)); err != nil {
		t.Fatal(err)
	}
	return r.GetID()
}

// versioned is one kind of object for the newer-wins table: write stores
// the payload's object with updated_at set to at and a text field set to
// text; read returns that text field as stored.
type versioned struct {
	name  string
	write func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error)
	read  func(t *testing.T, exec *sql.Tx) string
}

func versionedKinds() []versioned {
	ctx := context.Background()
	return []versioned{
		{
			name: "issue",
			write: func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error) {
				ev := issuesEvent(t, "opened.payload.json")
				ev.Issue.UpdatedAt, ev.Issue.Title = stamp(at), &text
				return process.Issue(ctx, exec, storeRepo(t, exec, ev.Repo), ev.Issue, m)
			},
			read: func(t *testing.T, exec *sql.Tx) string {
				row, err := models.FindGithubIssue(ctx, exec, issuesEvent(t, "opened.payload.json").Issue.GetID())
				must(t, err)
				return row.Title
			},
		},
		{
			name: "pull request",
			write: func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error) {
				ev := prEvent(t, "opened.payload.json")
				ev.PullRequest.UpdatedAt, ev.PullRequest.Title = stamp(at), &text
				return process.PullRequest(ctx, exec, ev.PullRequest, m)
			},
			read: func(t *testing.T, exec *sql.Tx) string {
				row, err := models.FindGithubPullRequest(ctx, exec, prEvent(t, "opened.payload.json").PullRequest.GetID())
				must(t, err)
				return row.Title
			},
		},
		{
			name: "issue comment",
			write: func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error) {
				ev := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent)
				ev.Comment.UpdatedAt, ev.Comment.Body = stamp(at), &text
				return process.IssueComment(ctx, exec, storeRepo(t, exec, ev.Repo), 1, ev.Comment, m)
			},
			read: func(t *testing.T, exec *sql.Tx) string {
				ev := payload(t, "issue_comment", "created.payload.json").(*github.IssueCommentEvent)
				row, err := models.FindGithubIssueComment(ctx, exec, ev.Comment.GetID())
				must(t, err)
				return row.Body.String
			},
		},
		{
			name: "milestone",
			write: func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error) {
				ev := payload(t, "milestone", "created.payload.json").(*github.MilestoneEvent)
				ev.Milestone.UpdatedAt, ev.Milestone.Title = stamp(at), &text
				return process.Milestone(ctx, exec, storeRepo(t, exec, ev.Repo), ev.Milestone, m)
			},
			read: func(t *testing.T, exec *sql.Tx) string {
				ev := payload(t, "milestone", "created.payload.json").(*github.MilestoneEvent)
				row, err := models.FindGithubMilestone(ctx, exec, ev.Repo.GetID(), ev.Milestone.GetNumber())
				must(t, err)
				return row.Title
			},
		},
		{
			name: "review comment",
			write: func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error) {
				ev := payload(t, "pull_request_review_comment", "created.payload.json").(*github.PullRequestReviewCommentEvent)
				if _, err := process.PullRequest(ctx, exec, ev.PullRequest, webhook(t0)); err != nil {
					t.Fatal(err)
				}
				ev.Comment.UpdatedAt, ev.Comment.Body = stamp(at), &text
				return process.PullRequestReviewComment(ctx, exec, ev.PullRequest.GetID(), ev.Comment, m)
			},
			read: func(t *testing.T, exec *sql.Tx) string {
				ev := payload(t, "pull_request_review_comment", "created.payload.json").(*github.PullRequestReviewCommentEvent)
				row, err := models.FindGithubPullRequestReviewComment(ctx, exec, ev.Comment.GetID())
				must(t, err)
				return row.Body.String
			},
		},
		{
			name: "repository",
			write: func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error) {
				ev := payload(t, "repository", "edited.payload.json").(*github.RepositoryEvent)
				ev.Repo.UpdatedAt, ev.Repo.Description = stamp(at), &text
				return process.Repository(ctx, exec, ev.Repo, m)
			},
			read: func(t *testing.T, exec *sql.Tx) string {
				ev := payload(t, "repository", "edited.payload.json").(*github.RepositoryEvent)
				row, err := models.FindGithubRepository(ctx, exec, ev.Repo.GetID())
				must(t, err)
				return row.Description.String
			},
		},
		{
			name: "user",
			write: func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error) {
				u := &github.User{ID: ptr(int64(77)), Login: ptr("full"), Name: &text, CreatedAt: stamp(t0), UpdatedAt: stamp(at)}
				return process.User(ctx, exec, u, m)
			},
			read: func(t *testing.T, exec *sql.Tx) string {
				row, err := models.FindGithubUser(ctx, exec, 77)
				must(t, err)
				return row.Name.String
			},
		},
		{
			name: "installation",
			write: func(t *testing.T, exec *sql.Tx, at time.Time, text string, m process.Meta) (process.Outcome, error) {
				ev := payload(t, "installation", "created.payload.json").(*github.InstallationEvent)
				ev.Installation.UpdatedAt, ev.Installation.RepositorySelection = stamp(at), &text
				return process.Installation(ctx, exec, ev.Installation, m)
			},
			read: func(t *testing.T, exec *sql.Tx) string {
				ev := payload(t, "installation", "created.payload.json").(*github.InstallationEvent)
				row, err := models.FindGithubInstallation(ctx, exec, ev.Installation.GetID())
				must(t, err)
				return row.RepositorySelection.String
			},
		},
	}
}

// TestNewerWins: an older update is stale and changes nothing, an equal
// updated_at as of the same moment is written (a redelivery),
// a newer one is written; both orders of two updates end the same.
func TestNewerWins(t *testing.T) {
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, k := range versionedKinds() {
		t.Run(k.name, func(t *testing.T) {
			steps := []struct {
				at   time.Time
				text string
				want process.Outcome
				read string
			}{
				{base, "first", process.Written, "first"},
				{base.Add(-time.Hour), "older", process.Stale, "first"},
				{base, "same time", process.Written, "same time"},
				{base.Add(time.Hour), "newer", process.Written, "newer"},
				{base, "late redelivery", process.Stale, "newer"},
			}
			exec := tx(t)
			for i, s := range steps {
				got, err := k.write(t, exec, s.at, s.text, webhook(t0))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got != s.want {
					t.Errorf("step %d (%s): outcome %v, want %v", i, s.text, got, s.want)
				}
				if stored := k.read(t, exec); stored != s.read {
					t.Errorf("step %d (%s): stored %q, want %q", i, s.text, stored, s.read)
				}
			}
		})
		t.Run(k.name+"/newest first", func(t *testing.T) {
			exec := tx(t)
			mustOutcome(t, process.Written)(k.write(t, exec, base.Add(time.Minute), "newest", webhook(t0)))
			mustOutcome(t, process.Stale)(k.write(t, exec, base, "oldest", webhook(t0)))
			if stored := k.read(t, exec); stored != "newest" {
				t.Errorf("stored %q, want newest", stored)
			}
		})
	}
}

// TestPartialUserKeepsFullUser: a user nested in a payload (id, login,
// avatar; no name, no updated_at) never erases what the users API stored,
// and is never blocked as stale.
func TestPartialUserKeepsFullUser(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	ev := issuesEvent(t, "opened.payload.json")
	id := ev.Issue.User.GetID()
	past := t0.Add(-24 * time.Hour) // profile last changed before the webhooks were received
	full := &github.User{ID: &id, Login: ptr("old-login"), Name: ptr("Mona Lisa"), Company: ptr("GitHub"),
		Blog: ptr("https://blog"), Location: ptr("SF"), Email: ptr("m@example.com"), Bio: ptr("bio"),
		Followers: ptr(10), CreatedAt: stamp(t0), UpdatedAt: stamp(past)}
	mustOutcome(t, process.Written)(process.User(ctx, exec, full, api(t0)))

	mustOutcome(t, process.Written)(process.Issue(ctx, exec, storeRepo(t, exec, ev.Repo), ev.Issue, webhook(t0.Add(time.Minute))))
	mustOutcome(t, process.Written)(process.User(ctx, exec, ev.Issue.User, webhook(t0.Add(time.Minute))))

	row, err := models.FindGithubUser(ctx, exec, id)
	must(t, err)
	eq(t, "login (from the nested user)", row.Login, ev.Issue.User.GetLogin())
	eqStr(t, "avatar_url (from the nested user)", row.AvatarURL, ev.Issue.User.AvatarURL)
	eqStr(t, "name", row.Name, full.Name)
	eqStr(t, "company", row.Company, full.Company)
	eqStr(t, "blog", row.Blog, full.Blog)
	eqStr(t, "location", row.Location, full.Location)
	eqStr(t, "email", row.Email, full.Email)
	eqStr(t, "bio", row.Bio, full.Bio)
	eqInt(t, "followers", row.Followers, full.Followers)
	eqTime(t, "created_at", row.CreatedAt, full.CreatedAt)
	eqTime(t, "updated_at", row.UpdatedAt, full.UpdatedAt)
	eq(t, "api stamp", row.LastReplicatedViaAPIAt.Time.Equal(t0), true)
	eq(t, "webhook stamp", row.LastReplicatedViaWebhookAt.Time.Equal(t0.Add(time.Minute)), true)
}

// TestNestedStaleUserDoesNotBlockParent: the PR's user is older than the
// stored one (a full user object with an older updated_at): the PR is
// written, the user keeps its newer data.
func TestNestedStaleUserDoesNotBlockParent(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	ev := prEvent(t, "opened.payload.json")
	u := ev.PullRequest.User
	newer := &github.User{ID: u.ID, Login: ptr("renamed"), Name: ptr("New Name"), CreatedAt: stamp(t0), UpdatedAt: stamp(t0.Add(48 * time.Hour))}
	mustOutcome(t, process.Written)(process.User(ctx, exec, newer, api(t0)))

	ev.PullRequest.User = &github.User{ID: u.ID, Login: u.Login, Name: ptr("Old Name"), CreatedAt: stamp(t0), UpdatedAt: stamp(t0)}
	mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, ev.PullRequest, webhook(t0)))
	checkPullRequestRow(t, exec, ev.PullRequest)

	row, err := models.FindGithubUser(ctx, exec, u.GetID())
	must(t, err)
	eq(t, "user name", row.Name.String, "New Name")
	// The partial owner of the base repository was fetched (t0) before the
	// stored user changed (t0+48h): it does not bring the old login back.
	eq(t, "user login", row.Login, "renamed")

	// And a stale PR still writes its nested objects.
	stale := prEvent(t, "opened.payload.json").PullRequest
	stale.UpdatedAt = stamp(stale.UpdatedAt.Add(-time.Hour))
	stale.Base.Repo.Description = ptr("newer repository description")
	stale.Base.Repo.UpdatedAt = stamp(t0.Add(72 * time.Hour))
	mustOutcome(t, process.Stale)(process.PullRequest(ctx, exec, stale, webhook(t0)))
	repo, err := models.FindGithubRepository(ctx, exec, stale.Base.Repo.GetID())
	must(t, err)
	eq(t, "base repository description", repo.Description.String, "newer repository description")
}

func checkPullRequestRow(t testing.TB, exec *sql.Tx, pr *github.PullRequest) {
	t.Helper()
	row, err := models.FindGithubPullRequest(context.Background(), exec, pr.GetID())
	must(t, err)
	eq(t, "pr.title", row.Title, pr.GetTitle())
	eqTime(t, "pr.updated_at", row.UpdatedAt, pr.UpdatedAt)
}

// TestListPullRequestKeepsDetails: the list endpoint's pull requests lack
// merge details and counts; a newer list entry must not erase them.
func TestListPullRequestKeepsDetails(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	full := payload(t, "pull_request", "closed.payload.json").(*github.PullRequestEvent).PullRequest
	mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, full, webhook(t0)))
	list := payload(t, "pull_request", "closed.payload.json").(*github.PullRequestEvent).PullRequest
	list.Merged, list.Mergeable, list.MergeableState, list.Rebaseable, list.MergedBy = nil, nil, nil, nil, nil
	list.Comments, list.ReviewComments, list.Commits, list.Additions, list.Deletions, list.ChangedFiles = nil, nil, nil, nil, nil, nil
	list.MaintainerCanModify = nil
	list.Title = ptr("retitled")
	list.UpdatedAt = stamp(list.UpdatedAt.Add(time.Minute))
	mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, list, api(t0.Add(time.Hour))))
	full.Title, full.UpdatedAt = list.Title, list.UpdatedAt
	checkPullRequest(t, exec, full)
}

// TestPartialRepositoryKeepsFull: installation payloads list repositories
// with id, name, full_name and private only.
func TestPartialRepositoryKeepsFull(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	ev := payload(t, "installation_repositories", "added.payload.json").(*github.InstallationRepositoriesEvent)
	mustOutcome(t, process.Written)(process.Installation(ctx, exec, ev.Installation, webhook(t0)))
	added := ev.RepositoriesAdded[0]
	full := payload(t, "repository", "publicized.payload.json").(*github.RepositoryEvent).Repo
	full.ID, full.Name, full.FullName, full.NodeID = added.ID, added.Name, added.FullName, added.NodeID
	full.Private = ptr(!added.GetPrivate())
	mustOutcome(t, process.Written)(process.Repository(ctx, exec, full, api(t0)))
	must(t, process.InstallationRepositories(ctx, exec, ev.Installation.GetID(), ev.RepositoriesAdded, nil, webhook(t0.Add(time.Minute))))
	full.Private = added.Private
	checkRepository(t, exec, full)
	eq(t, "links", count(t, exec, `SELECT count(*) FROM github_installation_repository WHERE installation_id = $1`, ev.Installation.GetID()), len(ev.RepositoriesAdded))

	// Replacing the list unlinks what is no longer there.
	other := &github.Repository{ID: ptr(int64(5)), FullName: ptr("someone/else")}
	must(t, process.SetInstallationRepositories(ctx, exec, ev.Installation.GetID(), []*github.Repository{other}, webhook(t0)))
	eq(t, "links after set", count(t, exec, `SELECT count(*) FROM github_installation_repository WHERE installation_id = $1 AND repo_id = 5`, ev.Installation.GetID()), 1)
	eq(t, "all links after set", count(t, exec, `SELECT count(*) FROM github_installation_repository WHERE installation_id = $1`, ev.Installation.GetID()), 1)
	row, err := models.FindGithubRepository(ctx, exec, 5)
	must(t, err)
	eq(t, "derived owner", row.OwnerLogin, "someone")
	eq(t, "derived name", row.Name, "else")

	// The installation must be stored first.
	err = process.InstallationRepositories(ctx, tx(t), 1, []*github.Repository{{ID: ptr(int64(6)), FullName: ptr("a/b")}}, nil, webhook(t0))
	isErr(t, err, process.ErrMissingParent)
}

// TestReviewsNewerFetchWins: reviews have no updated_at, so the later
// fetch wins: an API page fetched before a webhook cannot undo it.
func TestReviewsNewerFetchWins(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	ev := payload(t, "pull_request_review", "submitted.payload.json").(*github.PullRequestReviewEvent)
	mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, ev.PullRequest, webhook(t0)))
	prID := ev.PullRequest.GetID()
	dismissed := *ev.Review
	dismissed.State = ptr("dismissed")
	mustOutcome(t, process.Written)(process.PullRequestReview(ctx, exec, prID, &dismissed, webhook(t0.Add(time.Minute))))
	mustOutcome(t, process.Stale)(process.PullRequestReview(ctx, exec, prID, ev.Review, api(t0)))
	checkReview(t, exec, prID, &dismissed)
	// A state never moves back, even fetched later (process/order_test.go).
	mustOutcome(t, process.Stale)(process.PullRequestReview(ctx, exec, prID, ev.Review, api(t0.Add(time.Minute))))
	checkReview(t, exec, prID, &dismissed)
	w, s, err := process.PullRequestReviews(ctx, exec, prID, []*github.PullRequestReview{ev.Review, &dismissed}, api(t0.Add(time.Hour)))
	must(t, err)
	eq(t, "written", w, 1)
	eq(t, "stale", s, 0)
}

// TestStaleIssueKeepsLabels: an older payload with other labels changes
// neither the issue nor its associations, but its new label is stored.
func TestStaleIssueKeepsLabels(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	ev := issuesEvent(t, "labeled.payload.json")
	repoID := storeRepo(t, exec, ev.Repo)
	mustOutcome(t, process.Written)(process.Issue(ctx, exec, repoID, ev.Issue, webhook(t0)))
	old := issuesEvent(t, "labeled.payload.json").Issue
	old.UpdatedAt = stamp(old.UpdatedAt.Add(-time.Second))
	old.Labels = []*github.Label{{ID: ptr(int64(4242)), Name: ptr("from the past"), Color: ptr("123456")}}
	mustOutcome(t, process.Stale)(process.Issue(ctx, exec, repoID, old, webhook(t0)))
	checkIssue(t, exec, repoID, ev.Issue)
	checkLabel(t, exec, repoID, old.Labels[0])
}

// TestEpochTimestamps: webhook repositories may carry created_at and
// pushed_at as unix seconds.
func TestEpochTimestamps(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	var r github.Repository
	must(t, json.Unmarshal([]byte(`{"id": 77, "name": "r", "full_name": "o/r", "owner": {"id": 1, "login": "o"},
		"created_at": 1557933565, "pushed_at": 1557933657, "updated_at": "2019-05-15T15:21:03Z"}`), &r))
	mustOutcome(t, process.Written)(process.Repository(ctx, exec, &r, webhook(t0)))
	row, err := models.FindGithubRepository(ctx, exec, 77)
	must(t, err)
	eq(t, "created_at", row.CreatedAt.Time.UTC(), time.Unix(1557933565, 0).UTC())
	eq(t, "pushed_at", row.PushedAt.Time.UTC(), time.Unix(1557933657, 0).UTC())
	eq(t, "updated_at", row.UpdatedAt.Time.UTC(), time.Date(2019, 5, 15, 15, 21, 3, 0, time.UTC))
}

// TestEqualUpdatedAtLaterMomentWins: GitHub's updated_at is to the second,
// so two changes within one second carry the same one; then the data as of
// the later moment (a delivery's first arrival, an API read) wins, in
// either order of writing, whichever source it came from.
func TestEqualUpdatedAtLaterMomentWins(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	early, late := t0.Add(300*time.Millisecond), t0.Add(700*time.Millisecond)
	orders := []struct {
		name        string
		first, then process.Meta
		firstText   string
		thenText    string
		thenOutcome process.Outcome
	}{
		{"in order", webhook(early), webhook(late), "earlier", "later", process.Written},
		{"the earlier applied last", webhook(late), webhook(early), "later", "earlier", process.Stale},
		{"an API read after a delivery", webhook(early), api(late), "earlier", "later", process.Written},
		{"a delivery older than an API read", api(late), webhook(early), "later", "earlier", process.Stale},
	}
	for _, k := range versionedKinds() {
		for _, o := range orders {
			t.Run(k.name+"/"+o.name, func(t *testing.T) {
				exec := tx(t)
				mustOutcome(t, process.Written)(k.write(t, exec, at, o.firstText, o.first))
				mustOutcome(t, o.thenOutcome)(k.write(t, exec, at, o.thenText, o.then))
				if stored := k.read(t, exec); stored != "later" {
					t.Errorf("stored %q, want the later moment's", stored)
				}
			})
		}
	}
}
