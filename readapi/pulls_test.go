package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

// pullWorld makes the seeded org-0/repo-0 varied where the seed is not
// (the seed assigns no one and bases every pull on the default branch):
// a merged and a closed unmerged pull if it has none, a new pull on
// another base, a new pull with an assignee, two labels and a milestone,
// an issue comment and an edited review comment; then backfills again so
// the replica holds it all.
func pullWorld(t *testing.T, r *replica) {
	t.Helper()
	ctx := context.Background()
	gh, _ := r.clients(r.token("org-0"))
	pulls, _, err := gh.PullRequests.List(ctx, "org-0", "repo-0", &github.PullRequestListOptions{State: "all", Direction: "asc"})
	if err != nil {
		t.Fatal(err)
	}
	merged, closed := false, false
	var open []int
	for _, p := range pulls {
		merged = merged || p.MergedAt != nil
		closed = closed || (p.GetState() == "closed" && p.MergedAt == nil)
		if p.GetState() == "open" {
			open = append(open, p.GetNumber())
		}
	}
	// Only what the seed lacks, and an open pull must stay.
	if !merged && len(open) > 1 {
		if _, _, err := r.gh.MergePullRequest(ctx, "org-0", "repo-0", open[0]); err != nil {
			t.Fatal(err)
		}
		open = open[1:]
	}
	if !closed && len(open) > 1 {
		if _, _, err := r.gh.ClosePullRequest(ctx, "org-0", "repo-0", open[0]); err != nil {
			t.Fatal(err)
		}
		open = open[1:]
	}
	based, _, err := r.gh.OpenPullRequest(ctx, "org-0", "repo-0", ghfake.NewPull{Title: "Based elsewhere", Head: "topic-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.gh.EditPullRequest(ctx, "org-0", "repo-0", based.GetNumber(), ghfake.PullEdit{Base: github.String("develop")}); err != nil {
		t.Fatal(err)
	}
	labels, _, err := gh.Issues.ListLabels(ctx, "org-0", "repo-0", nil)
	if err != nil || len(labels) < 2 {
		t.Fatalf("ghfake: labels: %v (%d)", err, len(labels))
	}
	// Given in name order: the replica keeps no order of a pull's labels
	// and lists them by name; ghfake keeps the order they were given.
	names := []string{labels[0].GetName(), labels[1].GetName()}
	sort.Strings(names)
	if _, _, err := r.gh.OpenPullRequest(ctx, "org-0", "repo-0", ghfake.NewPull{Title: "Assigned and labeled", Body: "Varied.",
		Labels: names, Milestone: 1, Assignee: "user-1", Head: "topic"}); err != nil {
		t.Fatal(err)
	}
	// One more comment on the oldest pull, so popularity is not number order.
	if _, _, err := r.gh.CreateIssueComment(ctx, "org-0", "repo-0", pulls[0].GetNumber(), "Popular."); err != nil {
		t.Fatal(err)
	}
	rcs, _, err := gh.PullRequests.ListComments(ctx, "org-0", "repo-0", 0, nil)
	if err != nil || len(rcs) == 0 {
		t.Fatalf("ghfake: review comments: %v (%d)", err, len(rcs))
	}
	if _, _, err := r.gh.EditReviewComment(ctx, "org-0", "repo-0", rcs[0].GetID(), "Edited: why this line?"); err != nil {
		t.Fatal(err)
	}
	r.backfill()
}

// pullKeys are the keys a pull request must be served with, by what it holds.
func pullKeys(p *github.PullRequest, full bool) []string {
	keys := []string{"id", "node_id", "number", "state", "title", "user.login", "html_url", "created_at", "updated_at",
		"draft", "locked", "author_association", "base.ref", "base.sha", "base.label", "base.user.login", "base.repo.full_name",
		"base.repo.owner.login", "head.ref", "head.sha", "head.label", "head.repo.id"}
	if p.Body != nil {
		keys = append(keys, "body")
	}
	if len(p.Labels) > 0 {
		keys = append(keys, "labels")
	}
	if p.Milestone != nil {
		keys = append(keys, "milestone.number", "milestone.title", "milestone.creator.login")
	}
	if p.Assignee != nil {
		keys = append(keys, "assignee.login", "assignees")
	}
	if p.ClosedAt != nil {
		keys = append(keys, "closed_at")
	}
	if p.MergedAt != nil {
		keys = append(keys, "merged_at", "merge_commit_sha")
	}
	if full {
		keys = append(keys, "merged", "comments")
	}
	return keys
}

func samePulls(t *testing.T, what string, want, got []*github.PullRequest) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d pull requests, GitHub %d", what, len(got), len(want))
		return
	}
	for i := range want {
		if got[i].GetNumber() != want[i].GetNumber() {
			t.Errorf("%s: [%d] is #%d, GitHub's #%d", what, i, got[i].GetNumber(), want[i].GetNumber())
			continue
		}
		sameObjects(t, fmt.Sprintf("%s [%d] #%d", what, i, want[i].GetNumber()), want[i], got[i], pullKeys(want[i], false)...)
	}
}

