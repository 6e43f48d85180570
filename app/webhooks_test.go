package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/webhookdb/webhookdb/ghfake"
)

// TestWebhookRoutesMounted: NewHandler serves the GitHub App webhook at
// both routes, with the configured secret, storing into the database and
// queueing the backfill of a new installation with the real scheduler.
func TestWebhookRoutesMounted(t *testing.T) {
	gh, err := ghfake.New(ghfake.Options{Seed: &ghfake.SeedOptions{Accounts: 1, ReposPerAccount: 1, NoInstall: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	cfg := Defaults()
	cfg.GitHub = gh.GitHubConfig()
	cfg.Namespace = env.Namespace + ":webhooks"
	cfg.SessionKey = strings.Repeat("x", 32)
	cfg.PublicURL = "http://webhookdb.test"
	svc := &Services{Config: cfg, Logger: zerolog.Nop(), DB: env.DB, Redis: env.Redis, Metrics: prometheus.NewRegistry(), GitHub: newClientCreator(t, cfg)}
	handler, err := NewHandler(svc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()

	for _, route := range []string{"/replication", "/api/github/hook"} {
		gh.SetWebhookURL(srv.URL + route)
		d := gh.Ping(context.Background())
		if d.StatusCode != http.StatusOK || !strings.Contains(string(d.ResponseBody), `"pong"`) {
			t.Fatalf("ping at %s: %d %s %s", route, d.StatusCode, d.ResponseBody, d.Error)
		}
	}
	in, d, err := gh.InstallApp(context.Background(), "org-0", nil)
	if err != nil || !d.OK() {
		t.Fatalf("install: %v %d %s", err, d.StatusCode, d.ResponseBody)
	}
	var status string
	if err := env.DB.QueryRow(`SELECT status FROM webhook_delivery WHERE delivery_id = $1`, d.GUID).Scan(&status); err != nil || status != "processed" {
		t.Fatalf("installation delivery recorded %q (%v)", status, err)
	}
	var n int
	if err := env.DB.QueryRow(`SELECT count(*) FROM github_installation WHERE id = $1`, in.GetID()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("installation stored %d times (%v)", n, err)
	}
	// The backfill of every repository was queued by the real scheduler.
	if err := env.DB.QueryRow(`SELECT count(*) FROM scan WHERE installation_id = $1 AND kind = 'repositories'`, in.GetID()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d repository scans queued for the new installation (%v), want 1", n, err)
	}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/replication", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "ping")
	req.Header.Set("X-GitHub-Delivery", "unsigned")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned delivery answered %d, want 401", res.StatusCode)
	}
}
