package ui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
	"github.com/volatiletech/sqlboiler/v4/boil"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/load"
	"github.com/webhookdb/webhookdb/models"
	"github.com/webhookdb/webhookdb/process"
)

// pagesSite is the UI and the load endpoints in front of a ghfake GitHub
// with an organization privorg whose private repository vault has the app
// installed (user-0 is a member), and a user outsider who reaches nothing.
type pagesSite struct {
	gh    *ghfake.Server
	ui    *UI
	srv   *httptest.Server
	instP int64
}

func newPagesSite(t *testing.T) *pagesSite {
	t.Helper()
	ctx := context.Background()
	env.Truncate(t)
	gh, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Seed: 1, Accounts: 1, ReposPerAccount: 1, NoInstall: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	if _, err := gh.AddUser("outsider"); err != nil {
		t.Fatal(err)
	}
	if _, err := gh.AddOrganization("privorg", "user-0"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.CreateRepo(ctx, "privorg", "vault", true); err != nil {
		t.Fatal(err)
	}
	in, _, err := gh.InstallApp(ctx, "privorg", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &pagesSite{gh: gh, instP: in.GetID()}
	var root http.Handler = http.NotFoundHandler()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { root.ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	cfg := gh.GitHubConfig()
	cc, err := githubapp.NewDefaultCachingClientCreator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	s.ui, err = New(Deps{DB: env.DB, GitHubConfig: cfg, PublicURL: s.srv.URL, Now: gh.Now, GitHub: cc,
		SessionKey: strings.Repeat("p", 32), Logger: logger, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.ui.Close)
	ns := env.Namespace + ":" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")
	sched := jobs.NewScheduler(jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: ns, Logger: logger, GitHub: cc})
	loads, err := load.New(load.Deps{DB: env.DB, Scheduler: sched, Sessions: s.ui, V3APIURL: cfg.V3APIURL, GitHub: cc, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	loads.Register(mux, s.ui.Sessions.LoadAndSave)
	s.ui.Register(mux)
	root = mux
	return s
}

// browser is a logged-in user's cookie jar and CSRF token.
type browser struct {
	c    *http.Client
	csrf string
}

// login runs ghfake's OAuth flow as login; redirects are not followed
// afterwards, so tests see the 303s.
func (s *pagesSite) login(t *testing.T, login string) *browser {
	t.Helper()
	s.gh.SetOAuthUser(login)
	jar, _ := cookiejar.New(nil)
	b := &browser{c: &http.Client{Jar: jar}}
	res, err := b.c.Get(s.srv.URL + AuthRoute)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf-token" content="([0-9a-f]+)"`).FindStringSubmatch(string(raw))
	if res.StatusCode != http.StatusOK || m == nil || !strings.Contains(string(raw), login) {
		t.Fatalf("login as %s ended with %d: %s", login, res.StatusCode, raw)
	}
	b.csrf = m[1]
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return b
}

// do sends a request as b; form, when not nil, is the urlencoded body.
func (s *pagesSite) do(t *testing.T, b *browser, method, path string, form url.Values, headers ...string) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(raw)
}

// storeVault stores privorg/vault and two of its labels in the replica,
// as a load would, and returns the repository.
func (s *pagesSite) storeVault(t *testing.T) *github.Repository {
	t.Helper()
	ctx := context.Background()
	c := github.NewClient(nil).WithAuthToken(s.gh.InstallationToken(s.instP))
	c.BaseURL, _ = url.Parse(s.gh.APIURL())
	repo, _, err := c.Repositories.Get(ctx, "privorg", "vault")
	if err != nil {
		t.Fatalf("get privorg/vault from ghfake: %v", err)
	}
	m := process.Meta{Via: process.ViaAPI, FetchedAt: time.Now()}
	if _, err := process.Repository(ctx, env.DB, repo, m); err != nil {
		t.Fatalf("store the repository: %v", err)
	}
	labels := []*github.Label{{ID: github.Int64(901), Name: github.String("bug"), Color: github.String("ff0000")},
		{ID: github.Int64(902), Name: github.String("docs"), Color: github.String("00ff00")}}
	if _, _, err := process.Labels(ctx, env.DB, repo.GetID(), labels, m); err != nil {
		t.Fatalf("store labels: %v", err)
	}
	return repo
}

func TestRepoPageReach(t *testing.T) {
	s := newPagesSite(t)
	tests := []struct {
		user, path string
		code       int
	}{
		{"outsider", "/repos/privorg/vault", http.StatusNotFound},
		{"user-0", "/repos/privorg/nothing", http.StatusNotFound},
		{"user-0", "/repos/nobody/vault", http.StatusNotFound},
		{"user-0", "/repos/privorg/vault", http.StatusOK},
		{"user-0", "/repos/PrivOrg/Vault", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.user+tc.path, func(t *testing.T) {
			b := s.login(t, tc.user)
			code, _, body := s.do(t, b, http.MethodGet, tc.path, nil)
			if code != tc.code {
				t.Fatalf("%d, want %d: %s", code, tc.code, body)
			}
			if tc.code == http.StatusNotFound && (!strings.Contains(body, "Not found") || strings.Contains(body, "vault</h1>")) {
				t.Errorf("404 page tells something: %s", body)
			}
		})
	}
	// Anonymous: through login, not the page.
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(s.srv.URL + "/repos/privorg/vault")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != AuthRoute {
		t.Errorf("anonymous: %d to %q, want 302 to the login", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestRepoPage(t *testing.T) {
	s := newPagesSite(t)
	b := s.login(t, "user-0")
	everything := `action="/load/repos/privorg/vault?children=true"`

	// Not in the replica yet: shown from GitHub's answer.
	code, _, body := s.do(t, b, http.MethodGet, "/repos/privorg/vault", nil)
	if code != http.StatusOK || !strings.Contains(body, "not loaded yet") || !strings.Contains(body, everything) {
		t.Fatalf("page of a repository not loaded: %d %s", code, body)
	}

	repo := s.storeVault(t)
	if _, err := env.DB.Exec(`INSERT INTO webhook_delivery (delivery_id, event, action, installation_id, repo_id, received_at, status, error)
		VALUES ('d-vault-1', 'issues', 'opened', $1, $2, now(), 'failed', 'boom in the handler')`, s.instP, repo.GetID()); err != nil {
		t.Fatal(err)
	}
	code, _, body = s.do(t, b, http.MethodGet, "/repos/privorg/vault", nil)
	if code != http.StatusOK || strings.Contains(body, "not loaded yet") {
		t.Fatalf("page of a loaded repository: %d %s", code, body)
	}
	for _, c := range []struct{ name, path, button string }{
		{"pull requests", "/pulls", "Load pull requests"},
		{"issues", "/issues", "Load issues"},
		{"comments", "/issues/comments", "Load comments"},
		{"labels", "/labels", "Load labels"},
		{"milestones", "/milestones", "Load milestones"},
		{"everything", "?children=true", "Load everything"},
	} {
		form := regexp.MustCompile(`<form method="post" action="/load/repos/privorg/vault` + regexp.QuoteMeta(c.path) +
			`" data-background[^>]*>\s*<input type="hidden" name="csrf_token" value="` + b.csrf + `">\s*<button type="submit">` + c.button + `</button>`)
		if !form.MatchString(body) {
			t.Errorf("no load form for %s with the CSRF token", c.name)
		}
	}
	if !regexp.MustCompile(`<th scope="row">labels</th>\s*<td[^>]*>2</td>\s*<td[^>]*>never</td>`).MatchString(body) {
		t.Errorf("labels row does not say 2, never scanned: %s", body)
	}
	if !regexp.MustCompile(`<th scope="row">pull requests</th>\s*<td[^>]*>0</td>`).MatchString(body) {
		t.Errorf("pull requests row does not say 0")
	}
	if !strings.Contains(body, "boom in the handler") || !strings.Contains(body, "<td data-label=\"Event\">issues</td>") {
		t.Errorf("the repository's delivery is not listed")
	}

	// A load button without JavaScript: 303 back here with the scan.
	code, h, _ := s.do(t, b, http.MethodPost, "/load/repos/privorg/vault/pulls", url.Values{"csrf_token": {b.csrf}},
		"Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	m := regexp.MustCompile(`^/repos/privorg/vault\?scan=([0-9]+)$`).FindStringSubmatch(h.Get("Location"))
	if code != http.StatusSeeOther || m == nil {
		t.Fatalf("form post: %d to %q, want 303 to the page", code, h.Get("Location"))
	}
	n, err := models.Scans(models.ScanWhere.ID.EQ(mustInt(t, m[1])), models.ScanWhere.Kind.EQ(jobs.CollectionPullRequests)).Count(context.Background(), env.DB)
	if err != nil || n != 1 {
		t.Fatalf("scan %s of pull requests: %d rows (%v)", m[1], n, err)
	}
	code, _, body = s.do(t, b, http.MethodGet, h.Get("Location"), nil)
	if code != http.StatusOK || !strings.Contains(body, "Load queued as scan "+m[1]) ||
		!regexp.MustCompile(`data-scan-id="`+m[1]+`"[^>]*aria-live="polite"`).MatchString(body) || !strings.Contains(body, "<progress") {
		t.Fatalf("page after the load does not show scan %s running: %s", m[1], body)
	}
	// A failed scan shows its reason, not the stored text.
	if _, err := env.DB.Exec(`UPDATE scan SET status = 'failed', error = 'GET https://x/secret: GitHub answered 502', finished_at = now() WHERE id = $1`, m[1]); err != nil {
		t.Fatal(err)
	}
	_, _, body = s.do(t, b, http.MethodGet, "/repos/privorg/vault", nil)
	if !strings.Contains(body, "Failed: GitHub failed") || strings.Contains(body, "secret") || strings.Contains(body, `data-scan-id="`+m[1]+`"`) {
		t.Errorf("failed scan not shown as failed (or still polled): %s", body)
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// insertDelivery stores a webhook_delivery row.
func insertDelivery(t *testing.T, d models.WebhookDelivery) {
	t.Helper()
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = time.Now()
	}
	if err := d.Insert(context.Background(), env.DB, boil.Infer()); err != nil {
		t.Fatalf("insert delivery %s: %v", d.DeliveryID, err)
	}
}
