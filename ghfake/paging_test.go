package ghfake_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

func TestPagingAcrossPages(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 7, ReposPerAccount: 1, PullsPerRepo: 250, IssuesPerRepo: 40}})
	inst := srv.World().Installations()[0]
	gh := installationClient(t, srv, inst.GetID())
	want := srv.World().PullRequests("org-0", "repo-0")
	if len(want) != 250 {
		t.Fatalf("seeded %d pulls, want 250", len(want))
	}

	tests := []struct {
		name      string
		perPage   int
		wantPages int
	}{
		{"per_page 100", 100, 3},
		{"per_page 30 default", 0, 9},
		{"per_page over 100 is capped", 500, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := &github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: tt.perPage}}
			seen := map[int]bool{}
			pages, prev := 0, 1<<30
			for {
				prs, resp, err := gh.PullRequests.List(ctx, "org-0", "repo-0", opt)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if pages == 1 && resp.LastPage != tt.wantPages {
					t.Errorf("LastPage = %d, want %d", resp.LastPage, tt.wantPages)
				}
				for _, pr := range prs {
					if seen[pr.GetNumber()] {
						t.Errorf("#%d twice", pr.GetNumber())
					}
					seen[pr.GetNumber()] = true
					if pr.GetNumber() >= prev {
						t.Errorf("not newest first: #%d after #%d", pr.GetNumber(), prev)
					}
					prev = pr.GetNumber()
					if pr.Additions != nil || pr.ChangedFiles != nil {
						t.Errorf("list shape carries additions/changed_files for #%d", pr.GetNumber())
					}
				}
				if resp.NextPage == 0 {
					break
				}
				opt.Page = resp.NextPage
			}
			if pages != tt.wantPages || len(seen) != 250 {
				t.Errorf("got %d pages and %d pulls, want %d pages and 250", pages, len(seen), tt.wantPages)
			}
		})
	}

	t.Run("Link header as GitHub writes it", func(t *testing.T) {
		tok := srv.InstallationToken(inst.GetID())
		res := rawGet(t, srv, tok, "repos/org-0/repo-0/pulls?state=all&per_page=100&page=2", nil)
		base := fmt.Sprintf("%srepositories/%d/pulls?state=all&per_page=100&", srv.APIURL(), srv.World().Repository("org-0", "repo-0").GetID())
		want := "<" + base + "page=1>; rel=\"prev\", <" + base + "page=3>; rel=\"next\", <" + base + "page=3>; rel=\"last\", <" + base + "page=1>; rel=\"first\""
		if got := res.Header.Get("Link"); got != want {
			t.Errorf("Link\n%s\nwant\n%s", got, want)
		}
		// The Link targets are served.
		next := strings.TrimPrefix(strings.Split(want, ">")[0], "<"+srv.APIURL())
		if c := rawGet(t, srv, tok, strings.Replace(next, "page=1", "page=3", 1), nil).StatusCode; c != 200 {
			t.Errorf("GET of the Link target: %d", c)
		}
	})

	t.Run("issue list holds pulls too", func(t *testing.T) {
		var all []*github.Issue
		opt := &github.IssueListByRepoOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100}}
		for {
			is, resp, err := gh.Issues.ListByRepo(ctx, "org-0", "repo-0", opt)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, is...)
			if resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
		pulls := 0
		for _, is := range all {
			if is.IsPullRequest() {
				pulls++
			}
		}
		if len(all) != 290 || pulls != 250 {
			t.Errorf("issue list: %d items, %d pulls; want 290 and 250", len(all), pulls)
		}
	})
}

func rawGet(t testing.TB, srv *ghfake.Server, token, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.APIURL()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestConditionalRequestsDoNotSpend(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	first := rawGet(t, srv, tok, "repos/org-0/repo-0/issues", nil)
	etag := first.Header.Get("ETag")
	if first.StatusCode != 200 || !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("first GET: %d, ETag %q", first.StatusCode, etag)
	}
	remaining := first.Header.Get("X-RateLimit-Remaining")
	second := rawGet(t, srv, tok, "repos/org-0/repo-0/issues", map[string]string{"If-None-Match": etag})
	if second.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %d, want 304", second.StatusCode)
	}
	if got := second.Header.Get("X-RateLimit-Remaining"); got != remaining {
		t.Errorf("304 spent rate limit: remaining %s, then %s", remaining, got)
	}
	// A change makes the ETag stale.
	if _, _, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "new"}); err != nil {
		t.Fatal(err)
	}
	third := rawGet(t, srv, tok, "repos/org-0/repo-0/issues", map[string]string{"If-None-Match": etag})
	if third.StatusCode != 200 {
		t.Errorf("after a change: %d, want 200", third.StatusCode)
	}

	// go-githubapp's caching client revalidates with If-None-Match by itself.
	srv.ResetStats()
	gh := installationClient(t, srv, srv.World().Installations()[0].GetID())
	for i := 0; i < 3; i++ {
		if _, _, err := gh.Repositories.Get(ctx, "org-0", "repo-0"); err != nil {
			t.Fatal(err)
		}
	}
	st := srv.Stats().ByRoute["GET /repos/{owner}/{repo}"]
	if st.Requests != 3 || st.NotModified != 2 {
		t.Errorf("caching client: %+v, want 3 requests of which 2 were 304", st)
	}
	if got := srv.Stats().Total.Requests; got != 4 { // plus the token
		t.Errorf("total requests %d, want 4 (token + 3 GETs)", got)
	}
}
