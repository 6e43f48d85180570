package ui

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/process"
)

func TestReachRepo(t *testing.T) {
	r := &reach{Installations: []installationReach{
		{ID: 1, Account: "org-a", Repos: []repoReach{{ID: 10, Owner: "org-a", Name: "One"}}},
		{ID: 2, Account: "Org-B", Repos: []repoReach{{ID: 20, Owner: "Org-B", Name: "two", Private: true}}},
	}}
	tests := []struct {
		owner, name string
		repo, inst  int64 // 0: not reachable
	}{
		{"org-a", "One", 10, 1},
		{"ORG-A", "one", 10, 1},
		{"org-b", "TWO", 20, 2},
		{"org-a", "two", 0, 0},
		{"org-c", "one", 0, 0},
	}
	for _, tc := range tests {
		rr, in, ok := r.repo(tc.owner, tc.name)
		if ok != (tc.repo != 0) || rr.ID != tc.repo || in.ID != tc.inst {
			t.Errorf("repo(%s, %s) = %d in %d, %v; want %d in %d", tc.owner, tc.name, rr.ID, in.ID, ok, tc.repo, tc.inst)
		}
	}
	var none *reach
	if _, _, ok := none.repo("org-a", "One"); ok {
		t.Errorf("a nil reach reaches a repository")
	}
}

func TestReachCacheExpiryAndBound(t *testing.T) {
	var c reachCache
	now := time.Unix(1_700_000_000, 0)
	a := &reach{}
	c.put(reachKey("u", "t1"), a, now)
	if got, ok := c.get(reachKey("u", "t1"), now.Add(reachTTL-time.Second)); !ok || got != a {
		t.Errorf("fresh entry missed")
	}
	if _, ok := c.get(reachKey("u", "t2"), now); ok {
		t.Errorf("another token hit the cache")
	}
	if _, ok := c.get(reachKey("u", "t1"), now.Add(reachTTL)); ok {
		t.Errorf("an entry served past its TTL")
	}
	if _, ok := c.get(reachKey("u", "t1"), now.Add(-time.Second)); ok {
		t.Errorf("an entry served with the clock set back")
	}
	for i := 0; i < reachCacheMax+50; i++ {
		c.put(reachKey("u", fmt.Sprint(i)), a, now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(c.entries); n > reachCacheMax {
		t.Errorf("cache holds %d entries, bound %d", n, reachCacheMax)
	}
	last := now.Add(time.Duration(reachCacheMax+49) * time.Millisecond)
	if _, ok := c.get(reachKey("u", fmt.Sprint(reachCacheMax+49)), last); !ok {
		t.Errorf("the newest entry was evicted")
	}
	if _, ok := c.get(reachKey("u", "0"), last); ok {
		t.Errorf("the oldest entry survived a full cache")
	}
}

// TestReachFromGitHub: reach pages through GitHub (per_page 100) and
// reports a failing GitHub as errGitHubUnreachable.
func TestReachFromGitHub(t *testing.T) {
	s := newGHSite(t, ghfake.Options{})
	ctx := context.Background()
	tok := s.gh.UserToken("user-0")
	r, err := s.ui.reach(ctx, "user-0", tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Installations) != 1 || len(r.Installations[0].Repos) != 2 {
		t.Fatalf("reach of user-0: %+v, want one installation with two repositories", r)
	}
	rr, in, ok := r.repo("org-0", "repo-1")
	if !ok || in.Account != "org-0" || rr.ID == 0 || !rr.Permissions["pull"] {
		t.Errorf("org-0/repo-1: %+v in %+v, %v", rr, in, ok)
	}
	// Past a page of 100 repositories: every page is read.
	for i := 0; i < 100; i++ {
		if _, _, err := s.gh.CreateRepo(ctx, "org-0", fmt.Sprintf("more-%d", i), i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	s.gh.ResetStats()
	r, err = s.ui.reach(ctx, "user-0", s.gh.UserToken("user-0"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.Installations[0].Repos); n != 102 {
		t.Errorf("reach after adding 100 repositories: %d, want 102", n)
	}
	if rr, _, ok := r.repo("org-0", "more-98"); !ok || !rr.Private {
		t.Errorf("org-0/more-98 (private, on the second page): %+v, %v", rr, ok)
	}
	if got := routeRequests(s.gh, "GET /user/installations/{id}/repositories"); got != 2 {
		t.Errorf("%d pages of repositories read, want 2", got)
	}
	s.gh.FailNext(1, 502)
	if _, err := s.ui.reach(ctx, "user-0", s.gh.UserToken("user-0")); !errors.Is(err, errGitHubUnreachable) {
		t.Errorf("GitHub failing: %v, want errGitHubUnreachable", err)
	}
}

// TestReachForgetsLostAssociations: the user's association with a stored
// repository GitHub no longer lists for them (removed as a collaborator,
// gone from the organization) is removed when their reach is read; the
// ones it lists are kept.
func TestReachForgetsLostAssociations(t *testing.T) {
	s := newGHSite(t, ghfake.Options{})
	ctx := context.Background()
	if _, err := s.gh.AddOrganization("lost-org", "user-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.gh.CreateRepo(ctx, "lost-org", "was-mine", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.gh.InstallApp(ctx, "lost-org", nil); err != nil {
		t.Fatal(err)
	}
	lostID, _, _, _ := storeRepo(t, s.gh, "lost-org", "was-mine")
	keptID, _, _, _ := storeRepo(t, s.gh, "org-0", "repo-0")
	var user0 *github.User
	for _, u := range s.gh.World().Users() {
		if u.GetLogin() == "user-0" {
			user0 = u
		}
	}
	if user0 == nil {
		t.Fatal("ghfake has no user-0")
	}
	// As a member event once said, before user-0 lost the repository.
	old := process.Meta{Via: process.ViaWebhook, FetchedAt: s.gh.Now().Add(-time.Hour)}
	if _, err := process.User(ctx, env.DB, user0, old); err != nil {
		t.Fatal(err)
	}
	if err := process.UserRepositoryPermissionLevel(ctx, env.DB, user0.GetID(), lostID, "write", old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ui.reach(ctx, "user-0", s.gh.UserToken("user-0")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		repo int64
		want int
	}{{lostID, 0}, {keptID, 1}} {
		var n int
		if err := env.DB.QueryRow(`SELECT count(*) FROM github_user_repository_association WHERE user_id = $1 AND repo_id = $2`,
			user0.GetID(), c.repo).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.want {
			t.Errorf("associations of user-0 with repository %d: %d, want %d", c.repo, n, c.want)
		}
	}
}
