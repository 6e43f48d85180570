package ghfake_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

const fOwner, fRepo = "org-0", "repo-0"

// filterWorld is a seeded repository with assignees, two-label items,
// both milestones, closed ones and a pull request on its own head branch,
// so every filter keeps some items and drops others.
func filterWorld(t *testing.T) *ghfake.Server {
	t.Helper()
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 11, Users: 3, ReposPerAccount: 1,
		PullsPerRepo: 25, IssuesPerRepo: 45, LabelsPerRepo: 4, MilestonesPerRepo: 2}})
	issues := []ghfake.NewIssue{
		{Title: "assigned two labels m1", User: "user-1", Assignee: "user-2", Labels: []string{"bug", "enhancement"}, Milestone: 1},
		{Title: "assigned bug", User: "user-1", Assignee: "user-0", Labels: []string{"bug"}},
		{Title: "assigned m2", User: "user-0", Assignee: "user-2", Milestone: 2},
		{Title: "closed two labels", User: "user-1", Assignee: "user-2", Labels: []string{"enhancement", "bug"}, Milestone: 1},
	}
	for _, ni := range issues {
		if _, _, err := srv.OpenIssue(ctx, fOwner, fRepo, ni); err != nil {
			t.Fatalf("open %q: %v", ni.Title, err)
		}
	}
	last := srv.World().IssuesAndPulls(fOwner, fRepo)
	if _, _, err := srv.CloseIssue(ctx, fOwner, fRepo, last[len(last)-1].GetNumber()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, _, err := srv.OpenPullRequest(ctx, fOwner, fRepo, ghfake.NewPull{Title: "topic", User: "user-2", Head: "topic-filters",
		Assignee: "user-2", Labels: []string{"enhancement", "bug"}, Milestone: 2}); err != nil {
		t.Fatalf("open pull: %v", err)
	}
	// Every other seeded "bug" item gets "enhancement" too, so both names
	// keep fewer than either alone.
	k := 0
	for _, it := range srv.World().IssuesAndPulls(fOwner, fRepo) {
		if names := labelSet(it); names["bug"] && !names["enhancement"] {
			if k++; k%2 == 0 {
				if _, _, err := srv.LabelIssue(ctx, fOwner, fRepo, it.GetNumber(), "enhancement"); err != nil {
					t.Fatalf("label #%d: %v", it.GetNumber(), err)
				}
			}
		}
	}
	return srv
}

func labelSet(it *github.Issue) map[string]bool {
	out := map[string]bool{}
	for _, l := range it.Labels {
		out[strings.ToLower(l.GetName())] = true
	}
	return out
}

func hasLogin(us []*github.User, login string) bool {
	return slices.ContainsFunc(us, func(u *github.User) bool { return strings.EqualFold(u.GetLogin(), login) })
}

