package ghfake_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/palantir/go-githubapp/oauth2"

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

func TestTokens(t *testing.T) {
	srv := start(t, ghfake.Options{TokenTTL: time.Hour, Seed: &ghfake.SeedOptions{Seed: 1}})
	id := srv.World().Installations()[0].GetID()
	tests := []struct {
		name   string
		change func(tok string)
		want   int
	}{
		{"fresh", func(string) {}, 200},
		{"ExpireTokens", func(string) { srv.ExpireTokens() }, 401},
		{"clock past the TTL", func(string) { srv.Advance(61 * time.Minute) }, 401},
		{"unknown token", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := srv.InstallationToken(id)
			if tt.change == nil {
				tok = "ghs_nonsense"
			} else {
				tt.change(tok)
			}
			_, _, err := tokenClient(t, srv, tok).Repositories.Get(ctx, "org-0", "repo-0")
			got := 200
			var er *github.ErrorResponse
			if errors.As(err, &er) {
				got = er.Response.StatusCode
				if got == 401 && er.Message != "Bad credentials" {
					t.Errorf("message %q", er.Message)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}

	t.Run("access token endpoint through ghinstallation", func(t *testing.T) {
		app := appClient(t, srv)
		it, _, err := app.Apps.CreateInstallationToken(ctx, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(it.GetToken(), "ghs_") || !it.GetExpiresAt().After(srv.Now()) {
			t.Errorf("token %q expires %v", it.GetToken(), it.GetExpiresAt())
		}
		if _, _, err := app.Apps.CreateInstallationToken(ctx, 999999, nil); !isStatus(err, 404) {
			t.Errorf("token for a missing installation: %v, want 404", err)
		}
	})
}

func isStatus(err error, code int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response.StatusCode == code
}

func TestInstallationScoping(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 3, Accounts: 2, ReposPerAccount: 3}})
	ins := srv.World().Installations()
	if len(ins) != 2 {
		t.Fatalf("%d installations, want 2", len(ins))
	}
	// A third organization installs on one repository only.
	if _, err := srv.AddOrganization("solo", "user-0"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if _, _, err := srv.CreateRepo(ctx, "solo", n, false); err != nil {
			t.Fatal(err)
		}
	}
	solo, _, err := srv.InstallApp(ctx, "solo", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		inst        int64
		owner, repo string
		want        int
	}{
		{ins[0].GetID(), "org-0", "repo-2", 200},
		{ins[0].GetID(), "org-1", "repo-0", 404},
		{ins[1].GetID(), "org-1", "repo-0", 200},
		{ins[1].GetID(), "org-0", "repo-0", 404},
		{solo.GetID(), "solo", "a", 200},
		{solo.GetID(), "solo", "b", 404},
		{ins[0].GetID(), "org-0", "no-such-repo", 404},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s/%s", tt.inst, tt.owner, tt.repo), func(t *testing.T) {
			gh := installationClient(t, srv, tt.inst)
			_, _, err := gh.PullRequests.List(ctx, tt.owner, tt.repo, nil)
			if tt.want == 200 && err != nil {
				t.Fatal(err)
			}
			if tt.want == 404 && !isStatus(err, 404) {
				t.Fatalf("got %v, want 404", err)
			}
		})
	}
	t.Run("installation repositories", func(t *testing.T) {
		gh := installationClient(t, srv, solo.GetID())
		rs, _, err := gh.Apps.ListRepos(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rs.GetTotalCount() != 1 || rs.Repositories[0].GetFullName() != "solo/a" {
			t.Errorf("repositories %+v", rs)
		}
	})
	t.Run("app finds installations by repo, org and user", func(t *testing.T) {
		app := appClient(t, srv)
		if in, _, err := app.Apps.FindRepositoryInstallation(ctx, "solo", "a"); err != nil || in.GetID() != solo.GetID() {
			t.Errorf("by repo: %v %v", in.GetID(), err)
		}
		if _, _, err := app.Apps.FindRepositoryInstallation(ctx, "solo", "b"); !isStatus(err, 404) {
			t.Errorf("uncovered repo: %v", err)
		}
		if in, _, err := app.Apps.FindOrganizationInstallation(ctx, "org-1"); err != nil || in.GetID() != ins[1].GetID() {
			t.Errorf("by org: %v %v", in.GetID(), err)
		}
		list, _, err := app.Apps.ListInstallations(ctx, nil)
		if err != nil || len(list) != 3 {
			t.Errorf("list: %d %v", len(list), err)
		}
	})
}

