package ui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/volatiletech/null/v8"
	"github.com/volatiletech/sqlboiler/v4/boil"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// getStatus is GET path's status and body.
func (s *ghSite) getStatus(t *testing.T, path string) (int, string) {
	t.Helper()
	res, err := s.client.Get(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// routeRequests is how many requests ghfake served on route.
func routeRequests(gh *ghfake.Server, route string) int {
	return gh.Stats().ByRoute[route].Requests
}

// withAppClient gives the site's UI the app's client creator, as the app
// does, so the UI can ask GitHub for the app's slug.
func withAppClient(t *testing.T, s *ghSite) {
	t.Helper()
	cc, err := githubapp.NewDefaultCachingClientCreator(s.gh.GitHubConfig())
	if err != nil {
		t.Fatal(err)
	}
	s.ui.deps.GitHub = cc
}

func TestAnonymousHome(t *testing.T) {
	tests := []struct {
		name      string
		slug      string // Deps.AppSlug
		appClient bool
		wantSlug  string // "" : no install link
		appCalls  int    // GET /app after two pages
	}{
		{"slug asked of GitHub once", "", true, "webhookdb", 1},
		{"slug configured", "my-app", true, "my-app", 0},
		{"no app client", "", false, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newGHSite(t, ghfake.Options{})
			s.ui.deps.AppSlug = tc.slug
			if tc.appClient {
				withAppClient(t, s)
			}
			for i := 0; i < 2; i++ {
				code, page := s.getStatus(t, "/")
				if code != http.StatusOK {
					t.Fatalf("GET /: %d", code)
				}
				if !strings.Contains(page, `href="`+AuthRoute+`">Sign in with GitHub</a>`) {
					t.Errorf("no sign-in link: %s", page)
				}
				if !strings.Contains(page, "PostgreSQL") {
					t.Errorf("the page does not say what webhookdb is")
				}
				install := s.gh.URL() + "/apps/" + tc.wantSlug + "/installations/new"
				has := strings.Contains(page, `href="`+install+`">Install the app on an organization</a>`)
				if has != (tc.wantSlug != "") {
					t.Errorf("install link %s: %v, want %v", install, has, tc.wantSlug != "")
				}
			}
			if got := routeRequests(s.gh, "GET /app"); got != tc.appCalls {
				t.Errorf("GET /app asked %d times, want %d", got, tc.appCalls)
			}
		})
	}
}

// storeRepo stores owner/repo with its pull requests, issues and their
// comments from ghfake's world, through process as replication does.
func storeRepo(t *testing.T, gh *ghfake.Server, owner, name string) (repoID int64, pulls, issues, comments int) {
	t.Helper()
	ctx := context.Background()
	w := gh.World()
	m := process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()}
	repo := w.Repository(owner, name)
	if repo == nil {
		t.Fatalf("ghfake has no %s/%s", owner, name)
	}
	if _, err := process.Repository(ctx, env.DB, repo, m); err != nil {
		t.Fatal(err)
	}
	prs := w.PullRequests(owner, name)
	if _, _, err := process.PullRequests(ctx, env.DB, prs, m); err != nil {
		t.Fatal(err)
	}
	iss := w.Issues(owner, name)
	if _, _, err := process.Issues(ctx, env.DB, repo.GetID(), iss, m); err != nil {
		t.Fatal(err)
	}
	for _, is := range iss {
		cs := w.IssueComments(owner, name, is.GetNumber())
		if _, _, err := process.IssueComments(ctx, env.DB, repo.GetID(), is.GetNumber(), cs, m); err != nil {
			t.Fatal(err)
		}
		comments += len(cs)
	}
	return repo.GetID(), len(prs), len(iss), comments
}

// secretOrg adds an organization only user-1 belongs to, with a private
// repository, installs the app there and stores the repository: user-0
// cannot reach it.
func secretOrg(t *testing.T, gh *ghfake.Server) {
	t.Helper()
	ctx := context.Background()
	if _, err := gh.AddOrganization("secret-org", "user-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.CreateRepo(ctx, "secret-org", "hidden", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.InstallApp(ctx, "secret-org", nil); err != nil {
		t.Fatal(err)
	}
	storeRepo(t, gh, "secret-org", "hidden")
}

func repoRow(page, owner, name string) string {
	start := strings.Index(page, `<a href="/repos/`+owner+`/`+name+`">`)
	if start < 0 {
		return ""
	}
	end := strings.Index(page[start:], "</tr>")
	if end < 0 {
		return page[start:]
	}
	return page[start : start+end]
}

