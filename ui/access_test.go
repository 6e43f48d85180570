package ui

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/webhookdb/webhookdb/ghfake"
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
