package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/ghfake"
)

// TestLoadRoutesMounted: NewHandler serves the load endpoints, /status and
// the login, wired to the configured GitHub.
func TestLoadRoutesMounted(t *testing.T) {
	gh, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 1, NoInstall: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	inst, _, err := gh.InstallApp(context.Background(), "org-0", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.GitHub = gh.GitHubConfig()
	cfg.Namespace = env.Namespace + ":routes_load"
	cfg.SessionKey = strings.Repeat("x", 32)
	cfg.PublicURL = "http://webhookdb.test"
	svc := &Services{Config: cfg, Logger: zerolog.Nop(), DB: env.DB, Redis: env.Redis, Metrics: prometheus.NewRegistry(), GitHub: newClientCreator(t, cfg)}
	handler, err := NewHandler(svc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tok := gh.InstallationToken(inst.GetID())
	tests := []struct {
		method, path, token string
		code                int
	}{
		{http.MethodPost, "/load/repos/org-0/repo-0/labels", tok, http.StatusAccepted},
		{http.MethodPost, "/load/repos/org-0/repo-0/labels", "", http.StatusUnauthorized},
		{http.MethodGet, "/load/repos/org-0/repo-0/labels", tok, http.StatusMethodNotAllowed},
		{http.MethodPost, "/load/repos/org-0/nope!", tok, http.StatusBadRequest},
		{http.MethodGet, "/status/999999", tok, http.StatusNotFound},
		{http.MethodGet, "/status/999999", "", http.StatusUnauthorized},
		{http.MethodGet, "/api/github/auth", "", http.StatusFound},
		{http.MethodGet, "/", "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %s", tc.method, tc.path), func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("got %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.code == http.StatusFound && !strings.HasPrefix(resp.Header.Get("Location"), gh.URL()+"/login/oauth/authorize") {
				t.Errorf("login redirects to %s", resp.Header.Get("Location"))
			}
		})
	}
}