// TestPullRequests compares, through go-github, the read API with ghfake
// for the pull request list (each filter, sort and paging), every pull
// request of org-0/repo-0 with its files, reviews and review comments,
// and the error answers.
func TestPullRequests(t *testing.T) {
	r := newReplica(t, nil)
	pullWorld(t, r)
	ctx := context.Background()
	gh, ours := r.clients(r.token("org-0"))

	all, _, err := gh.PullRequests.List(ctx, "org-0", "repo-0", &github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		t.Fatal(err)
	}
	var seen = map[string]bool{}
	for _, p := range all {
		switch {
		case p.MergedAt != nil:
			seen["merged"] = true
		case p.GetState() == "closed":
			seen["closed"] = true
		default:
			seen["open"] = true
		}
		seen["labels"] = seen["labels"] || len(p.Labels) > 0
		seen["milestone"] = seen["milestone"] || p.Milestone != nil
		seen["assignee"] = seen["assignee"] || p.Assignee != nil
	}
	if len(seen) != 6 {
		t.Fatalf("org-0/repo-0 is not varied enough: %v", seen)
	}
	topic := all[0] // the pull opened last, on branch topic
	other := all[len(all)-1]

	t.Run("list", func(t *testing.T) {
		for _, tc := range []struct {
			repo string
			opt  github.PullRequestListOptions
		}{
			{"repo-0", github.PullRequestListOptions{}},
			{"repo-1", github.PullRequestListOptions{}},
			{"repo-0", github.PullRequestListOptions{State: "all"}},
			{"repo-0", github.PullRequestListOptions{State: "closed"}},
			{"repo-0", github.PullRequestListOptions{State: "open"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Direction: "asc"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Sort: "created", Direction: "desc"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Sort: "updated"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Sort: "updated", Direction: "desc"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Sort: "popularity"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Sort: "popularity", Direction: "desc"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Head: "org-0:topic"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Head: "ORG-0:" + other.GetHead().GetRef()}},
			{"repo-0", github.PullRequestListOptions{State: "all", Head: "org-0:Topic"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Head: "org-1:topic"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Head: "topic"}}, // no ':': ignored
			{"repo-0", github.PullRequestListOptions{State: "all", Base: "develop"}},
			{"repo-0", github.PullRequestListOptions{State: "all", Base: other.GetBase().GetRef()}},
			{"repo-0", github.PullRequestListOptions{State: "all", Base: "nowhere"}},
			{"repo-0", github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100}}},
			{"repo-0", github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 3, Page: 1}}},
			{"repo-0", github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 3, Page: 2}}},
			{"repo-0", github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 3, Page: 3}}},
			{"repo-0", github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 3, Page: 4}}},
			{"repo-0", github.PullRequestListOptions{State: "all", Sort: "updated", Direction: "desc", ListOptions: github.ListOptions{PerPage: 2, Page: 2}}},
			{"repo-0", github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100, Page: 2}}},
		} {
			what := fmt.Sprintf("%s %+v", tc.repo, tc.opt)
			want, wr, err := gh.PullRequests.List(ctx, "org-0", tc.repo, &tc.opt)
			if err != nil {
				t.Fatalf("ghfake: %s: %v", what, err)
			}
			got, or, err := ours.PullRequests.List(ctx, "org-0", tc.repo, &tc.opt)
			if err != nil {
				t.Fatalf("read API: %s: %v", what, err)
			}
			samePulls(t, what, want, got)
			samePaging(t, what, wr, or)
		}
	})

	t.Run("each", func(t *testing.T) {
		for _, p := range all {
			n := p.GetNumber()
			want, _, err := gh.PullRequests.Get(ctx, "org-0", "repo-0", n)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := ours.PullRequests.Get(ctx, "org-0", "repo-0", n)
			if err != nil {
				t.Fatalf("read API: pull %d: %v", n, err)
			}
			sameObjects(t, fmt.Sprintf("pull %d", n), want, got, pullKeys(want, true)...)
			if want.GetMerged() && got.MergedBy == nil && got.MergedAt == nil {
				t.Errorf("pull %d: merged, but served without merged_at", n)
			}
			samePullFiles(t, ctx, gh, ours, n)
			sameChildren(t, ctx, gh, ours, n)
		}
	})

	t.Run("review comment order", func(t *testing.T) {
		repoWide, _, err := gh.PullRequests.ListComments(ctx, "org-0", "repo-0", 0, &github.PullRequestListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
		if err != nil || len(repoWide) == 0 {
			t.Fatalf("ghfake: review comments: %v", err)
		}
		var edited *github.PullRequestComment
		for _, c := range repoWide {
			if strings.HasPrefix(c.GetBody(), "Edited") {
				edited = c
			}
		}
		if edited == nil {
			t.Fatal("the edited review comment is not listed")
		}
		n := 0
		fmt.Sscanf(edited.GetPullRequestURL()[strings.LastIndex(edited.GetPullRequestURL(), "/")+1:], "%d", &n)
		for _, opt := range []github.PullRequestListCommentsOptions{
			{Sort: "created"}, {Sort: "created", Direction: "desc"}, {Sort: "updated"}, {Sort: "updated", Direction: "desc"},
			{Since: edited.GetUpdatedAt().Time}, {Since: edited.GetUpdatedAt().Time.Add(time.Second)}, {Sort: "updated", Since: edited.GetCreatedAt().Time},
		} {
			// ghfake's per-pull route ignores sort, direction and since;
			// its repository-wide route honours them as GitHub does.
			opt.PerPage = 100
			wide, _, err := gh.PullRequests.ListComments(ctx, "org-0", "repo-0", 0, &opt)
			if err != nil {
				t.Fatal(err)
			}
			var want []*github.PullRequestComment
			for _, c := range wide {
				if strings.HasSuffix(c.GetPullRequestURL(), fmt.Sprintf("/pulls/%d", n)) {
					want = append(want, c)
				}
			}
			got, _, err := ours.PullRequests.ListComments(ctx, "org-0", "repo-0", n, &opt)
			if err != nil {
				t.Fatalf("read API: review comments of %d %+v: %v", n, opt, err)
			}
			if len(got) != len(want) {
				t.Fatalf("review comments of %d %+v: %d, GitHub %d", n, opt, len(got), len(want))
			}
			for i := range want {
				sameObjects(t, fmt.Sprintf("review comment [%d] of %d %+v", i, n, opt), want[i], got[i], "id", "body", "updated_at")
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		token := r.token("org-0")
		for _, path := range []string{"/pulls/999", "/pulls/999/files", "/pulls/999/reviews", "/pulls/999/comments", "/pulls/0", "/pulls/x"} {
			want, _ := http.NewRequest(http.MethodGet, r.gh.APIURL()+"/repos/org-0/repo-0"+path, nil)
			want.Header.Set("Authorization", "Bearer "+token)
			wr, err := http.DefaultClient.Do(want)
			if err != nil {
				t.Fatal(err)
			}
			wr.Body.Close()
			resp, body := r.get("/repos/org-0/repo-0"+path, token)
			if resp.StatusCode != http.StatusNotFound || wr.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %d %s (GitHub %d), want 404", path, resp.StatusCode, body, wr.StatusCode)
			}
		}
		for _, tc := range []struct{ query, field, code string }{
			{"state=merged", "state", "invalid"},
			{"sort=comments", "sort", "invalid"},
			{"direction=sideways", "direction", "invalid"}, // ghfake does not check direction; GitHub does
			{"sort=long-running", "sort", "unsupported"},
			{"milestone=1", "milestone", "unsupported"},
		} {
			resp, body := r.get("/repos/org-0/repo-0/pulls?"+tc.query, token)
			var e struct {
				Message string       `json:"message"`
				Errors  []fieldError `json:"errors"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%s: %s: %v", tc.query, body, err)
			}
			if resp.StatusCode != http.StatusUnprocessableEntity || len(e.Errors) != 1 || e.Errors[0].Field != tc.field || e.Errors[0].Code != tc.code {
				t.Errorf("GET pulls?%s: %d %s, want 422 on %s (%s)", tc.query, resp.StatusCode, body, tc.field, tc.code)
			}
			if tc.code == "invalid" && e.Message != "Validation Failed" {
				t.Errorf("GET pulls?%s: message %q, want GitHub's Validation Failed", tc.query, e.Message)
			}
			if tc.code == "unsupported" && !strings.Contains(e.Message, strings.SplitN(tc.query, "=", 2)[1]) && !strings.Contains(e.Message, tc.field) {
				t.Errorf("GET pulls?%s: %q does not say what is unsupported", tc.query, e.Message)
			}
		}
		if _, body := r.get("/repos/org-0/repo-0/pulls?sort=long-running", token); !strings.Contains(string(body), "long-running") {
			t.Errorf("sort=long-running: %s does not name it", body)
		}
		for _, q := range []string{"sort=popularity", "direction=up&sort=created", "since=yesterday"} {
			resp, body := r.get(fmt.Sprintf("/repos/org-0/repo-0/pulls/%d/comments?%s", topic.GetNumber(), q), token)
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "Validation Failed") {
				t.Errorf("GET comments?%s: %d %s, want 422 Validation Failed", q, resp.StatusCode, body)
			}
		}
		_, _, err := ours.PullRequests.Get(ctx, "org-0", "repo-0", 999)
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != http.StatusNotFound {
			t.Errorf("go-github: pull 999: %v, want 404", err)
		}
	})
}

// samePullFiles reads every page of pull n's files from both at 2 per
// page (and once at 100), compares paging page by page and the files as
// a set: the replica lists them by path, ghfake in the order it made them.
func samePullFiles(t *testing.T, ctx context.Context, gh, ours *github.Client, n int) {
	t.Helper()
	for _, per := range []int{2, 100} {
		var want, got []*github.CommitFile
		for page := 1; page <= 4; page++ {
			opt := &github.ListOptions{PerPage: per, Page: page}
			w, wr, err := gh.PullRequests.ListFiles(ctx, "org-0", "repo-0", n, opt)
			if err != nil {
				t.Fatal(err)
			}
			o, or, err := ours.PullRequests.ListFiles(ctx, "org-0", "repo-0", n, opt)
			if err != nil {
				t.Fatalf("read API: files of %d: %v", n, err)
			}
			if len(o) != len(w) {
				t.Errorf("files of %d, page %d per %d: %d, GitHub %d", n, page, per, len(o), len(w))
			}
			samePaging(t, fmt.Sprintf("files of %d page %d per %d", n, page, per), wr, or)
			want, got = append(want, w...), append(got, o...)
		}
		if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i].GetFilename() < got[j].GetFilename() }) {
			t.Errorf("files of %d are not in path order", n)
		}
		sort.Slice(want, func(i, j int) bool { return want[i].GetFilename() < want[j].GetFilename() })
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("files of %d: %d, GitHub %d", n, len(got), len(want))
		}
		for i := range want {
			sameObjects(t, fmt.Sprintf("file %s of %d", want[i].GetFilename(), n), want[i], got[i],
				"filename", "sha", "status", "additions", "deletions", "changes", "patch", "blob_url", "raw_url", "contents_url")
		}
	}
}

// sameChildren compares pull n's reviews and review comments page by page.
func sameChildren(t *testing.T, ctx context.Context, gh, ours *github.Client, n int) {
	t.Helper()
	for _, opt := range []github.ListOptions{{}, {PerPage: 1, Page: 1}, {PerPage: 1, Page: 2}, {PerPage: 1, Page: 3}, {PerPage: 100}} {
		what := fmt.Sprintf("of %d %+v", n, opt)
		wv, wr, err := gh.PullRequests.ListReviews(ctx, "org-0", "repo-0", n, &opt)
		if err != nil {
			t.Fatal(err)
		}
		ov, or, err := ours.PullRequests.ListReviews(ctx, "org-0", "repo-0", n, &opt)
		if err != nil {
			t.Fatalf("read API: reviews %s: %v", what, err)
		}
		samePaging(t, "reviews "+what, wr, or)
		if len(ov) != len(wv) {
			t.Errorf("reviews %s: %d, GitHub %d", what, len(ov), len(wv))
		} else {
			for i := range wv {
				sameObjects(t, fmt.Sprintf("review [%d] %s", i, what), wv[i], ov[i],
					"id", "node_id", "user.login", "body", "state", "commit_id", "submitted_at", "html_url", "author_association")
			}
		}
		co := &github.PullRequestListCommentsOptions{ListOptions: opt}
		wc, wr, err := gh.PullRequests.ListComments(ctx, "org-0", "repo-0", n, co)
		if err != nil {
			t.Fatal(err)
		}
		oc, or, err := ours.PullRequests.ListComments(ctx, "org-0", "repo-0", n, co)
		if err != nil {
			t.Fatalf("read API: review comments %s: %v", what, err)
		}
		samePaging(t, "review comments "+what, wr, or)
		if len(oc) != len(wc) {
			t.Errorf("review comments %s: %d, GitHub %d", what, len(oc), len(wc))
			continue
		}
		for i := range wc {
			must := []string{"id", "node_id", "user.login", "body", "path", "line", "side", "position", "commit_id", "diff_hunk",
				"created_at", "updated_at", "html_url", "author_association"}
			if wc[i].PullRequestReviewID != nil {
				must = append(must, "pull_request_review_id")
			}
			sameObjects(t, fmt.Sprintf("review comment [%d] %s", i, what), wc[i], oc[i], must...)
		}
	}
}