func TestLoggedInHome(t *testing.T) {
	s := newGHSite(t, ghfake.Options{})
	secretOrg(t, s.gh)
	repoID, pulls, issues, comments := storeRepo(t, s.gh, "org-0", "repo-0")
	if pulls == 0 || issues == 0 || comments == 0 {
		t.Fatalf("the seeded repository is empty: %d pulls, %d issues, %d comments", pulls, issues, comments)
	}
	// Remove what another test may have stored of repo-1: it is "not loaded".
	if _, err := models.GithubRepositories(models.GithubRepositoryWhere.FullName.EQ("org-0/repo-1")).DeleteAll(context.Background(), env.DB); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	received := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	d := &models.WebhookDelivery{DeliveryID: fmt.Sprintf("home-test-%d", time.Now().UnixNano()), Event: "issues",
		RepoID: null.Int64From(repoID), ReceivedAt: received, Status: "processed"}
	if err := d.Insert(ctx, env.DB, boil.Infer()); err != nil {
		t.Fatal(err)
	}
	sc := &models.Scan{Kind: "pulls", ScanKey: fmt.Sprintf("home-test-%d", time.Now().UnixNano()), Owner: null.StringFrom("org-0"),
		Repo: null.StringFrom("repo-0"), RepoID: null.Int64From(repoID), Params: []byte("{}"), Status: "running",
		PagesTotal: null.IntFrom(4), PagesDone: 1}
	if err := sc.Insert(ctx, env.DB, boil.Infer()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sc.Delete(context.Background(), env.DB) //nolint:errcheck // best effort
		d.Delete(context.Background(), env.DB)  //nolint:errcheck // best effort
	})

	s.login(t)
	code, page := s.getStatus(t, "/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d %s", code, page)
	}
	row := repoRow(page, "org-0", "repo-0")
	if row == "" {
		t.Fatalf("org-0/repo-0 not listed: %s", page)
	}
	for label, n := range map[string]int{"Pull requests": pulls, "Issues": issues, "Comments": comments} {
		if want := fmt.Sprintf(`data-label="%s">%d</td>`, label, n); !strings.Contains(row, want) {
			t.Errorf("row of repo-0 lacks %s: %s", want, row)
		}
	}
	if !strings.Contains(row, `<time datetime="`+received.Format(time.RFC3339)+`">3 hours ago</time>`) {
		t.Errorf("row of repo-0 lacks the last webhook (%s): %s", received.Format(time.RFC3339), row)
	}
	if want := fmt.Sprintf(`<progress value="1" max="4" data-scan-id="%d"`, sc.ID); !strings.Contains(row, want) {
		t.Errorf("row of repo-0 lacks %s: %s", want, row)
	}
	if r1 := repoRow(page, "org-0", "repo-1"); !strings.Contains(r1, "not loaded yet") {
		t.Errorf("org-0/repo-1 is not listed as not loaded yet: %q", r1)
	}
	if strings.Contains(page, "secret-org") || strings.Contains(page, "/repos/secret-org/hidden") {
		t.Errorf("the page lists a repository user-0 cannot reach: %s", page)
	}
	// What GitHub said is kept as the user's association with repo-0.
	var canPull, canPush bool
	if err := env.DB.QueryRow(`SELECT a.can_pull, a.can_push FROM github_user_repository_association a
		JOIN github_user u ON u.id = a.user_id WHERE u.login = 'user-0' AND a.repo_id = $1`, repoID).Scan(&canPull, &canPush); err != nil {
		t.Fatalf("association of user-0 with repo-0: %v", err)
	}
	if !canPull || !canPush {
		t.Errorf("association of user-0 (an org member) with repo-0: pull %v push %v, want both", canPull, canPush)
	}

	// user-1, a member of secret-org, does see it.
	jar, _ := cookiejar.New(nil)
	s.client = &http.Client{Jar: jar}
	s.gh.SetOAuthUser("user-1")
	if code, page := s.getStatus(t, AuthRoute); code != http.StatusOK || repoRow(page, "secret-org", "hidden") == "" {
		t.Errorf("user-1's home: %d, secret-org/hidden not listed: %s", code, page)
	}
}

func TestReachCached(t *testing.T) {
	s := newGHSite(t, ghfake.Options{})
	s.login(t) // the login's redirect home asked GitHub
	s.gh.ResetStats()
	const route = "GET /user/installations"
	for i := 0; i < 3; i++ {
		if code, _ := s.getStatus(t, "/"); code != http.StatusOK {
			t.Fatalf("GET /: %d", code)
		}
	}
	if got := routeRequests(s.gh, route); got != 0 {
		t.Errorf("within the cache's time: %d requests to %s, want 0", got, route)
	}
	s.gh.Advance(reachTTL + time.Second)
	for i := 0; i < 3; i++ {
		if code, _ := s.getStatus(t, "/"); code != http.StatusOK {
			t.Fatalf("GET /: %d", code)
		}
	}
	if got := routeRequests(s.gh, route); got != 1 {
		t.Errorf("after the cache expired: %d requests to %s, want 1", got, route)
	}
}

var repoLink = regexp.MustCompile(`<a href="/repos/[^"]+">`)

func TestHomeGitHubFailing(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"server error", http.StatusInternalServerError},
		{"token refused", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newGHSite(t, ghfake.Options{})
			s.login(t)
			// Past the cache: what GitHub said before must not show.
			s.gh.Advance(reachTTL + time.Second)
			s.gh.FailNext(1, tc.status)
			code, page := s.getStatus(t, "/")
			if code != http.StatusBadGateway || !strings.Contains(page, "GitHub could not be reached") {
				t.Errorf("GET / with GitHub failing: %d %s", code, page)
			}
			if repoLink.MatchString(page) {
				t.Errorf("the error page lists repositories: %s", page)
			}
			if !strings.Contains(page, "<strong>user-0</strong>") || !logoutForm.MatchString(page) {
				t.Errorf("the error page lost the header (user, log-out): %s", page)
			}
			// The failure is not cached: GitHub answering again, the page works.
			if code, page := s.getStatus(t, "/"); code != http.StatusOK || !repoLink.MatchString(page) {
				t.Errorf("GET / after GitHub recovered: %d %s", code, page)
			}
		})
	}
}
