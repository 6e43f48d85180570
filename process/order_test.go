package process_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// Order without updated_at: reviews and collaborators.

// permutations lists every order of n items (indexes), n small.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func orderName(names []string, order []int) string {
	parts := make([]string, len(order))
	for i, j := range order {
		parts[i] = names[j]
	}
	return strings.Join(parts, ",")
}

// reviewRank mirrors the rule under test: PENDING, then the submitted
// states, then DISMISSED.
func reviewRank(state string) int {
	switch strings.ToUpper(state) {
	case "", "PENDING":
		return 0
	case "DISMISSED":
		return 2
	}
	return 1
}

// reviewDelivery is one delivery of the same review: the real submitted
// payload's review, with the action's state and body, as of at.
type reviewDelivery struct {
	name   string
	review *github.PullRequestReview
	m      process.Meta
}

// reviewDeliveries builds submitted (state as given), edited (a new body,
// same state) and dismissed (the edited body, DISMISSED) from
// pull_request_review/submitted.payload.json, GitHub's only example: the
// edited and dismissed payloads carry the same review object.
func reviewDeliveries(t *testing.T, submittedState string) (*github.PullRequest, []reviewDelivery) {
	t.Helper()
	ev := payload(t, "pull_request_review", "submitted.payload.json").(*github.PullRequestReviewEvent)
	at := func(i int) process.Meta { return webhook(t0.Add(time.Duration(i) * time.Minute)) }
	review := func(state, body string) *github.PullRequestReview {
		r := *ev.Review
		r.State, r.Body = ptr(state), ptr(body)
		return &r
	}
	return ev.PullRequest, []reviewDelivery{
		{"submitted", review(submittedState, "first"), at(1)},
		{"edited", review(submittedState, "edited"), at(2)},
		{"dismissed", review("dismissed", "edited"), at(3)},
	}
}

// TestReviewStateOnlyMovesForward: the submitted, edited and dismissed
// deliveries of one review, processed in every order, leave the dismissed
// delivery's row; each write is stale unless its state ranks higher than
// the stored one, or ranks the same and was fetched at least as late.
func TestReviewStateOnlyMovesForward(t *testing.T) {
	ctx := context.Background()
	for _, state := range []string{"approved", "commented", "changes_requested"} {
		pr, ds := reviewDeliveries(t, state)
		names := []string{ds[0].name, ds[1].name, ds[2].name}
		for _, order := range permutations(len(ds)) {
			t.Run(state+"/"+orderName(names, order), func(t *testing.T) {
				exec := tx(t)
				mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, pr, webhook(t0)))
				var best *reviewDelivery
				for _, i := range order {
					d := &ds[i]
					want := process.Stale
					if best == nil || reviewRank(d.review.GetState()) > reviewRank(best.review.GetState()) ||
						(reviewRank(d.review.GetState()) == reviewRank(best.review.GetState()) && !d.m.FetchedAt.Before(best.m.FetchedAt)) {
						want, best = process.Written, d
					}
					got, err := process.PullRequestReview(ctx, exec, pr.GetID(), d.review, d.m)
					must(t, err)
					if got != want {
						t.Fatalf("%s after %s: outcome %v, want %v", d.name, orderName(names, order), got, want)
					}
				}
				checkReview(t, exec, pr.GetID(), ds[2].review)
			})
		}
	}
}

