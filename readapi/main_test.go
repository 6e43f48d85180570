package readapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/ghfake"
	"github.com/webhookdb/webhookdb/internal/testutil"
	"github.com/webhookdb/webhookdb/jobs"
)

var env testutil.Env

func TestMain(m *testing.M) { os.Exit(testutil.Main(m, &env)) }

// replica is ghfake, the replica backfilled from it by the real jobs,
// and the read API serving that replica on a real port.
type replica struct {
	t    testing.TB
	gh   *ghfake.Server
	api  *API
	srv  *httptest.Server
	inst map[string]int64 // installation of each organization
}

// seed is the world every read test starts from: two organizations
// (org-0, org-1) with two repositories each, a private repository
// (privorg/vault) that only user-0 sees, and "outsider", a user of none.
var seed = ghfake.SeedOptions{Accounts: 2, ReposPerAccount: 2, PullsPerRepo: 7, IssuesPerRepo: 6,
	CommentsPerIssue: 2, LabelsPerRepo: 4, MilestonesPerRepo: 3, ReviewsPerPull: 2, ReviewCommentsPerPull: 2}

// newReplica starts ghfake with seed, backfills every installation with
// its children through the jobs, and serves the read API.
func newReplica(t testing.TB, tweak func(*Deps)) *replica {
	t.Helper()
	return newReplicaOf(t, seed, tweak)
}

// newReplicaOf is newReplica with another seed.
func newReplicaOf(t testing.TB, seed ghfake.SeedOptions, tweak func(*Deps)) *replica {
	t.Helper()
	ctx := context.Background()
	env.Truncate(t)
	gh, err := ghfake.New(ghfake.Options{Seed: &seed})
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
	if _, _, err := gh.InstallApp(ctx, "privorg", nil); err != nil {
		t.Fatal(err)
	}
	r := &replica{t: t, gh: gh, inst: map[string]int64{}}
	for _, in := range gh.World().Installations() {
		r.inst[in.GetAccount().GetLogin()] = in.GetID()
	}
	r.backfill()

	ns := env.Namespace + ":" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")
	t.Cleanup(func() { _ = testutil.DeleteNamespace(env.Redis, ns) })
	var root http.Handler = http.NotFoundHandler()
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { root.ServeHTTP(w, req) }))
	t.Cleanup(r.srv.Close)
	deps := Deps{DB: env.DB, Redis: env.Redis, Namespace: ns, V3APIURL: gh.APIURL(), PublicURL: r.srv.URL,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	if tweak != nil {
		tweak(&deps)
	}
	r.api, err = New(deps)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r.api.Register(mux)
	root = mux
	return r
}

// backfill loads every installation with its children and waits, polling
// the scans, until none is open.
func (r *replica) backfill() {
	t := r.t
	t.Helper()
	ns := env.Namespace + ":jobs_" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_")
	t.Cleanup(func() { _ = testutil.DeleteNamespace(env.Redis, ns) })
	cc, err := githubapp.NewDefaultCachingClientCreator(r.gh.GitHubConfig(), githubapp.WithClientUserAgent("webhookdb-readapi-test"))
	if err != nil {
		t.Fatal(err)
	}
	deps := jobs.Deps{DB: env.DB, Redis: env.Redis, Namespace: ns, GitHub: cc, InstallationConcurrency: 8,
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	sched := jobs.NewScheduler(deps)
	pool := jobs.NewWorkerPool(deps, 8)
	pool.Start()
	defer pool.Stop()
	for _, id := range r.inst {
		if _, _, err := sched.Scan(context.Background(), jobs.ScanRequest{Kind: jobs.CollectionRepositories, InstallationID: id, Children: true, RequestedBy: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var open, failed int
		if err := env.DB.QueryRow(`SELECT count(*) FILTER (WHERE status IN ('queued','running')), count(*) FILTER (WHERE status = 'failed') FROM scan`).Scan(&open, &failed); err != nil {
			t.Fatal(err)
		}
		if failed > 0 {
			t.Fatalf("%d scans of the backfill failed", failed)
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backfill did not finish: %d scans open", open)
		}
		<-tick.C
	}
}

// token is an installation token of org's installation.
func (r *replica) token(org string) string { return r.gh.InstallationToken(r.inst[org]) }

// clients are go-github pointed at ghfake and at the read API, with the
// same token.
func (r *replica) clients(token string) (gh, ours *github.Client) {
	gh = github.NewClient(nil).WithAuthToken(token)
	gh.BaseURL, _ = url.Parse(r.gh.APIURL() + "/")
	ours = github.NewClient(nil).WithAuthToken(token)
	ours.BaseURL, _ = url.Parse(r.srv.URL + Prefix + "/")
	return gh, ours
}

// get reads path (after Prefix) from the read API with the token and
// extra headers (pairs), and returns the answer and its body.
func (r *replica) get(path, token string, headers ...string) (*http.Response, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+Prefix+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp, body
}

// sameObjects compares what go-github read from the read API (ours) with
// what it read from ghfake (want), field by field: every field the read
// API serves must equal GitHub's, and each of must (JSON keys, nested as
// "user.login") must be served. Both are go-github values, so the
// comparison is of what a client sees.
func sameObjects(t *testing.T, what string, want, ours any, must ...string) {
	t.Helper()
	w, o := asJSON(t, want), asJSON(t, ours)
	var diffs []string
	subset("", w, o, &diffs)
	for _, key := range must {
		if !hasPath(o, key) {
			diffs = append(diffs, key+": not served")
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 12 {
			diffs = append(diffs[:12], "...")
		}
		t.Errorf("%s differs from GitHub's:\n  %s", what, strings.Join(diffs, "\n  "))
	}
}

func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// subset records where ours has a value that want lacks or differs.
func subset(at string, want, ours any, diffs *[]string) {
	switch o := ours.(type) {
	case map[string]any:
		w, ok := want.(map[string]any)
		if !ok {
			*diffs = append(*diffs, at+": GitHub has no object here")
			return
		}
		for k, v := range o {
			subset(join(at, k), w[k], v, diffs)
		}
	case []any:
		w, ok := want.([]any)
		if !ok || len(w) != len(o) {
			*diffs = append(*diffs, at+": "+render(ours)+" where GitHub has "+render(want))
			return
		}
		for i := range o {
			subset(join(at, "["+itoa(i)+"]"), w[i], o[i], diffs)
		}
	default:
		if !reflect.DeepEqual(want, ours) {
			*diffs = append(*diffs, at+": "+render(ours)+" where GitHub has "+render(want))
		}
	}
}

func hasPath(v any, path string) bool {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func render(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

// samePaging compares the paging go-github read from both Link headers.
func samePaging(t *testing.T, what string, want, ours *github.Response) {
	t.Helper()
	w := [4]int{want.FirstPage, want.PrevPage, want.NextPage, want.LastPage}
	o := [4]int{ours.FirstPage, ours.PrevPage, ours.NextPage, ours.LastPage}
	if w != o {
		t.Errorf("%s: paging (first, prev, next, last) %v, GitHub's %v", what, o, w)
	}
}

// ghGet reads path (after /api/v3) from ghfake with the token, raw.
func (r *replica) ghGet(path, token string) []byte {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.gh.APIURL()+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		r.t.Fatalf("ghfake GET %s: %d %v %s", path, resp.StatusCode, err, body)
	}
	return body
}
