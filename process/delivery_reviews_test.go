package process_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// Delivery writes of reviews and files.

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
