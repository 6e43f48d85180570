package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"
)

// TestLoginNotConfigured: without github.oauth.client_id the login cannot
// work; the login route must say so instead of sending the browser to
// GitHub with an empty client_id (GitHub answers that with a 404 page).
func TestLoginNotConfigured(t *testing.T) {
	var cfg githubapp.Config
	cfg.WebURL = "http://127.0.0.1:1"
	cfg.V3APIURL = "http://127.0.0.1:1/api/v3/"
	u, err := New(Deps{DB: env.DB, GitHubConfig: cfg, PublicURL: "http://example.test",
		SessionKey: strings.Repeat("s", 32), Logger: zerolog.Nop(), CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	mux := http.NewServeMux()
	u.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := client.Get(srv.URL + AuthRoute)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "client_id") {
		t.Errorf("login route: %d %q (Location %q), want 503 naming github.oauth.client_id",
			resp.StatusCode, body, resp.Header.Get("Location"))
	}
	resp, err = client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `href="`+AuthRoute) {
		t.Errorf("home page offers a login that cannot work: %d %s", resp.StatusCode, body)
	}
}