func TestRateLimitErrors(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
	id := srv.World().Installations()[0].GetID()

	t.Run("primary", func(t *testing.T) {
		tok := srv.InstallationToken(id)
		gh := tokenClient(t, srv, tok)
		_, resp, err := gh.Repositories.Get(ctx, "org-0", "repo-0")
		if err != nil || resp.Rate.Limit != 5000 || resp.Rate.Remaining != 4999 {
			t.Fatalf("first request: %v %+v", err, resp.Rate)
		}
		srv.SpendRateLimit(tok)
		_, _, err = tokenClient(t, srv, tok).Repositories.Get(ctx, "org-0", "repo-0")
		var rle *github.RateLimitError
		if !errors.As(err, &rle) {
			t.Fatalf("got %T %v, want *github.RateLimitError", err, err)
		}
		if rle.Rate.Remaining != 0 || !strings.Contains(rle.Message, fmt.Sprintf("installation ID %d", id)) {
			t.Errorf("rate %+v message %q", rle.Rate, rle.Message)
		}
		// The budget is the installation's: a new token is limited too.
		_, _, err = tokenClient(t, srv, srv.InstallationToken(id)).Repositories.Get(ctx, "org-0", "repo-0")
		if !errors.As(err, &rle) {
			t.Errorf("new token of the same installation: %v", err)
		}
		srv.ResetRateLimits()
		if _, _, err := tokenClient(t, srv, tok).Repositories.Get(ctx, "org-0", "repo-0"); err != nil {
			t.Errorf("after reset: %v", err)
		}
		if got := srv.Stats().ByInstallation[id].RateLimited; got != 2 {
			t.Errorf("rate limited count %d, want 2", got)
		}
	})

	t.Run("configured budget", func(t *testing.T) {
		srv.ResetRateLimits()
		srv.SetRateLimit(2)
		defer srv.SetRateLimit(5000)
		gh := tokenClient(t, srv, srv.InstallationToken(id))
		var errs []error
		for i := 0; i < 3; i++ {
			_, _, err := gh.Issues.ListByRepo(ctx, "org-0", "repo-0", nil)
			errs = append(errs, err)
		}
		var rle *github.RateLimitError
		if errs[0] != nil || errs[1] != nil || !errors.As(errs[2], &rle) {
			t.Errorf("errors %v, want nil, nil, RateLimitError", errs)
		}
		srv.ResetRateLimits()
	})

	t.Run("secondary", func(t *testing.T) {
		srv.SetSecondaryLimit(ghfake.SecondaryLimit{RetryAfter: 42 * time.Second})
		srv.TriggerSecondaryLimit(1)
		_, _, err := tokenClient(t, srv, srv.InstallationToken(id)).Repositories.Get(ctx, "org-0", "repo-0")
		var ae *github.AbuseRateLimitError
		if !errors.As(err, &ae) {
			t.Fatalf("got %T %v, want *github.AbuseRateLimitError", err, err)
		}
		if ae.RetryAfter == nil || *ae.RetryAfter != 42*time.Second {
			t.Errorf("RetryAfter %v", ae.RetryAfter)
		}
	})

	t.Run("secondary points per minute", func(t *testing.T) {
		srv.ResetRateLimits()
		srv.SetSecondaryLimit(ghfake.SecondaryLimit{PointsPerMinute: 2})
		defer srv.SetSecondaryLimit(ghfake.SecondaryLimit{})
		tok := srv.InstallationToken(id)
		var codes []int
		for i := 0; i < 3; i++ {
			codes = append(codes, rawGet(t, srv, tok, "repos/org-0/repo-0/labels", nil).StatusCode)
		}
		if fmt.Sprint(codes) != "[200 200 403]" {
			t.Errorf("codes %v, want [200 200 403]", codes)
		}
		srv.Advance(time.Minute)
		if c := rawGet(t, srv, tok, "repos/org-0/repo-0/labels", nil).StatusCode; c != 200 {
			t.Errorf("after a minute: %d", c)
		}
	})
}

func TestFaults(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1}})
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	srv.FailNext(2, 502)
	codes := []int{}
	for i := 0; i < 3; i++ {
		codes = append(codes, rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode)
	}
	if fmt.Sprint(codes) != "[502 502 200]" {
		t.Errorf("codes %v", codes)
	}
	srv.SetFailureRate(1)
	if c := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; c != 500 && c != 502 {
		t.Errorf("failure rate 1: %d", c)
	}
	srv.SetFailureRate(0)

	// A hung request answers nothing until its client gives up.
	srv.HangNext(1)
	hctx, cancel := context.WithCancel(ctx)
	answered := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(hctx, "GET", srv.APIURL()+"repos/org-0/repo-0", nil)
		req.Header.Set("Authorization", "token "+tok)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		answered <- err
	}()
	if err := srv.WaitHung(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-answered:
		t.Fatalf("the hung request was answered: %v", err)
	default:
	}
	cancel()
	if err := <-answered; err == nil {
		t.Error("the hung request got an answer")
	}
	if c := rawGet(t, srv, tok, "repos/org-0/repo-0", nil).StatusCode; c != 200 {
		t.Errorf("after the hang: %d", c)
	}
}