// TestReviewStateRankAgainstFetchTime: the rank decides before fetch time,
// for webhooks and API pages alike; within a rank the later fetch wins.
func TestReviewStateRankAgainstFetchTime(t *testing.T) {
	ctx := context.Background()
	later := t0.Add(time.Hour)
	for _, c := range []struct {
		name          string
		stored        string
		storedM       process.Meta
		next          string
		nextM         process.Meta
		page          bool
		want          process.Outcome
		wantStoredEnd string
	}{
		{"older api page DISMISSED beats stored APPROVED", "approved", webhook(later), "DISMISSED", api(t0), true, process.Written, "DISMISSED"},
		{"later api page DISMISSED beats stored APPROVED", "approved", webhook(t0), "DISMISSED", api(later), true, process.Written, "DISMISSED"},
		{"older api page APPROVED keeps stored DISMISSED", "dismissed", webhook(later), "APPROVED", api(t0), true, process.Stale, "DISMISSED"},
		{"later api page APPROVED keeps stored DISMISSED", "dismissed", webhook(t0), "APPROVED", api(later), true, process.Stale, "DISMISSED"},
		{"late submitted keeps dismissed", "dismissed", webhook(t0), "approved", webhook(later), false, process.Stale, "DISMISSED"},
		{"submitted after pending", "PENDING", api(t0), "commented", webhook(later), false, process.Written, "COMMENTED"},
		{"pending after submitted", "commented", webhook(t0), "PENDING", api(later), true, process.Stale, "COMMENTED"},
		{"same rank, later fetch wins", "commented", webhook(t0), "APPROVED", api(later), true, process.Written, "APPROVED"},
		{"same rank, older fetch loses", "approved", webhook(later), "COMMENTED", api(t0), true, process.Stale, "APPROVED"},
		{"dismissed again, later", "dismissed", webhook(t0), "dismissed", webhook(later), false, process.Written, "DISMISSED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			exec := tx(t)
			ev := payload(t, "pull_request_review", "submitted.payload.json").(*github.PullRequestReviewEvent)
			prID := ev.PullRequest.GetID()
			mustOutcome(t, process.Written)(process.PullRequest(ctx, exec, ev.PullRequest, webhook(t0)))
			first, next := *ev.Review, *ev.Review
			first.State, next.State = ptr(c.stored), ptr(c.next)
			next.Body = ptr("next")
			mustOutcome(t, process.Written)(process.PullRequestReview(ctx, exec, prID, &first, c.storedM))
			if c.page {
				w, s, err := process.PullRequestReviews(ctx, exec, prID, []*github.PullRequestReview{&next}, c.nextM)
				must(t, err)
				eq(t, "written", w == 1, c.want == process.Written)
				eq(t, "stale", s == 1, c.want == process.Stale)
			} else {
				mustOutcome(t, c.want)(process.PullRequestReview(ctx, exec, prID, &next, c.nextM))
			}
			row, err := models.FindGithubPullRequestReview(ctx, exec, ev.Review.GetID())
			must(t, err)
			eq(t, "state", row.State.String, c.wantStoredEnd)
			// Stale as a whole: the body moves with the state.
			eq(t, "body is the winner's", row.Body.String == "next", c.want == process.Written)
		})
	}
}

// memberEvent is one collaborator event for the order tests: an added with
// a level (or without, then only the collaboration is recorded), an API
// fetch of the permission, or a removed, as of at.
type memberEvent struct {
	name  string
	kind  string // added, collaborator, api, removed
	level string
	at    time.Time
}

func (e memberEvent) apply(ctx context.Context, exec *sql.Tx, userID, repoID int64) error {
	switch e.kind {
	case "added":
		return process.UserRepositoryPermissionLevel(ctx, exec, userID, repoID, e.level, webhook(e.at))
	case "collaborator":
		return process.UserRepositoryCollaborator(ctx, exec, userID, repoID, webhook(e.at))
	case "api":
		return process.UserRepositoryPermissionLevel(ctx, exec, userID, repoID, e.level, api(e.at))
	case "removed":
		return process.DeleteUserRepositoryAssociation(ctx, exec, userID, repoID, webhook(e.at))
	}
	return fmt.Errorf("unknown event kind %q", e.kind)
}

