package load

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"
	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/jobs"
	"github.com/webhookdb/webhookdb/ui"
)

var env testutil.Env

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }

// harness is webhookdb's load endpoints and login in front of a ghfake
// GitHub with two seeded organizations, org-0 and org-1, each with the app
// installed on all its repositories; an organization privorg whose only
// repository, vault, is private, with the app installed and user-0 its
// member; a user of no organization (outsider); and a repository no
// installation covers (loner/solo). Public repositories are readable by
// everyone, so the cases of a user without access use privorg/vault.
type harness struct {
	gh        *ghfake.Server
	srv       *httptest.Server
	handler   *Handler
	pages     *ui.UI
	sched     *jobs.Scheduler
	deps      jobs.Deps
	cc        githubapp.ClientCreator
	namespace string
	inst0     int64 // org-0's installation
	inst1     int64 // org-1's installation
	instP     int64 // privorg's installation
}

type harnessOptions struct {
	seed ghfake.SeedOptions
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	ctx := context.Background()
	env.Truncate(t)
	seed := o.seed
	if seed.Accounts == 0 {
		seed.Accounts = 2
	}
	if seed.ReposPerAccount == 0 {
		seed.ReposPerAccount = 1
	}
	seed.NoInstall = true
	gh, err := ghfake.New(ghfake.Options{Seed: &seed})
	if err != nil {
		t.Fatalf("ghfake: %v", err)
	}
	if err := gh.Start(); err != nil {
		t.Fatalf("ghfake start: %v", err)
	}
	t.Cleanup(gh.Close)
	h := &harness{gh: gh}
	in0, _, err := gh.InstallApp(ctx, "org-0", nil)
	if err != nil {
		t.Fatalf("install on org-0: %v", err)
	}
	in1, _, err := gh.InstallApp(ctx, "org-1", nil)
	if err != nil {
		t.Fatalf("install on org-1: %v", err)
	}
	h.inst0, h.inst1 = in0.GetID(), in1.GetID()
	if _, err := gh.AddUser("outsider"); err != nil {
		t.Fatalf("add user: %v", err)
	}
	if _, err := gh.AddUser("loner"); err != nil {
		t.Fatalf("add user: %v", err)
	}
	if _, _, err := gh.CreateRepo(ctx, "loner", "solo", false); err != nil {
		t.Fatalf("create loner/solo: %v", err)
	}
	if _, err := gh.AddOrganization("privorg", "user-0"); err != nil {
		t.Fatalf("add privorg: %v", err)
	}
	if _, _, err := gh.CreateRepo(ctx, "privorg", "vault", true); err != nil {
		t.Fatalf("create privorg/vault: %v", err)
	}
	inP, _, err := gh.InstallApp(ctx, "privorg", nil)
	if err != nil {
		t.Fatalf("install on privorg: %v", err)
	}
	h.instP = inP.GetID()

	cfg := gh.GitHubConfig()
	h.cc, err = githubapp.NewDefaultCachingClientCreator(cfg)
	if err != nil {
		t.Fatalf("client creator: %v", err)
	}
	// Each test its own Redis namespace (under the package's, which
	// testutil deletes), so "nothing was queued" is exact.
	h.namespace = env.Namespace + ":" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")
	logger := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	h.deps = jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: h.namespace, Logger: logger, GitHub: h.cc}
	h.sched = jobs.NewScheduler(h.deps)

	var root http.Handler = http.NotFoundHandler()
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { root.ServeHTTP(w, r) }))
	t.Cleanup(h.srv.Close)

	h.pages, err = ui.New(ui.Deps{
		DB: env.DB, GitHubConfig: cfg, PublicURL: h.srv.URL,
		SessionKey: strings.Repeat("k", 32), Logger: logger, CleanupInterval: -1,
	})
	if err != nil {
		t.Fatalf("ui: %v", err)
	}
	t.Cleanup(h.pages.Close)
	loadDeps := Deps{
		DB: env.DB, Scheduler: h.sched, Sessions: h.pages,
		V3APIURL: cfg.V3APIURL, GitHub: h.cc, Logger: logger,
	}
	inlineDeps := h.deps
	inlineDeps.GitHub, err = githubapp.NewDefaultCachingClientCreator(cfg, githubapp.WithClientMiddleware(RecordRateLimit))
	if err != nil {
		t.Fatalf("client creator: %v", err)
	}
	loadDeps.Inline = jobs.NewSyncer(inlineDeps)
	h.handler, err = New(loadDeps)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	mux := http.NewServeMux()
	h.handler.Register(mux, h.pages.Sessions.LoadAndSave)
	h.pages.Register(mux)
	root = mux
	return h
}