func TestAppJWT(t *testing.T) {
	srv := start(t, ghfake.Options{AppID: 77, Seed: &ghfake.SeedOptions{Seed: 1}})
	app, _, err := appClient(t, srv).Apps.Get(ctx, "")
	if err != nil || app.GetID() != 77 {
		t.Fatalf("GET /app: %v %v", app.GetID(), err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now()
	sign := func(key *rsa.PrivateKey, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	appKey, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(srv.PrivateKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		jwt  string
		want int
	}{
		{"valid", sign(appKey, jwt.MapClaims{"iss": "77", "iat": now.Unix() - 30, "exp": now.Unix() + 300}), 200},
		{"numeric iss", sign(appKey, jwt.MapClaims{"iss": 77, "iat": now.Unix() - 30, "exp": now.Unix() + 300}), 200},
		{"other key", sign(other, jwt.MapClaims{"iss": "77", "iat": now.Unix() - 30, "exp": now.Unix() + 300}), 401},
		{"wrong app", sign(appKey, jwt.MapClaims{"iss": "78", "iat": now.Unix() - 30, "exp": now.Unix() + 300}), 401},
		{"expired", sign(appKey, jwt.MapClaims{"iss": "77", "iat": now.Unix() - 700, "exp": now.Unix() - 100}), 401},
		{"longer than 10 minutes", sign(appKey, jwt.MapClaims{"iss": "77", "iat": now.Unix(), "exp": now.Unix() + 1200}), 401},
		{"garbage", "a.b.c", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.APIURL()+"app/installations", nil)
			req.Header.Set("Authorization", "Bearer "+tt.jwt)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("status %d (%s), want %d", res.StatusCode, body, tt.want)
			}
		})
	}
	t.Run("go-githubapp app client", func(t *testing.T) {
		cc, err := githubapp.NewDefaultCachingClientCreator(srv.GitHubConfig())
		if err != nil {
			t.Fatal(err)
		}
		gh, err := cc.NewAppClient()
		if err != nil {
			t.Fatal(err)
		}
		ins, _, err := gh.Apps.ListInstallations(ctx, nil)
		if err != nil || len(ins) != 1 || ins[0].GetAppID() != 77 {
			t.Errorf("installations %v %v", len(ins), err)
		}
	})
	t.Run("installation token on an app route", func(t *testing.T) {
		tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
		if c := rawGet(t, srv, tok, "app/installations", nil).StatusCode; c != 401 {
			t.Errorf("status %d, want 401", c)
		}
	})
}

// loginStore keeps the OAuth state in a cookie, enough for the test.
type loginStore struct{}

func (loginStore) GenerateState(w http.ResponseWriter, r *http.Request) (string, error) {
	http.SetCookie(w, &http.Cookie{Name: "state", Value: "s-123", Path: "/"})
	return "s-123", nil
}

func (loginStore) VerifyState(r *http.Request, expected string) (bool, error) {
	c, err := r.Cookie("state")
	return err == nil && c.Value == expected, nil
}

func TestOAuthLoginThroughGoGitHubApp(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1, Accounts: 2}})
	srv.SetOAuthUser("user-2")
	loggedIn := make(chan string, 1)
	h := oauth2.NewHandler(oauth2.GetConfig(srv.GitHubConfig(), nil),
		oauth2.WithStore(loginStore{}),
		oauth2.OnLogin(func(w http.ResponseWriter, r *http.Request, login *oauth2.Login) {
			gh, err := github.NewClient(login.Client).WithEnterpriseURLs(srv.APIURL(), srv.APIURL())
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			u, _, err := gh.Users.Get(r.Context(), "")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			ins, _, err := gh.Apps.ListUserInstallations(r.Context(), nil)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			repos, _, err := gh.Apps.ListUserRepos(r.Context(), ins[0].GetID(), nil)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			loggedIn <- fmt.Sprintf("%s %d %d %v", u.GetLogin(), len(ins), repos.GetTotalCount(), repos.Repositories[0].GetPermissions()["push"])
			_, _ = io.WriteString(w, "welcome")
		}),
		oauth2.OnError(func(w http.ResponseWriter, r *http.Request, err error) { http.Error(w, err.Error(), 500) }),
	)
	web := httptest.NewServer(h)
	defer web.Close()
	jar, _ := cookiejar.New(nil)
	res, err := (&http.Client{Jar: jar}).Get(web.URL + "/api/github/auth")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "welcome" {
		t.Fatalf("login answered %d %s", res.StatusCode, body)
	}
	if got := <-loggedIn; got != "user-2 2 2 true" {
		t.Errorf("logged in as %q, want user-2 seeing 2 installations, 2 repos with push", got)
	}
}

