package readapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

// varyIssues makes org-0/repo-0 varied enough for every issue filter (the
// seed assigns nobody and puts one label at most on an item), then
// backfills again so that the replica holds it.
func varyIssues(t *testing.T, r *replica) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const o, n = "org-0", "repo-0"
	_, _, err := r.gh.OpenIssue(ctx, o, n, ghfake.NewIssue{Title: "two labels", User: "user-1", Labels: []string{"bug", "enhancement"}, Milestone: 2, Assignee: "user-0"})
	must(err)
	assigned, _, err := r.gh.OpenIssue(ctx, o, n, ghfake.NewIssue{Title: "assigned and closed", Assignee: "user-1", Labels: []string{"bug"}})
	must(err)
	_, _, err = r.gh.CloseIssue(ctx, o, n, assigned.GetNumber())
	must(err)
	reopened, _, err := r.gh.OpenIssue(ctx, o, n, ghfake.NewIssue{Title: "reopened", User: "user-0"})
	must(err)
	// Added in name order: the replica does not keep the order labels
	// were added in, and serves an issue's labels by name.
	_, _, err = r.gh.LabelIssue(ctx, o, n, reopened.GetNumber(), "bug")
	must(err)
	_, _, err = r.gh.LabelIssue(ctx, o, n, reopened.GetNumber(), "good first issue")
	must(err)
	_, _, err = r.gh.CloseIssue(ctx, o, n, reopened.GetNumber())
	must(err)
	_, _, err = r.gh.ReopenIssue(ctx, o, n, reopened.GetNumber())
	must(err)
	// A third comment on a seeded issue (not a pull request: see the
	// report on the comment count a re-scan gives a pull request's issue
	// row).
	gh, _ := r.clients(r.token(o))
	items, _, err := gh.Issues.ListByRepo(ctx, o, n, &github.IssueListByRepoOptions{State: "all", Direction: "asc"})
	must(err)
	plain := 0
	for _, it := range items {
		if !it.IsPullRequest() && it.GetComments() == 2 {
			plain = it.GetNumber()
			break
		}
	}
	if plain == 0 {
		t.Fatal("org-0/repo-0 has no issue with two comments")
	}
	_, _, err = r.gh.CreateIssueComment(ctx, o, n, plain, "a third comment")
	must(err)
	_, _, err = r.gh.CreateIssueComment(ctx, o, n, reopened.GetNumber(), "a comment")
	must(err)
	// An edited comment puts the updated order apart from the created one.
	cs, _, err := gh.Issues.ListComments(ctx, o, n, plain, nil)
	must(err)
	if len(cs) == 0 {
		t.Fatal("the issue has no comments")
	}
	_, _, err = r.gh.EditIssueComment(ctx, o, n, cs[0].GetID(), "edited")
	must(err)
	// A pull request with two labels (the issue side).
	pulls, _, err := gh.PullRequests.List(ctx, o, n, &github.PullRequestListOptions{State: "all"})
	must(err)
	if len(pulls) == 0 {
		t.Fatal("org-0/repo-0 has no pull requests")
	}
	added := 0
	for _, name := range []string{"bug", "documentation", "enhancement"} {
		if _, _, err := r.gh.LabelIssue(ctx, o, n, pulls[0].GetNumber(), name); err == nil {
			added++
		}
	}
	if added == 0 {
		t.Fatal("no label could be added to a pull request")
	}
	r.backfill()
}

// issueMust are the keys every issue must serve, and those its values
// make required (a pull request's link, labels, milestone, assignees).
func issueMust(want *github.Issue, full bool) []string {
	keys := []string{"id", "node_id", "number", "title", "state", "locked", "user.login", "user.id", "comments",
		"author_association", "html_url", "created_at", "updated_at"}
	if want.Body != nil {
		keys = append(keys, "body")
	}
	if want.IsPullRequest() {
		keys = append(keys, "pull_request.html_url")
		if want.PullRequestLinks.MergedAt != nil {
			keys = append(keys, "pull_request.merged_at")
		}
	}
	if len(want.Labels) > 0 {
		keys = append(keys, "labels")
	}
	if want.Milestone != nil {
		keys = append(keys, "milestone.number", "milestone.title", "milestone.creator.login")
	}
	if want.Assignee != nil {
		keys = append(keys, "assignee.login", "assignees")
	}
	if want.ClosedAt != nil {
		keys = append(keys, "closed_at")
	}
	if want.StateReason != nil {
		keys = append(keys, "state_reason")
	}
	return keys
}