// newestFirst is the numbers of the kept items in the lists' default
// order (sort=created, direction=desc).
func newestFirst[T any](xs []T, number func(T) int, keep func(T) bool) []int {
	out := []int{}
	for _, x := range xs {
		if keep(x) {
			out = append(out, number(x))
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// allNumbers follows list's pages to the last and returns the numbers of
// what they held, in order.
func allNumbers[T any](t *testing.T, number func(T) int, list func(page int) ([]T, *github.Response, error)) []int {
	t.Helper()
	got := []int{}
	for page := 1; page != 0; {
		xs, resp, err := list(page)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, x := range xs {
			got = append(got, number(x))
		}
		page = resp.NextPage
	}
	return got
}

func TestIssueListFilters(t *testing.T) {
	srv := filterWorld(t)
	gh := installationClient(t, srv, srv.World().Installations()[0].GetID())
	world := srv.World().IssuesAndPulls(fOwner, fRepo)
	open := func(i *github.Issue) bool { return i.GetState() == "open" }

	tests := []struct {
		name  string
		opt   github.IssueListByRepoOptions
		keep  func(i *github.Issue) bool // from the world, with state=all unless opt says
		empty bool                       // the filter must keep nothing
	}{
		{"milestone number", github.IssueListByRepoOptions{Milestone: "1"},
			func(i *github.Issue) bool { return i.GetMilestone().GetNumber() == 1 }, false},
		{"milestone any", github.IssueListByRepoOptions{Milestone: "*"},
			func(i *github.Issue) bool { return i.Milestone != nil }, false},
		{"milestone none", github.IssueListByRepoOptions{Milestone: "none"},
			func(i *github.Issue) bool { return i.Milestone == nil }, false},
		{"milestone of no milestone", github.IssueListByRepoOptions{Milestone: "99"},
			func(*github.Issue) bool { return false }, true},
		{"assignee login any case", github.IssueListByRepoOptions{Assignee: "USER-2"},
			func(i *github.Issue) bool { return hasLogin(i.Assignees, "user-2") }, false},
		{"assignee none", github.IssueListByRepoOptions{Assignee: "none"},
			func(i *github.Issue) bool { return len(i.Assignees) == 0 }, false},
		{"assignee any", github.IssueListByRepoOptions{Assignee: "*"},
			func(i *github.Issue) bool { return len(i.Assignees) > 0 }, false},
		{"creator login any case", github.IssueListByRepoOptions{Creator: "User-1"},
			func(i *github.Issue) bool { return strings.EqualFold(i.GetUser().GetLogin(), "user-1") }, false},
		{"creator unknown", github.IssueListByRepoOptions{Creator: "nobody"},
			func(*github.Issue) bool { return false }, true},
		{"labels two names, all required", github.IssueListByRepoOptions{Labels: []string{"bug", "ENHANCEMENT"}},
			func(i *github.Issue) bool { s := labelSet(i); return s["bug"] && s["enhancement"] }, false},
		{"filters combine with state", github.IssueListByRepoOptions{State: "open", Labels: []string{"bug"}, Assignee: "*"},
			func(i *github.Issue) bool { return open(i) && labelSet(i)["bug"] && len(i.Assignees) > 0 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := tt.opt
			if opt.State == "" {
				opt.State = "all"
			}
			want := newestFirst(world, (*github.Issue).GetNumber, tt.keep)
			if tt.empty != (len(want) == 0) || len(want) == len(world) {
				t.Fatalf("fixture: the filter keeps %d of %d items; the case needs some kept and some dropped (empty=%v)", len(want), len(world), tt.empty)
			}
			opt.PerPage = 100
			got := allNumbers(t, (*github.Issue).GetNumber, func(page int) ([]*github.Issue, *github.Response, error) {
				opt.Page = page
				return gh.Issues.ListByRepo(ctx, fOwner, fRepo, &opt)
			})
			if !slices.Equal(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
		})
	}
}

func TestPullListHeadFilter(t *testing.T) {
	srv := filterWorld(t)
	gh := installationClient(t, srv, srv.World().Installations()[0].GetID())
	world := srv.World().PullRequests(fOwner, fRepo)
	seeded := world[0].GetHead().GetRef() // a seeded feature-N branch
	base := srv.World().Repository(fOwner, fRepo).GetDefaultBranch()
	head := func(owner, ref string) func(p *github.PullRequest) bool {
		return func(p *github.PullRequest) bool {
			return strings.EqualFold(p.GetHead().GetUser().GetLogin(), owner) && p.GetHead().GetRef() == ref
		}
	}

	tests := []struct {
		name  string
		opt   github.PullRequestListOptions
		keep  func(p *github.PullRequest) bool
		count int // pulls the case must keep; -1 for all of them
	}{
		{"head owner:ref", github.PullRequestListOptions{Head: fOwner + ":topic-filters"}, head(fOwner, "topic-filters"), 1},
		{"head owner any case", github.PullRequestListOptions{Head: strings.ToUpper(fOwner) + ":" + seeded}, head(fOwner, seeded), 1},
		{"head of another owner", github.PullRequestListOptions{Head: "user-2:topic-filters"}, head("user-2", "topic-filters"), 0},
		{"head ref case matters", github.PullRequestListOptions{Head: fOwner + ":TOPIC-filters"}, head(fOwner, "TOPIC-filters"), 0},
		// GitHub ignores a head without owner (PyGithub/PyGithub#1566).
		{"head without colon is ignored", github.PullRequestListOptions{Head: "topic-filters"},
			func(*github.PullRequest) bool { return true }, -1},
		{"head with base", github.PullRequestListOptions{Head: fOwner + ":topic-filters", Base: base},
			func(p *github.PullRequest) bool {
				return head(fOwner, "topic-filters")(p) && p.GetBase().GetRef() == base
			}, 1},
		{"head with another base", github.PullRequestListOptions{Head: fOwner + ":topic-filters", Base: "nope"},
			func(p *github.PullRequest) bool { return false }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := newestFirst(world, (*github.PullRequest).GetNumber, tt.keep)
			if n := tt.count; (n >= 0 && len(want) != n) || (n < 0 && len(want) != len(world)) {
				t.Fatalf("fixture: the world holds %d such pulls, the case needs %d", len(want), n)
			}
			opt := tt.opt
			opt.State = "all"
			opt.PerPage = 100
			got := allNumbers(t, (*github.PullRequest).GetNumber, func(page int) ([]*github.PullRequest, *github.Response, error) {
				opt.Page = page
				return gh.PullRequests.List(ctx, fOwner, fRepo, &opt)
			})
			if !slices.Equal(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
		})
	}
}

func TestFilteredListPaging(t *testing.T) {
	srv := filterWorld(t)
	inst := srv.World().Installations()[0]
	gh := installationClient(t, srv, inst.GetID())
	want := newestFirst(srv.World().IssuesAndPulls(fOwner, fRepo), (*github.Issue).GetNumber,
		func(i *github.Issue) bool { return labelSet(i)["bug"] })
	const per = 4
	lastPage := (len(want) + per - 1) / per
	if lastPage < 3 {
		t.Fatalf("fixture: %d bug items make %d pages, want at least 3", len(want), lastPage)
	}

	opt := &github.IssueListByRepoOptions{State: "all", Labels: []string{"bug"}, ListOptions: github.ListOptions{PerPage: per}}
	var got []int
	for page := 1; ; page++ {
		is, resp, err := gh.Issues.ListByRepo(ctx, fOwner, fRepo, opt)
		if err != nil {
			t.Fatal(err)
		}
		if page < lastPage && (resp.NextPage != page+1 || resp.LastPage != lastPage) {
			t.Errorf("page %d: next %d last %d, want %d and %d", page, resp.NextPage, resp.LastPage, page+1, lastPage)
		}
		for _, i := range is {
			got = append(got, i.GetNumber())
		}
		if resp.NextPage == 0 {
			if page != lastPage {
				t.Errorf("ended at page %d, want %d", page, lastPage)
			}
			break
		}
		opt.Page = resp.NextPage
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages hold %v\nwant %v", got, want)
	}

	// The Link targets keep the filter, in the client's order.
	res := rawGet(t, srv, srv.InstallationToken(inst.GetID()), "repos/org-0/repo-0/issues?state=all&labels=bug&per_page=4", nil)
	prefix := fmt.Sprintf("%srepositories/%d/issues?state=all&labels=bug&per_page=4&", srv.APIURL(), srv.World().Repository(fOwner, fRepo).GetID())
	wantLink := fmt.Sprintf(`<%spage=2>; rel="next", <%spage=%d>; rel="last"`, prefix, prefix, lastPage)
	if l := res.Header.Get("Link"); l != wantLink {
		t.Errorf("Link\n%s\nwant\n%s", l, wantLink)
	}
}
