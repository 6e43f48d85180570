package app

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/ghfake"
)

func TestGitHubRouteFamily(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/api/v3/repos/org-0/repo-0/pulls", "repos/pulls"},
		{"/repos/org-0/repo-0/pulls", "repos/pulls"},
		{"/api/v3/repos/org-0/repo-0/pulls/12", "repos/pulls"},
		{"/api/v3/repos/org-0/repo-0/pulls/12/files", "repos/pulls/files"},
		{"/api/v3/repos/org-0/repo-0/pulls/12/reviews", "repos/pulls/reviews"},
		{"/api/v3/repos/org-0/repo-0/pulls/comments", "repos/pulls/comments"},
		{"/api/v3/repos/org-0/repo-0/issues/comments", "repos/issues/comments"},
		{"/api/v3/repos/org-0/repo-0/issues/7/comments", "repos/issues/comments"},
		{"/api/v3/repos/org-0/repo-0", "repos"},
		// A repository named like a route word is a value all the same.
		{"/api/v3/repos/pulls/issues/labels", "repos/labels"},
		// Label names are chosen by users: never a label value.
		{"/api/v3/repos/o/r/labels/" + strings.Repeat("x", 300), "repos/labels"},
		{"/api/v3/repos/o/r/labels/good first issue", "repos/labels"},
		{"/api/v3/repos/o/r/milestones/3", "repos/milestones"},
		{"/api/v3/app/installations/123/access_tokens", "app/installations/access_tokens"},
		{"/api/v3/app/installations", "app/installations"},
		{"/api/v3/app/hook/deliveries", "app/hook/deliveries"},
		{"/api/v3/app/hook/deliveries/99/attempts", "app/hook/deliveries/attempts"},
		{"/api/v3/user/installations", "user/installations"},
		{"/api/v3/user/installations/5/repositories", "user/installations/repositories"},
		{"/api/v3/user", "user"},
		{"/api/v3/users/octocat", "users"},
		{"/api/v3/installation/repositories", "installation/repositories"},
		{"/api/v3/orgs/acme/members/bob", "orgs/members"},
		{"/api/v3/rate_limit", "rate_limit"},
		{"/api/v3/", "root"},
		{"/", "root"},
		{"/api/v3/no/such/route", "other"},
		{"/evil/" + strings.Repeat("a/", 100), "other"},
		// Deep paths stop at a few words.
		{"/api/v3/repos/o/r/pulls/pulls/pulls/pulls/pulls/pulls", "repos/pulls/pulls/pulls/pulls"},
	}
	for _, tt := range tests {
		if got := githubRouteFamily(tt.path); got != tt.want {
			t.Errorf("githubRouteFamily(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestGitHubRequestMetricsCountA200AndA304: the client creator's transport
// counts what GitHub (ghfake) answers, by route family and code, the 304
// of a conditional request apart, and the token request it took.
func TestGitHubRequestMetricsCountA200AndA304(t *testing.T) {
	gh, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	cfg := Defaults()
	cfg.GitHub = gh.GitHubConfig()
	reg := prometheus.NewRegistry()
	cc, err := NewClientCreator(cfg, newGitHubMetrics(reg, zerolog.Nop()).option())
	if err != nil {
		t.Fatal(err)
	}
	inst := gh.World().Installations()[0]
	client, err := cc.NewInstallationClient(inst.GetID())
	if err != nil {
		t.Fatal(err)
	}
	url := client.BaseURL.String() + "repos/" + inst.GetAccount().GetLogin() + "/repo-0"
	get := func(etag string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := client.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	first := get("")
	if first.StatusCode != http.StatusOK || first.Header.Get("ETag") == "" {
		t.Fatalf("GET %s: %d, ETag %q", url, first.StatusCode, first.Header.Get("ETag"))
	}
	if second := get(first.Header.Get("ETag")); second.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: %d, want 304", second.StatusCode)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	var observed uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetName() {
			case "webhookdb_github_requests_total":
				counts[labels["route"]+" "+labels["code"]] = m.GetCounter().GetValue()
			case "webhookdb_github_request_duration_seconds":
				if labels["route"] == "repos" {
					observed = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	want := map[string]float64{"repos 200": 1, "repos 304": 1, "app/installations/access_tokens 201": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("webhookdb_github_requests_total %s = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
	if observed != 2 {
		t.Errorf("repos request durations observed %d, want 2", observed)
	}
}
