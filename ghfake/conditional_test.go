package ghfake_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/ghfake"
)

// GitHub binds an ETag to the token that received it; Last-Modified (the
// newest updated_at) answers If-Modified-Since whoever asks.
func TestConditionalRequestsAcrossTokens(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
	inst := srv.World().Installations()[0].GetID()
	first, second := srv.InstallationToken(inst), srv.InstallationToken(inst)
	if first == second {
		t.Fatal("two tokens minted alike")
	}
	// An issue, not a pull request: a pull request's mergeable is computed
	// on the first GET, which changes its body and so its ETag.
	var issue *github.Issue
	for _, is := range srv.World().Issues("org-0", "repo-0") {
		if !is.IsPullRequest() {
			issue = is
			break
		}
	}
	issuePath := fmt.Sprintf("repos/org-0/repo-0/issues/%d", issue.GetNumber())
	const listPath = "repos/org-0/repo-0/issues?state=all&sort=updated&direction=desc"
	var newest time.Time
	for _, is := range srv.World().Issues("org-0", "repo-0") {
		if u := is.GetUpdatedAt().Time; u.After(newest) {
			newest = u
		}
	}
	for _, p := range srv.World().PullRequests("org-0", "repo-0") {
		if u := p.GetUpdatedAt().Time; u.After(newest) {
			newest = u
		}
	}

	tests := []struct {
		name, path string
		// wantLM is the Last-Modified GitHub sends; zero: none.
		wantLM time.Time
	}{
		{"an issue", issuePath, issue.GetUpdatedAt().Time},
		{"a list: its newest item", listPath, newest},
		{"labels have no updated_at", "repos/org-0/repo-0/labels", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := rawGet(t, srv, first, tt.path, nil)
			etag, lm := full.Header.Get("ETag"), full.Header.Get("Last-Modified")
			if full.StatusCode != 200 || etag == "" {
				t.Fatalf("GET: %d, ETag %q", full.StatusCode, etag)
			}
			if tt.wantLM.IsZero() != (lm == "") {
				t.Fatalf("Last-Modified %q, want one: %v", lm, !tt.wantLM.IsZero())
			}
			if lm != "" && lm != tt.wantLM.UTC().Format(http.TimeFormat) {
				t.Errorf("Last-Modified %q, want %q", lm, tt.wantLM.UTC().Format(http.TimeFormat))
			}
			if other := rawGet(t, srv, second, tt.path, nil).Header.Get("ETag"); other == etag {
				t.Errorf("the same ETag %s for two tokens", etag)
			}
			conds := []struct {
				name      string
				token     string
				hdr       map[string]string
				want      int
				wantSpent bool
			}{
				{"its token's ETag", first, map[string]string{"If-None-Match": etag}, 304, false},
				{"another token's ETag", second, map[string]string{"If-None-Match": etag}, 200, true},
				{"If-Modified-Since, another token", second, map[string]string{"If-Modified-Since": lm}, 304, false},
				{"If-None-Match decides over If-Modified-Since", second, map[string]string{"If-None-Match": etag, "If-Modified-Since": lm}, 200, true},
			}
			for _, c := range conds {
				if _, ok := c.hdr["If-Modified-Since"]; ok && lm == "" {
					c.hdr["If-Modified-Since"] = time.Now().UTC().Format(http.TimeFormat)
					if c.name == "If-Modified-Since, another token" {
						c.want, c.wantSpent = 200, true // nothing to compare with
					}
				}
				before := remaining(t, srv, c.token)
				res := rawGet(t, srv, c.token, tt.path, c.hdr)
				after := remaining(t, srv, c.token)
				if res.StatusCode != c.want || (before != after) != c.wantSpent {
					t.Errorf("%s: %d, rate limit %s then %s; want %d, spent %v", c.name, res.StatusCode, before, after, c.want, c.wantSpent)
				}
			}
		})
	}

	t.Run("a change is modified since", func(t *testing.T) {
		lm := rawGet(t, srv, first, issuePath, nil).Header.Get("Last-Modified")
		srv.Advance(2 * time.Second)
		title := "changed"
		if _, _, err := srv.EditIssue(ctx, "org-0", "repo-0", issue.GetNumber(), ghfake.IssueEdit{Title: &title}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{issuePath, listPath} {
			if res := rawGet(t, srv, second, p, map[string]string{"If-Modified-Since": lm}); res.StatusCode != 200 {
				t.Errorf("%s after a change: %d, want 200", p, res.StatusCode)
			}
		}
	})
}

// remaining reads the token's primary budget (GET /rate_limit is free).
func remaining(t *testing.T, srv *ghfake.Server, token string) string {
	t.Helper()
	return rawGet(t, srv, token, "rate_limit", nil).Header.Get("X-RateLimit-Remaining")
}
