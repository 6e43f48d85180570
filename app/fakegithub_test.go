package app

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

// TestFakeGitHubCommand runs `webhookdb fake-github` in-process, reads the
// config it wrote with LoadConfig, and talks to the running simulator as
// the app that config describes.
func TestFakeGitHubCommand(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.yml")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := Run(ctx, []string{"fake-github", "--addr", "127.0.0.1:0", "--write-config", cfgPath,
			"--seed-accounts", "2", "--seed-repos", "3", "--seed-pulls", "4", "--seed-issues", "0", "--rate-limit", "100",
			"--database-url", "postgres://127.0.0.1:5432/x?sslmode=disable"}, Env{Stdout: outW, Stderr: outW})
		outW.Close()
		done <- code
	}()
	// The command prints "ready" after listening and writing the config.
	var said strings.Builder
	sc := bufio.NewScanner(outR)
	for sc.Scan() {
		said.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "ready") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	for _, want := range []string{"listening at http://127.0.0.1:", "(2 organizations)", "6 repositories", "24 pull requests, 0 issues", "wrote " + cfgPath} {
		if !strings.Contains(said.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, said.String())
		}
	}

	cfg, err := LoadConfig(LoadOptions{Path: cfgPath, PathGiven: true})
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	if err := cfg.RequireApp(); err != nil {
		t.Errorf("the written config is not enough to serve: %v", err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.DatabaseURL != "postgres://127.0.0.1:5432/x?sslmode=disable" || cfg.RedisURL != Defaults().RedisURL {
		t.Errorf("addr %q database_url %q redis_url %q", cfg.Addr, cfg.DatabaseURL, cfg.RedisURL)
	}
	tr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, cfg.GitHub.App.IntegrationID, []byte(cfg.GitHub.App.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	tr.BaseURL = strings.TrimSuffix(cfg.GitHub.V3APIURL, "/")
	gh, err := github.NewClient(&http.Client{Transport: tr}).WithEnterpriseURLs(cfg.GitHub.V3APIURL, cfg.GitHub.V3APIURL)
	if err != nil {
		t.Fatal(err)
	}
	ins, resp, err := gh.Apps.ListInstallations(ctx, nil)
	if err != nil {
		t.Fatalf("the app of the config cannot reach the simulator: %v", err)
	}
	if len(ins) != 2 || resp.Rate.Limit != 100 {
		t.Errorf("%d installations, rate limit %d; want 2 and 100", len(ins), resp.Rate.Limit)
	}

	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit code %d after cancel, want 0", code)
	}
}

func TestFakeGitHubCommandBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"fake-github", "--rate-limit", "0"}, "--rate-limit must be positive"},
		{[]string{"fake-github", "--latency", "soon"}, "invalid value"},
		{[]string{"fake-github", "--seed-pulls", "-3"}, "must not be negative"},
		{[]string{"fake-github", "--addr", "256.0.0.1:99999"}, "listen on"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr strings.Builder
			code := Run(context.Background(), tt.args, Env{Stderr: &stderr})
			if code == 0 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want failure saying %q", code, stderr.String(), tt.want)
			}
		})
	}
}
