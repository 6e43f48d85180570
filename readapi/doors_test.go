package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/webhookdb/webhookdb/internal/ghtoken"
)

// TestDoors is every answer of the read API that is not a 200: who may
// read what, paths and parameters we do not serve, and the headers every
// answer carries. One replica serves all the cases.
func TestDoors(t *testing.T) {
	start := time.Now()
	r := newReplica(t, nil)
	org0 := r.token("org-0")
	member := r.gh.UserToken("user-0") // a member of privorg
	outsider := r.gh.UserToken("outsider")
	message := func(body []byte) string {
		var m struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &m)
		return m.Message
	}

	cases := []struct {
		name, path, token string
		headers           []string
		status            int
		message           string // a part of the JSON message
	}{
		{"no credentials", "/repos/org-0/repo-0", "", nil, 401, "Requires authentication"},
		{"a scheme GitHub does not take", "/repos/org-0/repo-0", "", []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, "Requires authentication"},
		{"a token GitHub refuses", "/repos/org-0/repo-0", "ghs_not-a-token", nil, 401, "Bad credentials"},
		{"a token longer than any GitHub issues", "/repos/org-0/repo-0", "ghs_" + strings.Repeat("a", ghtoken.MaxLen), nil, 401, "Requires authentication"},
		{"a private repository, to an outsider", "/repos/privorg/vault", outsider, nil, 404, "Not Found"},
		{"a private repository, to another installation", "/repos/privorg/vault/labels", org0, nil, 404, "Not Found"},
		{"a private repository by id, to an outsider", "/repositories/" + strconv.FormatInt(r.gh.World().Repository("privorg", "vault").GetID(), 10), outsider, nil, 404, "Not Found"},
		{"a repository that does not exist", "/repos/org-0/nothing", org0, nil, 404, "Not Found"},
		{"a private repository, to a member", "/repos/privorg/vault", member, nil, 200, ""},
		{"a public repository, to an outsider", "/repos/org-0/repo-0", outsider, nil, 200, ""},
		{"a path webhookdb does not serve", "/repos/org-0/repo-0/commits", org0, nil, 404, "webhookdb does not serve /api/v3/repos/org-0/repo-0/commits"},
		{"the API root", "/", org0, nil, 404, "webhookdb does not serve"},
		{"a parameter webhookdb does not take", "/repos/org-0/repo-0/labels?sort=name", org0, nil, 422, `the query parameter "sort"`},
		{"a parameter on a single object", "/repos/org-0/repo-0?per_page=2", org0, nil, 422, `"per_page"`},
		{"a state GitHub does not take", "/repos/org-0/repo-0/milestones?state=bogus", org0, nil, 422, "Validation Failed"},
		{"a page past the end", "/repos/org-0/repo-0/labels?page=99", org0, nil, 200, ""},
		{"a page no database takes", "/repos/org-0/repo-0/labels?page=99999999999", org0, nil, 422, "Validation Failed"},
		{"a label that does not exist", "/repos/org-0/repo-0/labels/nope", org0, nil, 404, "Not Found"},
		{"a label name with spaces, escaped once", "/repos/org-0/repo-0/labels/good%20first%20issue", org0, nil, 200, ""},
		{"a milestone number that is no number", "/repos/org-0/repo-0/milestones/x", org0, nil, 404, "Not Found"},
		{"a user that does not exist", "/users/nobody-here", org0, nil, 404, "Not Found"},
		{"user installations with an installation token", "/user/installations", org0, nil, 403, "Resource not accessible"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := r.get(c.path, c.token, c.headers...)
			if resp.StatusCode != c.status || !strings.Contains(message(body), c.message) {
				t.Fatalf("GET %s: %d %s, want %d with %q", c.path, resp.StatusCode, body, c.status, c.message)
			}
			if resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("GET %s: Content-Type %q", c.path, resp.Header.Get("Content-Type"))
			}
			if c.status >= 400 && !json.Valid(body) {
				t.Errorf("GET %s: the error is not JSON: %s", c.path, body)
			}
		})
	}

	t.Run("only GET and HEAD", func(t *testing.T) {
		for _, method := range []string{http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut} {
			req, _ := http.NewRequest(method, r.srv.URL+Prefix+"/repos/org-0/repo-0/issues", strings.NewReader(`{"title":"x"}`))
			req.Header.Set("Authorization", "Bearer "+org0)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 {
				t.Errorf("%s: %d, want 404", method, resp.StatusCode)
			}
		}
		req, _ := http.NewRequest(http.MethodHead, r.srv.URL+Prefix+"/repos/org-0/repo-0", nil)
		req.Header.Set("Authorization", "token "+org0)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("HEAD: %v %v", resp, err)
		}
		resp.Body.Close()
	})

	t.Run("ETag and 304", func(t *testing.T) {
		resp, body := r.get("/repos/org-0/repo-0/labels", org0)
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || etag == "" {
			t.Fatalf("labels: %d, ETag %q", resp.StatusCode, etag)
		}
		again, _ := r.get("/repos/org-0/repo-0/labels", org0, "If-None-Match", etag)
		if again.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match %s: %d, want 304", etag, again.StatusCode)
		}
		strong := strings.TrimPrefix(etag, "W/")
		if a, _ := r.get("/repos/org-0/repo-0/labels", org0, "If-None-Match", `"other", `+strong); a.StatusCode != 304 {
			t.Errorf("a list of ETags holding ours: %d, want 304", a.StatusCode)
		}
		if a, b := r.get("/repos/org-0/repo-0/labels", org0, "If-None-Match", `W/"other"`); a.StatusCode != 200 || string(b) != string(body) {
			t.Errorf("another ETag: %d, want 200 and the same body", a.StatusCode)
		}
		at, err := time.Parse(time.RFC3339Nano, resp.Header.Get(ReplicatedAtHeader))
		if err != nil || at.Before(start) || at.After(time.Now()) {
			t.Errorf("%s %q: not the time of the backfill (%v)", ReplicatedAtHeader, resp.Header.Get(ReplicatedAtHeader), err)
		}
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used", "X-RateLimit-Resource"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("no %s", h)
			}
		}
	})

	t.Run("Link points at /repositories/{id}, and it is served", func(t *testing.T) {
		resp, _ := r.get("/repos/org-0/repo-0/labels?per_page=1&page=2", org0)
		id := strconv.FormatInt(r.gh.World().Repository("org-0", "repo-0").GetID(), 10)
		next := regexp.MustCompile(`<([^>]+)>; rel="next"`).FindStringSubmatch(resp.Header.Get("Link"))
		if len(next) != 2 || !strings.HasPrefix(next[1], r.srv.URL+Prefix+"/repositories/"+id+"/labels?per_page=1&page=3") {
			t.Fatalf("Link %q", resp.Header.Get("Link"))
		}
		req, _ := http.NewRequest(http.MethodGet, next[1], nil)
		req.Header.Set("Authorization", "Bearer "+org0)
		followed, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer followed.Body.Close()
		var got []*github.Label
		if err := json.NewDecoder(followed.Body).Decode(&got); err != nil || followed.StatusCode != 200 || len(got) != 1 {
			t.Fatalf("following next: %d %v (%d labels)", followed.StatusCode, err, len(got))
		}
		_, byName := r.get("/repos/org-0/repo-0/labels?per_page=1&page=3", org0)
		var want []*github.Label
		_ = json.Unmarshal(byName, &want)
		if len(want) != 1 || want[0].GetID() != got[0].GetID() {
			t.Errorf("page 3 by id is not page 3 by name")
		}
	})

	t.Run("GitHub is asked once per token and repository", func(t *testing.T) {
		tok := r.gh.UserToken("user-1")
		before := r.gh.Stats().ByToken[tok].Requests
		for i := 0; i < 5; i++ {
			if resp, body := r.get("/repos/org-1/repo-0/labels", tok); resp.StatusCode != 200 {
				t.Fatalf("read %d: %d %s", i, resp.StatusCode, body)
			}
		}
		if n := r.gh.Stats().ByToken[tok].Requests - before; n != 1 {
			t.Errorf("5 reads asked GitHub %d times, want 1", n)
		}
		bad := "ghu_refused-token"
		for i := 0; i < 3; i++ {
			r.get("/repos/org-1/repo-0", bad)
		}
		if n := r.gh.Stats().ByToken[bad].Requests; n != 1 {
			t.Errorf("3 reads with a refused token asked GitHub %d times, want 1", n)
		}
	})

	t.Run("a repository GitHub shows that is not replicated", func(t *testing.T) {
		if _, _, err := r.gh.CreateRepo(context.Background(), "org-0", "brand-new", false); err != nil {
			t.Fatal(err)
		}
		resp, body := r.get("/repos/org-0/brand-new", org0)
		if resp.StatusCode != 404 || !strings.Contains(message(body), "has not replicated") {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	})
}