func TestOAuthTokenExchangeRejectsBadCode(t *testing.T) {
	srv := start(t, ghfake.Options{})
	form := strings.NewReader("client_id=" + srv.OAuthClientID() + "&client_secret=" + srv.OAuthClientSecret() + "&code=nope")
	req, _ := http.NewRequest("POST", srv.URL()+"/login/oauth/access_token", form)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(res.Body).Decode(&out)
	if out["error"] != "bad_verification_code" {
		t.Errorf("answer %v", out)
	}
}

func TestSingleObjects(t *testing.T) {
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 5, ReposPerAccount: 2}})
	id := srv.World().Installations()[0].GetID()
	gh := installationClient(t, srv, id)

	t.Run("pull: full shape, mergeable null on the first read", func(t *testing.T) {
		want := srv.World().PullRequests("org-0", "repo-0")[0]
		var pr1 *github.PullRequest
		for i := 0; i < 2; i++ {
			pr, _, err := tokenClient(t, srv, srv.InstallationToken(id)).PullRequests.Get(ctx, "org-0", "repo-0", want.GetNumber())
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				pr1 = pr
			}
			if i == 1 && pr.GetState() == "open" && pr.Mergeable == nil {
				t.Errorf("second read still has mergeable null")
			}
		}
		if pr1.Mergeable != nil {
			t.Errorf("first read mergeable = %v, want null", *pr1.Mergeable)
		}
		if pr1.ChangedFiles == nil || pr1.GetChangedFiles() != 3 || pr1.GetAdditions() == 0 {
			t.Errorf("changed_files %v additions %v", pr1.ChangedFiles, pr1.Additions)
		}
		files, _, err := gh.PullRequests.ListFiles(ctx, "org-0", "repo-0", want.GetNumber(), nil)
		if err != nil || len(files) != 3 {
			t.Fatalf("files: %d %v", len(files), err)
		}
		adds := 0
		for _, f := range files {
			adds += f.GetAdditions()
			if f.GetPatch() == "" || f.GetSHA() == "" {
				t.Errorf("file %+v lacks patch or sha", f)
			}
		}
		if adds != pr1.GetAdditions() {
			t.Errorf("file additions %d, pull says %d", adds, pr1.GetAdditions())
		}
	})

	t.Run("deleted issue 410, transferred 301", func(t *testing.T) {
		a, _, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "to delete"})
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := srv.OpenIssue(ctx, "org-0", "repo-0", ghfake.NewIssue{Title: "to move"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.DeleteIssue(ctx, "org-0", "repo-0", a.GetNumber()); err != nil {
			t.Fatal(err)
		}
		moved, _, err := srv.TransferIssue(ctx, "org-0", "repo-0", b.GetNumber(), "org-0", "repo-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := gh.Issues.Get(ctx, "org-0", "repo-0", a.GetNumber()); !isStatus(err, 410) {
			t.Errorf("deleted: %v, want 410", err)
		}
		tok := srv.InstallationToken(id)
		req, _ := http.NewRequest("GET", srv.APIURL()+"repos/org-0/repo-0/issues/"+strconv.Itoa(b.GetNumber()), nil)
		req.Header.Set("Authorization", "token "+tok)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 301 || !strings.HasSuffix(res.Header.Get("Location"), "/repos/org-0/repo-1/issues/"+strconv.Itoa(moved.GetNumber())) {
			t.Errorf("transferred: %d %s", res.StatusCode, res.Header.Get("Location"))
		}
		// go-github follows the redirect to the new issue.
		got, _, err := gh.Issues.Get(ctx, "org-0", "repo-0", b.GetNumber())
		if err != nil || got.GetID() != moved.GetID() {
			t.Errorf("followed: %v %v", got.GetID(), err)
		}
	})

	t.Run("labels, milestones, comments, reviews", func(t *testing.T) {
		labels, _, err := gh.Issues.ListLabels(ctx, "org-0", "repo-0", nil)
		if err != nil || len(labels) != 3 {
			t.Fatalf("labels %d %v", len(labels), err)
		}
		if _, _, err := srv.CreateLabel(ctx, "org-0", "repo-0", ghfake.LabelSpec{Name: "needs review", Color: "fbca04"}); err != nil {
			t.Fatal(err)
		}
		l, _, err := gh.Issues.GetLabel(ctx, "org-0", "repo-0", "needs review")
		if err != nil || l.GetName() != "needs review" || l.GetColor() != "fbca04" {
			t.Errorf("label with spaces: %v %v", l.GetName(), err)
		}
		ms, _, err := gh.Issues.ListMilestones(ctx, "org-0", "repo-0", &github.MilestoneListOptions{State: "all"})
		if err != nil || len(ms) != 1 {
			t.Errorf("milestones %d %v", len(ms), err)
		}
		cs, _, err := gh.Issues.ListComments(ctx, "org-0", "repo-0", 0, nil)
		if err != nil || len(cs) != len(srv.World().IssueComments("org-0", "repo-0", 0)) {
			t.Errorf("repo comments %d %v", len(cs), err)
		}
		n := srv.World().PullRequests("org-0", "repo-0")[0].GetNumber()
		rv, _, err := gh.PullRequests.ListReviews(ctx, "org-0", "repo-0", n, nil)
		if err != nil || len(rv) != 1 {
			t.Errorf("reviews %d %v", len(rv), err)
		}
		rc, _, err := gh.PullRequests.ListComments(ctx, "org-0", "repo-0", 0, nil)
		if err != nil || len(rc) != len(srv.World().ReviewComments("org-0", "repo-0", 0)) {
			t.Errorf("repo review comments %d %v", len(rc), err)
		}
	})
}