// TestCollaboratorOrder: added and removed events (and API fetches of the
// permission) applied in every order end as the latest of them by time
// says: present with its level when it is an addition, absent when it is a
// removal (a removal wins a tie). Applying every event twice (a
// redelivery) changes nothing.
func TestCollaboratorOrder(t *testing.T) {
	ctx := context.Background()
	t1, t2, t3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	for _, c := range []struct {
		name   string
		events []memberEvent
	}{
		{"added, removed", []memberEvent{{"added", "added", "write", t1}, {"removed", "removed", "", t2}}},
		{"removed, added", []memberEvent{{"removed", "removed", "", t1}, {"added", "added", "admin", t2}}},
		{"added, removed, added", []memberEvent{{"added1", "added", "write", t1}, {"removed", "removed", "", t2}, {"added3", "added", "admin", t3}}},
		{"removed, added, removed", []memberEvent{{"removed1", "removed", "", t1}, {"added", "added", "write", t2}, {"removed3", "removed", "", t3}}},
		{"added without level, removed, added without level", []memberEvent{{"collab1", "collaborator", "", t1}, {"removed", "removed", "", t2}, {"collab3", "collaborator", "", t3}}},
		{"api fetch, removed, api fetch", []memberEvent{{"api1", "api", "maintain", t1}, {"removed", "removed", "", t2}, {"api3", "api", "triage", t3}}},
		{"added and removed at the same time", []memberEvent{{"added", "added", "write", t1}, {"removed", "removed", "", t1}}},
	} {
		names := make([]string, len(c.events))
		for i, e := range c.events {
			names[i] = e.name
		}
		for _, order := range permutations(len(c.events)) {
			for _, twice := range []bool{false, true} {
				name := c.name + "/" + orderName(names, order)
				if twice {
					name += "/redelivered"
				}
				t.Run(name, func(t *testing.T) {
					exec := tx(t)
					ev := payload(t, "member", "added.payload.json").(*github.MemberEvent)
					repoID, userID := storeRepo(t, exec, ev.Repo), ev.Member.GetID()
					for _, i := range order {
						must(t, c.events[i].apply(ctx, exec, userID, repoID))
						if twice {
							must(t, c.events[i].apply(ctx, exec, userID, repoID))
						}
					}
					last := c.events[0]
					for _, e := range c.events[1:] {
						if e.at.After(last.at) || (e.at.Equal(last.at) && e.kind == "removed") {
							last = e
						}
					}
					row, err := models.FindGithubUserRepositoryAssociation(ctx, exec, userID, repoID)
					if last.kind == "removed" {
						if !errors.Is(err, sql.ErrNoRows) {
							t.Fatalf("association after %s: %+v (err %v), want none", orderName(names, order), row, err)
						}
						return
					}
					must(t, err)
					if last.level != "" {
						eq(t, "role_name", row.RoleName.String, last.level)
					}
					eq(t, "last_replicated_at", row.LastReplicatedAt.Time.Equal(last.at), true)
				})
			}
		}
	}
}

// TestRemovalKeptAtLatest: the removal row keeps the latest removal time,
// whatever order the removals come in, and a later addition leaves it.
func TestRemovalKeptAtLatest(t *testing.T) {
	ctx := context.Background()
	exec := tx(t)
	ev := payload(t, "member", "added.payload.json").(*github.MemberEvent)
	repoID, userID := storeRepo(t, exec, ev.Repo), ev.Member.GetID()
	late, early := t0.Add(time.Hour), t0
	must(t, process.DeleteUserRepositoryAssociation(ctx, exec, userID, repoID, webhook(late)))
	must(t, process.DeleteUserRepositoryAssociation(ctx, exec, userID, repoID, webhook(early)))
	r, err := models.FindGithubUserRepositoryRemoval(ctx, exec, userID, repoID)
	must(t, err)
	eq(t, "removed_at", r.RemovedAt.Equal(late), true)
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{early, true}, {late, true}, {late.Add(time.Nanosecond * 1000), false}} {
		removed, err := process.UserRepositoryRemovedSince(ctx, exec, userID, repoID, c.at)
		must(t, err)
		eq(t, "removed since "+c.at.String(), removed, c.want)
	}
	must(t, process.UserRepositoryPermissionLevel(ctx, exec, userID, repoID, "write", webhook(late.Add(time.Second))))
	eq(t, "removals", count(t, exec, `SELECT count(*) FROM github_user_repository_removal`), 1)
	isErr(t, process.DeleteUserRepositoryAssociation(ctx, exec, userID, repoID, process.Meta{}), process.ErrInvalid)
}