// TestRateLimit: the read API's own limit, in GitHub's shape, so that
// go-github reports a *github.RateLimitError when it is spent.
func TestRateLimit(t *testing.T) {
	r := newReplica(t, func(d *Deps) { d.RateLimit = 3 })
	tok := r.token("org-0") // each call mints a new token
	_, ours := r.clients(tok)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, resp, err := ours.Issues.ListLabels(ctx, "org-0", "repo-0", nil)
		if err != nil {
			t.Fatalf("read %d: %v", i+1, err)
		}
		if resp.Rate.Limit != 3 || resp.Rate.Remaining != 2-i || resp.Rate.Reset.Before(time.Now()) {
			t.Errorf("read %d: rate %+v", i+1, resp.Rate)
		}
	}
	// A fresh client: go-github refuses on its own once it saw 0 left.
	_, fresh := r.clients(tok)
	_, _, err := fresh.Issues.ListLabels(ctx, "org-0", "repo-0", nil)
	var rl *github.RateLimitError
	if !errors.As(err, &rl) || rl.Rate.Remaining != 0 || !strings.Contains(rl.Message, "webhookdb serves 3 reads per hour") {
		t.Fatalf("the 4th read: %v, want a rate limit error", err)
	}
	// Another token has its own budget.
	_, other := r.clients(r.token("org-0"))
	if _, _, err := other.Issues.ListLabels(ctx, "org-0", "repo-0", nil); err != nil {
		t.Errorf("another token: %v", err)
	}
}

// TestGitHubDown: when GitHub cannot say what a token reaches, the read
// API answers 502 and serves nothing.
func TestGitHubDown(t *testing.T) {
	r := newReplica(t, func(d *Deps) { d.V3APIURL = "http://127.0.0.1:1/api/v3" })
	resp, body := r.get("/repos/org-0/repo-0", r.token("org-0"))
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(string(body), "repo-0") {
		t.Fatalf("%d %s, want 502 with nothing of the repository", resp.StatusCode, body)
	}
}