// answer is one HTTP answer, read whole.
type answer struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends method path with headers (pairs of name, value).
func (h *harness) do(t *testing.T, client *http.Client, method, path string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, nil)
	if err != nil {
		t.Fatalf("request %s %s: %v", method, path, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (h *harness) post(t *testing.T, path, token string) answer {
	t.Helper()
	if token == "" {
		return h.do(t, nil, http.MethodPost, path)
	}
	return h.do(t, nil, http.MethodPost, path, "Authorization", "Bearer "+token)
}

// login runs the OAuth web flow against ghfake as login and returns a
// client holding the session cookie and the session's CSRF token.
func (h *harness) login(t *testing.T, login string) (*http.Client, string) {
	t.Helper()
	h.gh.SetOAuthUser(login)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	a := h.do(t, client, http.MethodGet, ui.AuthRoute)
	if a.code != http.StatusOK {
		t.Fatalf("login flow ended with %d: %s", a.code, a.raw)
	}
	if !strings.Contains(a.raw, login) {
		t.Fatalf("home page after login does not name %s: %s", login, a.raw)
	}
	m := regexp.MustCompile(`name="csrf-token" content="([0-9a-f]+)"`).FindStringSubmatch(a.raw)
	if m == nil {
		t.Fatalf("home page has no CSRF token: %s", a.raw)
	}
	return client, m[1]
}

// scanCount counts scan rows.
func scanCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := env.DB.QueryRow(`SELECT count(*) FROM scan`).Scan(&n); err != nil {
		t.Fatalf("count scans: %v", err)
	}
	return n
}

// redisKeys lists the keys of the harness's job namespace.
func (h *harness) redisKeys(t *testing.T) []string {
	t.Helper()
	conn := env.Redis.Get()
	defer conn.Close()
	keys, err := redis.Strings(conn.Do("KEYS", h.namespace+":*"))
	if err != nil {
		t.Fatalf("redis keys: %v", err)
	}
	return keys
}

// numbers lists the pull request and issue numbers of owner/repo on
// ghfake (the seed interleaves them), and its label names.
func (h *harness) numbers(t *testing.T, owner, repo string, inst int64) (pulls, issues []int, labels []string) {
	t.Helper()
	c := github.NewClient(nil).WithAuthToken(h.gh.InstallationToken(inst))
	base, _ := url.Parse(h.gh.APIURL())
	c.BaseURL = base
	items, _, err := c.Issues.ListByRepo(context.Background(), owner, repo, &github.IssueListByRepoOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		t.Fatalf("list the issues of %s/%s on ghfake: %v", owner, repo, err)
	}
	for _, it := range items {
		if it.IsPullRequest() {
			pulls = append(pulls, it.GetNumber())
		} else {
			issues = append(issues, it.GetNumber())
		}
	}
	ls, _, err := c.Issues.ListLabels(context.Background(), owner, repo, &github.ListOptions{PerPage: 100})
	if err != nil {
		t.Fatalf("list the labels of %s/%s on ghfake: %v", owner, repo, err)
	}
	for _, l := range ls {
		labels = append(labels, l.GetName())
	}
	if len(pulls) == 0 || len(issues) == 0 || len(labels) == 0 {
		t.Fatalf("%s/%s has %d pulls, %d issues and %d labels; the test needs each", owner, repo, len(pulls), len(issues), len(labels))
	}
	return pulls, issues, labels
}