func TestDeterministicSeed(t *testing.T) {
	render := func() []byte {
		srv, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 99, PullsPerRepo: 20, IssuesPerRepo: 10}})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		w := srv.World()
		_ = json.NewEncoder(&b).Encode([]any{w.PullRequests("org-0", "repo-1"), w.IssuesAndPulls("org-0", "repo-0"),
			w.PullRequestFiles("org-0", "repo-0", 3), w.IssueComments("org-0", "repo-0", 0)})
		return b.Bytes()
	}
	if a, b := render(), render(); !bytes.Equal(a, b) {
		t.Error("the same seed gave different worlds")
	}
}

func TestSeedHundredThousandPulls(t *testing.T) {
	if testing.Short() {
		t.Skip("large seed")
	}
	srv := start(t, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1, Accounts: 1, ReposPerAccount: 10, PullsPerRepo: 10000,
		IssuesPerRepo: -1, FilesPerPull: 20, CommentsPerIssue: -1, ReviewsPerPull: -1, ReviewCommentsPerPull: -1}})
	if sz := srv.World().Size(); sz.Pulls != 100000 || sz.Files != 2000000 {
		t.Fatalf("size %+v", sz)
	}
	gh := installationClient(t, srv, srv.World().Installations()[0].GetID())
	prs, resp, err := gh.PullRequests.List(ctx, "org-0", "repo-9", &github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100, Page: 100}})
	if err != nil || len(prs) != 100 || resp.NextPage != 0 || prs[99].GetNumber() != 1 {
		t.Fatalf("last page: %d pulls, next %d, %v", len(prs), resp.NextPage, err)
	}
	files, _, err := gh.PullRequests.ListFiles(ctx, "org-0", "repo-9", 5000, &github.ListOptions{PerPage: 100})
	if err != nil || len(files) != 20 {
		t.Fatalf("files %d %v", len(files), err)
	}
}

func BenchmarkSeed100kPulls(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := ghfake.New(ghfake.Options{PrivateKeyPEM: benchKey(b), Seed: &ghfake.SeedOptions{Seed: 1, ReposPerAccount: 10, PullsPerRepo: 10000, IssuesPerRepo: -1}}); err != nil {
			b.Fatal(err)
		}
	}
}

var benchPEM string

func benchKey(b *testing.B) string {
	if benchPEM == "" {
		srv, err := ghfake.New(ghfake.Options{})
		if err != nil {
			b.Fatal(err)
		}
		benchPEM = srv.PrivateKeyPEM()
	}
	return benchPEM
}

func BenchmarkListPullsPage(b *testing.B) {
	srv := start(b, ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1, ReposPerAccount: 1, PullsPerRepo: 5000, IssuesPerRepo: -1}})
	tok := srv.InstallationToken(srv.World().Installations()[0].GetID())
	srv.SetRateLimit(1 << 30)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawGet(b, srv, tok, fmt.Sprintf("repos/org-0/repo-0/pulls?state=all&per_page=100&page=%d", 1+i%50), nil)
	}
}