func sameIssues(t *testing.T, what string, want, got []*github.Issue) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d issues, GitHub %d", what, len(got), len(want))
		return
	}
	for i := range want {
		if got[i].GetNumber() != want[i].GetNumber() {
			t.Errorf("%s: item %d is #%d, GitHub's #%d", what, i, got[i].GetNumber(), want[i].GetNumber())
			continue
		}
		sameObjects(t, what+" #"+strconv.Itoa(want[i].GetNumber()), want[i], got[i], issueMust(want[i], false)...)
	}
}

func TestIssueReads(t *testing.T) {
	r := newReplica(t, nil)
	varyIssues(t, r)
	ctx := context.Background()
	gh, ours := r.clients(r.token("org-0"))
	const o, n = "org-0", "repo-0"

	all, _, err := gh.Issues.ListByRepo(ctx, o, n, &github.IssueListByRepoOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		t.Fatal(err)
	}
	// The world must hold what the filters select on.
	var closed, prs, merged, labelled2, assigned, milestoned int
	for _, it := range all {
		closed += b2i(it.GetState() == "closed")
		prs += b2i(it.IsPullRequest())
		merged += b2i(it.IsPullRequest() && it.PullRequestLinks.MergedAt != nil)
		labelled2 += b2i(len(it.Labels) >= 2)
		assigned += b2i(it.Assignee != nil)
		milestoned += b2i(it.Milestone != nil)
	}
	if closed == 0 || prs == 0 || merged == 0 || labelled2 < 2 || assigned < 2 || milestoned == 0 || len(all) < 10 {
		t.Fatalf("world too plain: %d items, %d closed, %d pulls (%d merged), %d with 2 labels, %d assigned, %d with a milestone",
			len(all), closed, prs, merged, labelled2, assigned, milestoned)
	}
	mid := all[len(all)/2].GetUpdatedAt().Time

	t.Run("list", func(t *testing.T) {
		type opts = github.IssueListByRepoOptions
		cases := []struct {
			name     string
			opt      opts
			nonEmpty bool
		}{
			{"default", opts{}, true},
			{"state open", opts{State: "open"}, true},
			{"state closed", opts{State: "closed"}, true},
			{"state all", opts{State: "all"}, true},
			{"labels one", opts{State: "all", Labels: []string{"bug"}}, true},
			{"labels two", opts{State: "all", Labels: []string{"bug", "enhancement"}}, true},
			{"labels case", opts{State: "all", Labels: []string{"BUG", "Good First Issue"}}, true},
			{"labels unknown", opts{State: "all", Labels: []string{"bug", "nope"}}, false},
			{"assignee login", opts{State: "all", Assignee: "user-0"}, true},
			{"assignee login case", opts{State: "all", Assignee: "USER-1"}, true},
			{"assignee none", opts{State: "all", Assignee: "none"}, true},
			{"assignee any", opts{State: "all", Assignee: "*"}, true},
			{"creator", opts{State: "all", Creator: "user-1"}, true},
			{"milestone number", opts{State: "all", Milestone: "2"}, true},
			{"milestone none", opts{State: "all", Milestone: "none"}, true},
			{"milestone any", opts{State: "all", Milestone: "*"}, true},
			{"milestone unknown", opts{State: "all", Milestone: "99"}, false},
			{"milestone abc", opts{State: "all", Milestone: "abc"}, false},
			{"since", opts{State: "all", Since: mid}, true},
			{"filters combined", opts{State: "open", Labels: []string{"bug"}, Assignee: "*"}, true},
		}
		for _, s := range []string{"created", "updated", "comments"} {
			for _, d := range []string{"", "asc", "desc"} {
				cases = append(cases, struct {
					name     string
					opt      opts
					nonEmpty bool
				}{"sort " + s + " " + d, opts{State: "all", Sort: s, Direction: d}, true})
			}
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				want, wr, err := gh.Issues.ListByRepo(ctx, o, n, &tc.opt)
				if err != nil {
					t.Fatal(err)
				}
				got, or, err := ours.Issues.ListByRepo(ctx, o, n, &tc.opt)
				if err != nil {
					t.Fatalf("read API: %v", err)
				}
				if tc.nonEmpty && len(want) == 0 {
					t.Fatal("GitHub lists nothing: the case tests nothing")
				}
				sameIssues(t, tc.name, want, got)
				samePaging(t, tc.name, wr, or)
			})
		}
	})

	t.Run("paging", func(t *testing.T) {
		for _, opt := range []github.IssueListByRepoOptions{{State: "all"}, {State: "all", Sort: "updated", Direction: "asc"}, {Labels: []string{"bug"}, State: "all"}} {
			per := 3
			if len(opt.Labels) > 0 {
				per = 2
			}
			last := 0
			for page := 1; page <= 8; page++ {
				opt.ListOptions = github.ListOptions{PerPage: per, Page: page}
				want, wr, err := gh.Issues.ListByRepo(ctx, o, n, &opt)
				if err != nil {
					t.Fatal(err)
				}
				got, or, err := ours.Issues.ListByRepo(ctx, o, n, &opt)
				if err != nil {
					t.Fatalf("read API: page %d: %v", page, err)
				}
				what := "issues sort " + opt.Sort + " page " + strconv.Itoa(page)
				sameIssues(t, what, want, got)
				samePaging(t, what, wr, or)
				last = max(last, wr.LastPage)
			}
			if last < 3 {
				t.Errorf("only %d pages: paging tests little", last)
			}
		}
	})

	t.Run("get", func(t *testing.T) {
		for _, it := range all {
			want, _, err := gh.Issues.Get(ctx, o, n, it.GetNumber())
			if err != nil {
				t.Fatal(err)
			}
			got, resp, err := ours.Issues.Get(ctx, o, n, it.GetNumber())
			if err != nil {
				t.Fatalf("read API: #%d: %v", it.GetNumber(), err)
			}
			sameObjects(t, "issue #"+strconv.Itoa(it.GetNumber()), want, got, issueMust(want, true)...)
			if got.IsPullRequest() != want.IsPullRequest() {
				t.Errorf("#%d: IsPullRequest %v, GitHub %v", it.GetNumber(), got.IsPullRequest(), want.IsPullRequest())
			}
			if resp.Header.Get(ReplicatedAtHeader) == "" {
				t.Errorf("#%d: no %s", it.GetNumber(), ReplicatedAtHeader)
			}
		}
		_, _, err := ours.Issues.Get(ctx, o, n, 999)
		wantStatus(t, "issue 999", err, http.StatusNotFound)
		_, _, err = gh.Issues.Get(ctx, o, n, 999)
		wantStatus(t, "ghfake: issue 999", err, http.StatusNotFound)
	})

	t.Run("comments", func(t *testing.T) {
		var most *github.Issue
		for _, it := range all {
			want, wr, err := gh.Issues.ListComments(ctx, o, n, it.GetNumber(), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, or, err := ours.Issues.ListComments(ctx, o, n, it.GetNumber(), nil)
			if err != nil {
				t.Fatalf("read API: comments of #%d: %v", it.GetNumber(), err)
			}
			sameComments(t, "comments of #"+strconv.Itoa(it.GetNumber()), want, got)
			samePaging(t, "comments", wr, or)
			if most == nil || it.GetComments() > most.GetComments() {
				most = it
			}
		}
		if most.GetComments() < 3 {
			t.Fatalf("no issue has 3 comments (most: %d)", most.GetComments())
		}
		cs, _, err := gh.Issues.ListComments(ctx, o, n, most.GetNumber(), nil)
		if err != nil {
			t.Fatal(err)
		}
		since := cs[1].GetUpdatedAt().Time
		for page := 1; page <= 5; page++ {
			for _, opt := range []*github.IssueListCommentsOptions{
				{ListOptions: github.ListOptions{PerPage: 1, Page: page}},
				{Since: &since, ListOptions: github.ListOptions{PerPage: 1, Page: page}},
			} {
				want, wr, err := gh.Issues.ListComments(ctx, o, n, most.GetNumber(), opt)
				if err != nil {
					t.Fatal(err)
				}
				got, or, err := ours.Issues.ListComments(ctx, o, n, most.GetNumber(), opt)
				if err != nil {
					t.Fatalf("read API: %v", err)
				}
				what := "comments of #" + strconv.Itoa(most.GetNumber()) + " page " + strconv.Itoa(page) + " since " + strconv.FormatBool(opt.Since != nil)
				sameComments(t, what, want, got)
				samePaging(t, what, wr, or)
			}
		}
		_, _, err = ours.Issues.ListComments(ctx, o, n, 999, nil)
		wantStatus(t, "comments of 999", err, http.StatusNotFound)
	})

	t.Run("repository comments", func(t *testing.T) {
		all, _, err := gh.Issues.ListComments(ctx, o, n, 0, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < 10 {
			t.Fatalf("only %d comments", len(all))
		}
		since := all[len(all)/2].GetUpdatedAt().Time
		var cases []*github.IssueListCommentsOptions
		for _, s := range []string{"", "created", "updated"} {
			for _, d := range []string{"", "asc", "desc"} {
				cases = append(cases, &github.IssueListCommentsOptions{Sort: ptr(s), Direction: ptr(d)})
			}
		}
		cases = append(cases, &github.IssueListCommentsOptions{Since: &since}, &github.IssueListCommentsOptions{Sort: ptr("updated"), Direction: ptr("desc"), Since: &since})
		for page := 1; page <= 6; page++ {
			cases = append(cases, &github.IssueListCommentsOptions{Sort: ptr("updated"), ListOptions: github.ListOptions{PerPage: 7, Page: page}})
		}
		for _, opt := range cases {
			if opt.Sort != nil && *opt.Sort == "" {
				opt.Sort = nil
			}
			if opt.Direction != nil && *opt.Direction == "" {
				opt.Direction = nil
			}
			what := "repository comments sort " + opt.GetSort() + " " + opt.GetDirection() + " since " + strconv.FormatBool(opt.Since != nil) + " page " + strconv.Itoa(opt.Page)
			want, wr, err := gh.Issues.ListComments(ctx, o, n, 0, opt)
			if err != nil {
				t.Fatal(err)
			}
			got, or, err := ours.Issues.ListComments(ctx, o, n, 0, opt)
			if err != nil {
				t.Fatalf("read API: %s: %v", what, err)
			}
			sameComments(t, what, want, got)
			samePaging(t, what, wr, or)
		}
	})

	t.Run("errors", func(t *testing.T) {
		tok := r.token("org-0")
		for _, tc := range []struct {
			query, field string
			status       int
			ghfake       bool // ghfake answers the same
		}{
			{"/repos/org-0/repo-0/issues?state=bogus", "state", 422, true},
			{"/repos/org-0/repo-0/issues?sort=bogus", "sort", 422, true},
			{"/repos/org-0/repo-0/issues?since=yesterday", "since", 422, true},
			{"/repos/org-0/repo-0/issues?mentioned=x", "mentioned", 422, false},
			{"/repos/org-0/repo-0/issues/1/comments?since=yesterday", "since", 422, true},
			{"/repos/org-0/repo-0/issues/comments?since=yesterday", "since", 422, true},
			// ghfake takes any sort and direction here; GitHub's enum is
			// created|updated, and asc|desc.
			{"/repos/org-0/repo-0/issues/comments?sort=bogus", "sort", 422, false},
			{"/repos/org-0/repo-0/issues?direction=sideways", "direction", 422, false},
			{"/repos/org-0/repo-0/issues/abc", "", 404, true},
		} {
			resp, body := r.get(tc.query, tok)
			if resp.StatusCode != tc.status || (tc.field != "" && !strings.Contains(string(body), `"`+tc.field+`"`)) {
				t.Errorf("GET %s: %d %s, want %d naming %q", tc.query, resp.StatusCode, body, tc.status, tc.field)
			}
			if tc.ghfake {
				if st := ghfakeStatus(t, r, tc.query, tok); st != tc.status {
					t.Errorf("ghfake: GET %s: %d, want %d", tc.query, st, tc.status)
				}
			}
		}
	})
}

func sameComments(t *testing.T, what string, want, got []*github.IssueComment) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d comments, GitHub %d", what, len(got), len(want))
		return
	}
	for i := range want {
		sameObjects(t, what+" ["+strconv.Itoa(i)+"]", want[i], got[i], "id", "node_id", "html_url", "body", "user.login",
			"author_association", "created_at", "updated_at")
	}
}

func wantStatus(t *testing.T, what string, err error, status int) {
	t.Helper()
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != status {
		t.Errorf("%s: %v, want %d", what, err, status)
	}
}

// ghfakeStatus is ghfake's status for path (after /api/v3).
func ghfakeStatus(t *testing.T, r *replica, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(r.gh.APIURL(), "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
